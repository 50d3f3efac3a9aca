// The JIT (src/ebpf/vm/jit) against the reference interpreter (src/ebpf/vm/interpreter.ts),
// which the kernel itself checks in test/ebpf-vm-kernel.test.ts. Both engines run the same
// programs, each with its own copy of every map and its own (identically seeded) host and
// task; the returned r0, the fault (code, location.insn and message), every byte of every map
// afterwards and the trace_printk lines must be the same. The programs: seeded random ones
// (test/helpers/progen.ts), mutations of them and instruction soup (test/helpers/mutate.ts,
// faults of every kind), and every clang-built object of the repository (examples, the
// default policy, the verifier corpus) on random seccomp_data. The interpreter's own
// edge-case tests (test/ebpf-vm.test.ts) also run on both engines.
//
// The one documented difference: the JIT charges the instruction budget per basic block, so
// ERR_VM_INSN_LIMIT is reported at a block's first instruction, possibly before an instruction
// of that block the interpreter still executed (a store, or another fault). Such runs compare
// only the code, and not the maps.
//
// Reproduce with SECCOMP_EBPF_SEED=<seed> (printed as a diagnostic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createVm, type Vm, type VmOptions } from '../src/ebpf/vm/interpreter.js';
import { compileVm, isJitCompiled, jitSource, JIT_MAX_SLOTS } from '../src/ebpf/vm/jit/index.js';
import { basicBlocks } from '../src/ebpf/vm/jit/blocks.js';
import { MAX_BLOCK_INSNS } from '../src/ebpf/vm/jit/codegen.js';
import { decodeProgram } from '../src/ebpf/vm/decode.js';
import { simulatedHost, simulatedTask, type SimulatedHost, type SimulatedTask } from '../src/ebpf/vm/simulated.js';
import { createHelpers } from '../src/ebpf/helpers/index.js';
import { createMap, type LiveMap } from '../src/ebpf/maps/create.js';
import type { BpfMap, MapSpec } from '../src/ebpf/maps/types.js';
import type { HelperDef } from '../src/ebpf/vm/types.js';
import { parseBpfObject } from '../src/ebpf/elf/index.js';
import { setGlobal } from '../src/ebpf/globals.js';
import { SeccompEbpfError } from '../src/errors.js';
import type { Insn } from '../src/ebpf/insn.js';
import {
  BPF_ADD, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_RINGBUF, BPF_MUL, BPF_DIV, BPF_MOD, BPF_LSH, BPF_RSH,
  BPF_ARSH, BPF_JEQ,
} from '../src/abi/bpf.js';
import { I, IO_VALUE_SIZE, Rng, generateProgram, hexdump, interesting64, prog } from './helpers/progen.js';
import { instructionSoup, mutate, mutateBytes } from './helpers/mutate.js';

const SEED = process.env.SECCOMP_EBPF_SEED ?? 'seccomp-ebpf-jit-1';
type Engine = (insns: readonly Insn[], opts: VmOptions) => Vm;
/** The reference first; the JIT also in its chunked layout, forced by a tiny size budget. */
const ENGINES: readonly (readonly [string, Engine])[] = [
  ['interpreter', createVm],
  ['jit', compileVm],
  ['jit-chunked', (insns, opts) => compileVm(insns, opts, { chunkChars: 500 })],
];

// ---------------------------------------------------------------------------------------------
// Running a program on both engines
// ---------------------------------------------------------------------------------------------

interface Outcome {
  r0?: bigint;
  code?: string;
  insn?: number | undefined;
  message?: string;
}

function outcome(fn: () => bigint): Outcome {
  try {
    return { r0: fn() };
  } catch (e) {
    if (!(e instanceof SeccompEbpfError)) return { code: `foreign ${String(e)}` };
    return { code: e.code, insn: e.location?.insn, message: e.message };
  }
}

const show = (o: Outcome): string => o.code === undefined ? `r0=0x${o.r0!.toString(16)}` : `${o.code}@${o.insn}: ${o.message}`;

/** Everything one engine's run can change, to compare across engines. */
interface World {
  maps: LiveMap[];
  host: SimulatedHost;
  task: SimulatedTask;
}

function snapshot(w: World): string[] {
  const out = w.maps.map((m) => m.share().buffers.map((b) => Buffer.from(b).toString('hex')).join('|'));
  return [...out, ...w.host.lines];
}

/**
 * Why outcomes `a` (interpreter) and `b` (JIT) differ, or undefined when they agree. `blockOf`
 * gives the slots of the block starting at a slot (for the budget excuse).
 */
function difference(a: Outcome, b: Outcome, blockOf: (start: number) => readonly number[] | undefined): string | undefined {
  if (b.code === 'ERR_VM_INSN_LIMIT') {
    if (a.code === 'ERR_VM_INSN_LIMIT') return undefined;
    // Documented: the block's budget is charged at its entry, before the interpreter's fault.
    const block = b.insn === undefined ? undefined : blockOf(b.insn);
    if (a.code !== undefined && a.insn !== undefined && block?.includes(a.insn)) return undefined;
    return `interpreter ${show(a)}; jit ${show(b)}`;
  }
  if (a.code !== b.code || a.insn !== b.insn || a.message !== b.message || a.r0 !== b.r0) return `interpreter ${show(a)}; jit ${show(b)}`;
  return undefined;
}

function blockIndex(insns: readonly Insn[]): (start: number) => readonly number[] | undefined {
  const blocks = new Map(basicBlocks(decodeProgram(insns), MAX_BLOCK_INSNS).map((b) => [b.start, b.insns]));
  return (s) => blocks.get(s);
}

interface Compared {
  /** Mismatch description, or undefined. */
  problem: string | undefined;
  /** The interpreter's outcomes, one per run. */
  outcomes: Outcome[];
}

/**
 * Builds the program on both engines (creation errors must match too) and runs it `runs`
 * times on each, with worlds from `world()` and contexts from `ctxs`.
 */
function compare(insns: readonly Insn[], world: () => World, ctxs: readonly Uint8Array[], maxInsns?: number): Compared {
  const worlds: World[] = [];
  const results: Outcome[][] = [];
  const errors: (Outcome | undefined)[] = [];
  for (const [, make] of ENGINES) {
    const w = world();
    worlds.push(w);
    let vm: Vm | undefined;
    const created = outcome(() => {
      vm = make(insns, { maps: w.maps, helpers: HELPERS, host: w.host, ...(maxInsns ? { maxInsns } : {}) });
      return 0n;
    });
    errors.push(created.code === undefined ? undefined : created);
    results.push(vm ? ctxs.map((ctx) => outcome(() => vm!.run(ctx, w.task))) : []);
  }
  const ea = errors[0];
  if (errors.some((e) => e !== undefined)) {
    for (let e = 1; e < ENGINES.length; e++) {
      const eb = errors[e];
      const same = ea && eb && ea.code === eb.code && ea.insn === eb.insn && ea.message === eb.message;
      if (!same) return { problem: `creation: interpreter ${ea ? show(ea) : 'ok'}; ${ENGINES[e]![0]} ${eb ? show(eb) : 'ok'}`, outcomes: [] };
    }
    return { problem: undefined, outcomes: [] };
  }
  const blockOf = blockIndex(insns);
  for (let e = 1; e < ENGINES.length; e++) {
    let budgetHit = false;
    for (let k = 0; k < ctxs.length; k++) {
      const d = difference(results[0]![k]!, results[e]![k]!, blockOf);
      if (d !== undefined) return { problem: `${ENGINES[e]![0]}, run ${k}: ${d}`, outcomes: results[0]! };
      if (results[e]![k]!.code === 'ERR_VM_INSN_LIMIT') budgetHit = true;
    }
    if (!budgetHit) {
      const sa = snapshot(worlds[0]!), sb = snapshot(worlds[e]!);
      const i = sa.findIndex((x, j) => x !== sb[j]);
      if (i >= 0) return { problem: `${ENGINES[e]![0]}: state differs after the runs: ${i < worlds[0]!.maps.length ? `map ${i}` : 'trace_printk lines'}`, outcomes: results[0]! };
    }
  }
  return { problem: undefined, outcomes: results[0]! };
}

const HELPERS = createHelpers();

/** struct seccomp_data with random but plausible fields; args may point into the task's memory. */
const USER_ADDR = 0x7ffd_0000_1000n;
const NRS = [0, 1, 2, 3, 9, 16, 39, 41, 42, 56, 57, 59, 101, 157, 231, 257, 310, 311, 321, 322, 435, -1];
function randomCtx(rng: Rng): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  const nr = rng.chance(0.8) ? rng.pick(NRS) : rng.chance(0.5) ? rng.int(512) : rng.u32() | 0;
  dv.setInt32(0, nr, true);
  dv.setUint32(4, rng.chance(0.9) ? 0xc000003e : rng.pick([0x40000003, 0xc00000b7, rng.u32()]), true);
  dv.setBigUint64(8, 0x7f00_1234_5678n + BigInt(rng.int(4096)), true);
  for (let i = 0; i < 6; i++) {
    const k = rng.int(6);
    const v = k === 0 ? USER_ADDR + BigInt(rng.int(64)) : k === 1 ? 999n : k === 2 ? BigInt(rng.int(16)) : interesting64(rng);
    dv.setBigUint64(16 + 8 * i, v, true);
  }
  return b;
}

function userMemory(rng: Rng): Uint8Array {
  const bytes = new Uint8Array(256);
  const text = rng.pick(['/etc/passwd', '/tmp/x', '/usr/lib/libc.so.6', 'AAAA', '']);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i < text.length ? text.charCodeAt(i) : rng.chance(0.3) ? 0 : 32 + rng.int(95);
  return bytes;
}

function makeWorld(specs: readonly MapSpec[], seed: number, mem: Uint8Array): World {
  return {
    maps: specs.map((s) => createMap(s, { possibleCpus: 2 })),
    host: simulatedHost({ seed, possibleCpus: 2 }),
    task: simulatedTask({ tid: 4242, uid: 1000, gid: 1000, comm: 'jit-test', memory: [{ addr: USER_ADDR, bytes: mem }] }),
  };
}

const ioSpec = (input: Uint8Array): MapSpec => ({ name: 'io', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: IO_VALUE_SIZE, maxEntries: 1, flags: 0, initialValue: input });
const EXTRA_MAPS: MapSpec[] = [
  { name: 'h', type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: 16, flags: 0 },
  { name: 'rb', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 },
];

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

test('JIT matches the interpreter on generated programs', (t) => {
  const count = Number(process.env.SECCOMP_EBPF_JIT_PROGRAMS ?? 1500);
  t.diagnostic(`seed ${SEED}; ${count} programs, each run twice (the second run sees the first one's map writes)`);
  const ctx = new Uint8Array(64);
  const failures: string[] = [];
  let compiled = 0;
  for (let i = 0; i < count; i++) {
    const rng = new Rng(`${SEED}/gen/${i}`);
    const g = generateProgram(rng, { subprograms: i % 4 === 3, bodyLen: 16 + rng.int(48), v4: i % 8 !== 0 });
    const specs = [ioSpec(g.input)];
    const { problem, outcomes } = compare(g.insns, () => makeWorld(specs, 1, new Uint8Array(0)), [ctx, ctx]);
    if (problem !== undefined && failures.length < 3) failures.push(`program ${SEED}/gen/${i}: ${problem}\n${hexdump(g.insns)}`);
    else if (problem !== undefined) failures.push(`program ${SEED}/gen/${i}`);
    if (outcomes.length > 0 && outcomes.every((o) => o.code === undefined)) compiled++;
  }
  assert.deepEqual(failures, []);
  assert.equal(compiled, count, 'generated programs are verifier-friendly: none may fault');
});

test('JIT matches the interpreter on mutated programs and instruction soup (faults included)', (t) => {
  const count = Number(process.env.SECCOMP_EBPF_JIT_MUTANTS ?? 2000);
  const failures: string[] = [];
  const codes = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const rng = new Rng(`${SEED}/mut/${i}`);
    let insns: Insn[];
    let input: Uint8Array = new Uint8Array(IO_VALUE_SIZE);
    const k = i % 5;
    if (k === 4) insns = instructionSoup(rng, 4 + rng.int(40));
    else {
      const g = generateProgram(rng, { subprograms: rng.chance(0.3), bodyLen: 8 + rng.int(24) });
      input = g.input;
      insns = k === 3 ? mutateBytes(rng, g.insns).insns : mutate(rng, g.insns, { count: 1 + rng.int(3) }).insns;
    }
    const specs = [ioSpec(input), ...EXTRA_MAPS];
    const mem = userMemory(rng);
    const ctxs = [randomCtx(rng), randomCtx(rng), randomCtx(rng)];
    const { problem, outcomes } = compare(insns, () => makeWorld(specs, 7, mem), ctxs, 3000);
    for (const o of outcomes) if (o.code !== undefined) codes.set(o.code, (codes.get(o.code) ?? 0) + 1);
    if (problem !== undefined && failures.length < 3) failures.push(`program ${SEED}/mut/${i}: ${problem}\n${hexdump(insns)}`);
    else if (problem !== undefined) failures.push(`program ${SEED}/mut/${i}`);
  }
  t.diagnostic(`faults seen: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
  assert.deepEqual(failures, []);
  for (const c of ['ERR_VM_MEMORY', 'ERR_VM_INSN_LIMIT', 'ERR_VM_BAD_INSN', 'ERR_VM_UNKNOWN_HELPER', 'ERR_VM_CALL_DEPTH', 'ERR_VM_BAD_MAP']) {
    assert.ok(codes.has(c), `no program faulted with ${c}: the comparison does not cover it`);
  }
});

test('faults: same code and instruction on both engines', async (t) => {
  const record = new Uint8Array(16);
  const helpers = new Map<number, HelperDef>([
    [1, { id: 1, name: 'reserve', fn: (env) => env.mem.pointerTo(record, true) }],
    [2, { id: 2, name: 'release', fn: (env, p) => { env.mem.release(p); return 0n; } }],
    [3, { id: 3, name: 'throws', fn: () => { throw new TypeError('boom'); } }],
  ]);
  const mapSpec: MapSpec = { name: 'ro', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, readOnly: true };
  const hashSpec: MapSpec = { name: 'h', type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 };
  const chain = (depth: number): Insn[] => [I.mov64K(0, 0), ...Array.from({ length: depth }, () => [I.callLocal(1), I.exit()]).flat(), I.mov64K(0, 7), I.exit()];
  const cases: [string, Insn[], string, number?][] = [
    ['stack out of bounds', prog(I.ldx('dw', 0, 10, -520), I.exit()), 'ERR_VM_MEMORY'],
    ['ctx past the end', prog(I.ldx('w', 0, 1, 62), I.exit()), 'ERR_VM_MEMORY'],
    ['ctx write', prog(I.st('b', 1, 0, 1), I.exit()), 'ERR_VM_MEMORY'],
    ['read-only map value', prog(I.ldMapValue(1, 0, 0), I.st('b', 1, 0, 1), I.exit()), 'ERR_VM_MEMORY'],
    ['misaligned atomic', prog(I.mov64K(2, 1), I.atomic('dw', BPF_ADD, 10, 2, -12), I.exit()), 'ERR_VM_MEMORY'],
    ['atomic on ctx', prog(I.mov64K(2, 1), I.atomic('w', BPF_ADD, 1, 2, 0), I.exit()), 'ERR_VM_MEMORY'],
    ['poisoned pointer', prog(I.ldx('b', 0, 3, 0), I.exit()), 'ERR_VM_MEMORY'],
    ['use after release', prog(I.call(1), I.mov64X(6, 0), I.mov64X(1, 0), I.call(2), I.ldx('b', 0, 6, 0), I.exit()), 'ERR_VM_MEMORY'],
    ['unknown helper', prog(I.mov64K(0, 0), I.call(99), I.exit()), 'ERR_VM_UNKNOWN_HELPER'],
    ['helper throws', prog(I.call(3), I.exit()), 'ERR_VM_HELPER'],
    ['call depth', chain(8), 'ERR_VM_CALL_DEPTH'],
    ['budget', prog(I.mov64K(0, 0), I.alu64K(BPF_ADD, 0, 1), I.ja(-2)), 'ERR_VM_INSN_LIMIT'],
    ['bad map index', prog(I.ldMapFd(1, 5), I.exit()), 'ERR_VM_BAD_MAP'],
    ['map value of a hash map', prog(I.ldMapValue(1, 1, 0), I.exit()), 'ERR_VM_BAD_MAP'],
    ['map value offset beyond the value', prog(I.ldMapValue(1, 0, 8), I.exit()), 'ERR_VM_BAD_MAP'],
    ['fell off the end', prog(I.mov64K(0, 0), I.jK(BPF_JEQ, 0, 0, 0)), 'ERR_VM_BAD_INSN'],
    ['returned past the end', prog(I.mov64K(0, 0), I.ja(1), I.exit(), I.callLocal(-2)), 'ERR_VM_BAD_INSN'],
  ];
  for (const [name, insns, code] of cases) {
    await t.test(name, () => {
      const got = ENGINES.map(([, make]) => outcome(() => make(insns, {
        maps: [createMap(mapSpec, { possibleCpus: 1 }), createMap(hashSpec, { possibleCpus: 1 })], helpers, host: simulatedHost(), maxInsns: 1000,
      }).run(new Uint8Array(64), simulatedTask())));
      for (const o of got) assert.equal(o.code, code, show(o));
      if (code !== 'ERR_VM_INSN_LIMIT') {
        for (const o of got) assert.deepEqual([o.insn, o.message], [got[0]!.insn, got[0]!.message]);
      }
    });
  }
});

/** Every clang-built object in the repository. */
function objects(): string[] {
  const dirs = ['examples', 'policies', 'test/fixtures/verifier', 'test/fixtures/elf'];
  return dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.bpf.o')).sort().map((f) => join(d, f)));
}

const GLOBALS: Record<string, Record<string, bigint>> = {
  'examples/getpid-half.bpf.o': { HALF: 40n },
  'examples/fault-inject.bpf.o': { NTH: 3n },
  'examples/phase.bpf.o': { TRIGGER: 39n },
};

test('clang-built objects on random seccomp_data: same verdicts and map state', (t) => {
  const runs = Number(process.env.SECCOMP_EBPF_JIT_RUNS ?? 200);
  const failures: string[] = [];
  let programs = 0;
  let notRun = 0;
  for (const file of objects()) {
    const spec = parseBpfObject(new Uint8Array(readFileSync(file)), { file });
    for (const [name, v] of Object.entries(GLOBALS[file] ?? {})) setGlobal(spec, name, v);
    try {
      for (const s of spec.maps) createMap(s, { possibleCpus: 2 });
    } catch {
      notRun++; // a map type the runtime does not implement
      continue;
    }
    for (const p of spec.programs) {
      programs++;
      const rng = new Rng(`${SEED}/${file}/${p.name}`);
      const mem = userMemory(rng);
      const ctxs = Array.from({ length: runs }, () => randomCtx(rng));
      const world = (): World => {
        const w = makeWorld(spec.maps, 11, mem);
        fillAllowed(w.maps, spec.maps);
        return w;
      };
      const { problem } = compare(p.insns, world, ctxs, 20_000); // bad-spin-wait spins until the budget
      if (problem !== undefined) failures.push(`${file} ${p.name}: ${problem}`);
    }
  }
  t.diagnostic(`${programs} programs x ${runs} runs; ${notRun} objects with unsupported maps not run`);
  assert.ok(programs >= 60, `only ${programs} programs found`);
  assert.deepEqual(failures, []);
});

/** phase.bpf.o's `allowed` map (and any map named so): a few syscalls allowed. */
function fillAllowed(maps: BpfMap[], specs: readonly MapSpec[]): void {
  specs.forEach((s, i) => {
    if (s.name !== 'allowed') return;
    for (const nr of [0, 1, 3, 39, 60, 231]) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, nr, true);
      const value = new Uint8Array(s.valueSize);
      value[0] = 1;
      maps[i]!.update(key, value, 0);
    }
  });
}

test('run32 returns the low half of r0 and reuses the ctx DataView', () => {
  const map = createMap({ name: '.bss', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 }, { possibleCpus: 1 });
  // r0 = nr + 0xabcd_0000_0000 + old counter; the counter (map value) counts runs.
  const insns = prog(I.ldx('w', 0, 1, 0), I.lddw(2, 0xabcd_0000_0000n), I.alu64X(BPF_ADD, 0, 2), I.ldMapValue(3, 0, 0), I.mov64K(4, 1),
    I.atomic('dw', BPF_ADD | 1, 3, 4, 0), I.alu64X(BPF_ADD, 0, 4), I.exit());
  const vm = compileVm(insns, { maps: [map], helpers: new Map(), host: simulatedHost() });
  assert.ok(isJitCompiled(vm));
  const notif = new Uint8Array(80); // like the supervisor's reused notification buffer
  const ctx = notif.subarray(16, 80);
  const task = simulatedTask();
  const Real = globalThis.DataView;
  new Real(notif.buffer).setInt32(16, 1000, true);
  const got: number[] = [vm.run32(ctx, task)]; // the first run makes the ctx and map value regions
  let created = 0;
  // Counts constructions; the subclass is what Memory gets when it calls `new DataView`.
  const Counting = function (this: unknown, buffer: ArrayBufferLike, byteOffset?: number, byteLength?: number): DataView {
    created++;
    return new Real(buffer, byteOffset, byteLength);
  };
  globalThis.DataView = Counting as unknown as DataViewConstructor;
  try {
    for (let k = 1; k < 50; k++) {
      new Real(notif.buffer).setInt32(16, 1000 + k, true);
      got.push(vm.run32(ctx, task));
    }
  } finally {
    globalThis.DataView = Real;
  }
  assert.deepEqual(got, Array.from({ length: 50 }, (_, k) => 1000 + 2 * k));
  assert.equal(created, 0, `${created} DataViews created for 49 more runs on the same ctx`);
  assert.equal(vm.run(ctx, task), 0xabcd_0000_0000n + 1049n + 50n);
  assert.equal(vm.run32(new Uint8Array(64), task), 51);
});

test('stacks read as zero on every entry, whoever wrote them last', async (t) => {
  // Each program first reads (into r0) the slot [r10-8] of the frame it checks, then writes it
  // somehow; every run must still see zeros, as in the interpreter, which zeroes each stack on
  // entry (the JIT zeroes only stacks that may have been written: this checks every writer).
  const scribble = new Map<number, HelperDef>([[1, { id: 1, name: 'scribble', fn: (env, p) => { env.mem.slice(p, 8, true).fill(0xab); return 0n; } }]]);
  const callee = (...body: Insn[]): Insn[] => [I.callLocal(1), I.exit(), I.ldx('dw', 0, 10, -8), ...body, I.exit()];
  const cases: [string, Insn[]][] = [
    ['store through r10', prog(I.ldx('dw', 0, 10, -8), I.st('dw', 10, -8, -1), I.exit())],
    ['store through a copy of r10', prog(I.ldx('dw', 0, 10, -8), I.mov64X(2, 10), I.st('w', 2, -4, -1), I.exit())],
    ['store at a variable offset', prog(I.ldx('dw', 0, 10, -8), I.mov64X(2, 10), I.alu64K(BPF_ADD, 2, -200), I.mov64K(3, 193),
      I.alu64X(BPF_ADD, 2, 3), I.stx('b', 2, 3, 0), I.exit())],
    ['atomic', prog(I.ldx('dw', 0, 10, -8), I.mov64K(2, 5), I.atomic('dw', BPF_ADD, 10, 2, -8), I.exit())],
    ['helper writing through a pointer', prog(I.ldx('dw', 0, 10, -8), I.mov64X(6, 0), I.mov64X(1, 10), I.alu64K(BPF_ADD, 1, -8),
      I.call(1), I.mov64X(0, 6), I.exit())],
    ['callee writing its own stack', callee(I.st('dw', 10, -8, 7))],
    ['callee writing its caller stack', prog(I.ldx('dw', 0, 10, -8), I.mov64X(6, 0), I.mov64X(1, 10), I.callLocal(2),
      I.mov64X(0, 6), I.exit(), I.st('dw', 1, -8, 9), I.exit())],
    ['callee storing through a copy of r10', callee(I.mov64X(3, 10), I.stx('dw', 3, 10, -8))],
  ];
  for (const [name, insns] of cases) {
    await t.test(name, () => {
      for (const [label, make] of ENGINES) {
        const vm = make(insns, { maps: [], helpers: scribble, host: simulatedHost() });
        const got = [0, 1, 2].map(() => vm.run(new Uint8Array(64), simulatedTask()));
        assert.deepEqual(got, [0n, 0n, 0n], label);
      }
    });
  }
});

test('context regions of any length, changing between runs', () => {
  // The JIT reads the context inline; bounds come from this run's ctx. Offsets 0..71 of sizes
  // 1..8 on contexts of 0..72 bytes, the same VM for all, so each run changes the region.
  const ctxs = [64, 8, 0, 72, 4, 64].map((n) => Uint8Array.from({ length: n }, (_, k) => 0x10 + k));
  for (const size of ['b', 'h', 'w', 'dw'] as const) {
    for (const off of [0, 1, 3, 4, 6, 7, 56, 60, 63, 64, 68, 71]) {
      const insns = prog(I.ldx(size, 0, 1, off), I.exit());
      const vms = ENGINES.map(([, make]) => make(insns, { maps: [], helpers: new Map(), host: simulatedHost() }));
      for (const ctx of ctxs) {
        const [a, ...others] = vms.map((vm) => outcome(() => vm.run(ctx, simulatedTask())));
        for (const b of others) assert.deepEqual(b, a, `${size} at ${off} of ${ctx.length} bytes`);
      }
    }
  }
});

test('the generated code embeds numbers only', () => {
  // Every string literal of the generated source must be one of the code generator's own.
  const allowed = new Set(["'use strict'", "'read'", "'write'", "'atomic'"]);
  const rng = new Rng(`${SEED}/source`);
  for (let i = 0; i < 50; i++) {
    const g = generateProgram(rng, { subprograms: i % 2 === 0 });
    const src = jitSource(compileVm(g.insns, { maps: [createMap(ioSpec(g.input), { possibleCpus: 1 })], helpers: HELPERS, host: simulatedHost() }));
    assert.ok(src !== undefined);
    for (const lit of src.match(/'[^']*'|"[^"]*"/g) ?? []) assert.ok(allowed.has(lit), `unexpected literal ${lit}`);
    assert.deepEqual(src.match(/`[^`]*`/g), ['`jit: no block at ${pc}`']);
  }
});

test('arithmetic the JIT does without BigInt, on random operands', () => {
  // Straight-line ops on random 64-bit values, each result folded into r0 (multiplied, so
  // order matters); both engines must agree. Complements the generated programs with denser
  // coverage of MUL/DIV/MOD and variable shifts.
  const rng = new Rng(`${SEED}/arith`);
  const ops = [BPF_ADD, BPF_MUL, BPF_DIV, BPF_MOD, BPF_LSH, BPF_RSH, BPF_ARSH];
  for (let n = 0; n < 300; n++) {
    const body: Insn[] = [];
    for (let k = 0; k < 20; k++) {
      const op = rng.pick(ops);
      const signed = (op === BPF_DIV || op === BPF_MOD) && rng.chance(0.5) ? 1 : 0;
      body.push(...I.lddw(1, interesting64(rng)), ...I.lddw(2, interesting64(rng)));
      body.push(rng.chance(0.5) ? I.alu64X(op, 1, 2, signed) : I.alu32X(op, 1, 2, signed));
      body.push(I.alu64X(BPF_MUL, 0, 1), I.alu64K(BPF_ADD, 0, 7));
    }
    const insns = prog(I.mov64K(0, 1), ...body, I.exit());
    const [a, ...others] = ENGINES.map(([, make]) => make(insns, { maps: [], helpers: new Map(), host: simulatedHost() }).run(new Uint8Array(64), simulatedTask()));
    for (const b of others) assert.equal(b, a, hexdump(insns));
  }
});

test('very long programs fall back to the interpreter', () => {
  const insns = prog(...Array.from({ length: JIT_MAX_SLOTS }, (_, k) => I.alu64K(BPF_ADD, 0, k & 1)), I.exit());
  insns[0] = I.mov64K(0, 0);
  const vm = compileVm(insns, { maps: [], helpers: new Map(), host: simulatedHost() });
  assert.equal(isJitCompiled(vm), false);
  let odd = 0;
  for (let k = 1; k < JIT_MAX_SLOTS; k++) odd += k & 1;
  assert.equal(vm.run(new Uint8Array(64), simulatedTask()), BigInt(odd));
  assert.equal(vm.run32(new Uint8Array(64), simulatedTask()), odd);
  assert.equal(isJitCompiled(compileVm(insns.slice(JIT_MAX_SLOTS - 100), { maps: [], helpers: new Map(), host: simulatedHost() })), true);
});
