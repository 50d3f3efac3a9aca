/**
 * @module bench/vm
 * The cost of one filter run in the VM, without the kernel round trip: the reference
 * interpreter (src/ebpf/vm/interpreter.ts, BigInt registers) against the JIT
 * (src/ebpf/vm/jit, u32 halves), on the programs the supervisor runs most:
 *
 *   getpid-half   examples/getpid-half.bpf.o, HALF huge (every getpid allowed: the
 *                 benchmark's hot path is the atomic counter), on getpid and on read
 *   exec-once     examples/exec-once.bpf.o on getpid (the common path) and on execve
 *   default       policies/default.bpf.o on getpid, openat, ptrace and execve
 *
 * Each engine has its own maps. The context is a 64-byte subarray at offset 16 of a reused
 * 80-byte buffer, as the supervisor's notification buffer. Timing: every (case, engine) pair
 * runs a batch of about BATCH_MS per round, rounds interleave the pairs in a shuffled order,
 * and each figure is the median over rounds; the ratio is interpreter / JIT run32, computed
 * per round and then the median taken (so that both sides of a ratio saw the same machine).
 *
 *   node --import tsx bench/vm.ts [--rounds N] [--json]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseBpfObject, findProgram } from '../src/ebpf/elf/index.js';
import { setGlobal } from '../src/ebpf/globals.js';
import { createMap } from '../src/ebpf/maps/create.js';
import { createHelpers } from '../src/ebpf/helpers/index.js';
import { createVm, type Vm } from '../src/ebpf/vm/interpreter.js';
import { compileVm, isJitCompiled } from '../src/ebpf/vm/jit/index.js';
import { simulatedHost, simulatedTask } from '../src/ebpf/vm/simulated.js';
import type { TaskContext } from '../src/ebpf/vm/types.js';
import { ROOT } from './lib/programs.js';
import { fmtRatio, median, roundOrder, table } from './lib/stats.js';

const BATCH_MS = 20;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const NR = { read: 0, getpid: 39, execve: 59, ptrace: 101, openat: 257 } as const;

interface Case {
  name: string;
  object: string;
  globals?: Record<string, bigint>;
  nr: number;
}

const CASES: Case[] = [
  { name: 'getpid-half / getpid', object: 'examples/getpid-half.bpf.o', globals: { HALF: 1n << 62n }, nr: NR.getpid },
  { name: 'getpid-half / read', object: 'examples/getpid-half.bpf.o', globals: { HALF: 1n << 62n }, nr: NR.read },
  { name: 'exec-once / getpid', object: 'examples/exec-once.bpf.o', nr: NR.getpid },
  { name: 'exec-once / execve', object: 'examples/exec-once.bpf.o', nr: NR.execve },
  { name: 'default / getpid', object: 'policies/default.bpf.o', nr: NR.getpid },
  { name: 'default / openat', object: 'policies/default.bpf.o', nr: NR.openat },
  { name: 'default / ptrace', object: 'policies/default.bpf.o', nr: NR.ptrace },
  { name: 'default / execve', object: 'policies/default.bpf.o', nr: NR.execve },
];

type EngineId = 'interpreter' | 'jit' | 'jit-run64';

export interface VmBenchRow {
  name: string;
  /** Median ns per run: interpreter (run32), JIT (run32), JIT (run, BigInt r0). */
  interpreterNs: number;
  jitNs: number;
  jitRun64Ns: number;
  /** Median over rounds of interpreter / JIT run32. */
  ratio: number;
  /** The seccomp action both engines return in the steady state (checked equal). */
  action: number;
}

export interface VmBenchResult {
  rounds: number;
  rows: VmBenchRow[];
}

interface Pair {
  c: number;
  engine: EngineId;
  run: () => number;
  /** Runs per batch (calibrated). */
  n: number;
  ns: number[];
}

function makeVm(c: Case, engine: 'interpreter' | 'jit'): Vm {
  const spec = parseBpfObject(new Uint8Array(readFileSync(join(ROOT, c.object))), { file: c.object });
  for (const [name, v] of Object.entries(c.globals ?? {})) setGlobal(spec, name, v);
  const maps = spec.maps.map((m) => createMap(m, { possibleCpus: 1 }));
  const make = engine === 'jit' ? compileVm : createVm;
  const vm = make(findProgram(spec).insns, { maps, helpers: createHelpers(), host: simulatedHost() });
  if (engine === 'jit' && !isJitCompiled(vm)) throw new Error(`${c.object}: compileVm fell back to the interpreter`);
  return vm;
}

function notification(nr: number): Uint8Array {
  const buf = new Uint8Array(80); // struct seccomp_notif: id, pid, flags, then seccomp_data at 16
  const dv = new DataView(buf.buffer);
  dv.setInt32(16, nr, true);
  dv.setUint32(20, AUDIT_ARCH_X86_64, true);
  dv.setBigUint64(24, 0x7f00_0000_1234n, true);
  return buf.subarray(16, 80);
}

/** Times `n` calls of `run`, in ns per call. */
function batch(run: () => number, n: number): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink ^= run();
  const dt = Number(process.hrtime.bigint() - t0);
  if (sink === 0.5) throw new Error('unreachable'); // keeps the result alive
  return dt / n;
}

export function benchVm(rounds: number, log: (s: string) => void = () => {}): VmBenchResult {
  const task: TaskContext = simulatedTask();
  const pairs: Pair[] = [];
  const actions: number[] = [];
  CASES.forEach((c, ci) => {
    const ctx = notification(c.nr);
    const interp = makeVm(c, 'interpreter');
    const jit = makeVm(c, 'jit');
    const jit64 = makeVm(c, 'jit');
    // Twice: the second run shows the steady state (exec-once denies every exec after the first).
    for (let k = 0; k < 2; k++) {
      const a = interp.run32(ctx, task), b = jit.run32(ctx, task), b64 = Number(BigInt.asUintN(32, jit64.run(ctx, task)));
      if (a !== b || a !== b64) throw new Error(`${c.name}: interpreter action 0x${a.toString(16)}, JIT 0x${b.toString(16)} / 0x${b64.toString(16)}`);
      if (k === 1) actions.push(a);
    }
    pairs.push({ c: ci, engine: 'interpreter', run: () => interp.run32(ctx, task), n: 0, ns: [] });
    pairs.push({ c: ci, engine: 'jit', run: () => jit.run32(ctx, task), n: 0, ns: [] });
    pairs.push({ c: ci, engine: 'jit-run64', run: () => Number(jit64.run(ctx, task) & 0xffn), n: 0, ns: [] });
  });
  // Warm up (lets the JS engine optimize every path) and calibrate the batch sizes.
  for (const p of pairs) {
    batch(p.run, 20_000);
    const ns = batch(p.run, 20_000);
    p.n = Math.max(1000, Math.round((BATCH_MS * 1e6) / ns));
  }
  log(`vm bench: ${pairs.length} series, ${rounds} rounds of ~${BATCH_MS} ms batches`);
  const ratios: number[][] = CASES.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const perRound = new Map<string, number>();
    for (const k of roundOrder(pairs.length, r)) {
      const p = pairs[k]!;
      const ns = batch(p.run, p.n);
      p.ns.push(ns);
      perRound.set(`${p.c}/${p.engine}`, ns);
    }
    CASES.forEach((_, ci) => ratios[ci]!.push(perRound.get(`${ci}/interpreter`)! / perRound.get(`${ci}/jit`)!));
  }
  const med = (ci: number, e: EngineId): number => median(pairs.find((p) => p.c === ci && p.engine === e)!.ns);
  return {
    rounds,
    rows: CASES.map((c, ci) => ({
      name: c.name,
      interpreterNs: med(ci, 'interpreter'),
      jitNs: med(ci, 'jit'),
      jitRun64Ns: med(ci, 'jit-run64'),
      ratio: median(ratios[ci]!),
      action: actions[ci]!,
    })),
  };
}

export function formatVmBench(res: VmBenchResult): string {
  const rows = [['program / syscall', 'action', 'interpreter ns', 'JIT run32 ns', 'JIT run ns', 'interp / JIT']];
  for (const r of res.rows) {
    rows.push([r.name, `0x${r.action.toString(16).padStart(8, '0')}`, r.interpreterNs.toFixed(0), r.jitNs.toFixed(1), r.jitRun64Ns.toFixed(1), fmtRatio(r.ratio)]);
  }
  return `${table(rows)}\n(median of ${res.rounds} interleaved rounds; ratio: median of the per-round ratios)`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--rounds');
  const rounds = i >= 0 ? Number(args[i + 1]) : 9;
  if (!Number.isInteger(rounds) || rounds <= 0) throw new Error('usage: node --import tsx bench/vm.ts [--rounds N] [--json]');
  const res = benchVm(rounds, (s) => process.stderr.write(`${s}\n`));
  process.stdout.write(args.includes('--json') ? `${JSON.stringify(res, null, 2)}\n` : `${formatVmBench(res)}\n`);
}
