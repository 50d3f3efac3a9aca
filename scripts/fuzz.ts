/**
 * @module scripts/fuzz
 * Fuzzing of the verifier and the interpreter. Each program — random instruction soup, a
 * generated program (test/helpers/progen.ts), a mutation of a generated or real (corpus,
 * examples) program, or a byte-level mutation — goes through loadProgram for a random loader
 * (root, unprivileged, root under a denying LSM hook); an accepted one then runs in the
 * interpreter on random seccomp_data contexts with its maps and granted helpers. Findings:
 *
 *   crash  loadProgram threw something other than a SeccompEbpfError
 *   slow   loadProgram took longer than the per-program budget (a hang in the long run: the
 *          worker running it is stopped by a watchdog and the program reported)
 *   fault  a verified program faulted at run time (a verifier bug), or the VM refused it
 *
 * Usage: node --import tsx scripts/fuzz.ts [--count N] [--seed S] [--workers W] [--budget-ms MS]
 *                                           [--only I] [--contexts K]
 * Program i of seed S is generated from the string `${S}:${i}` alone; `--only I` reruns it and
 * prints it. The test suite runs a short range in-process (test/verifier-fuzz.test.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_TASK_STORAGE,
} from '../src/abi/bpf.js';
import { SeccompEbpfError } from '../src/errors.js';
import { disassemble } from '../src/ebpf/disasm.js';
import { findProgram, parseBpfObject } from '../src/ebpf/elf/index.js';
import type { Insn } from '../src/ebpf/insn.js';
import { createMap } from '../src/ebpf/maps/index.js';
import type { BpfMap, MapSpec } from '../src/ebpf/maps/types.js';
import { helpersFor, loadProgram } from '../src/ebpf/verifier/load.js';
import { denyAll } from '../src/ebpf/verifier/lsm.js';
import type { LoaderCredentials, SeccompExtendedHook, VerifiedProgram } from '../src/ebpf/verifier/types.js';
import { createVm } from '../src/ebpf/vm/interpreter.js';
import { simulatedHost, simulatedTask } from '../src/ebpf/vm/simulated.js';
import { hexdump, IO_VALUE_SIZE, Rng, generateProgram, interesting64 } from '../test/helpers/progen.js';
import { instructionSoup, mutate, mutateBytes } from '../test/helpers/mutate.js';

const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// Loaders
// ---------------------------------------------------------------------------------------------

const base = { userNs: 'user:fuzz', pidNs: 'pid:fuzz', noNewPrivs: true, unprivilegedBpfDisabled: 0, initUserNs: true };
/** CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_SYS_ADMIN. */
export const ROOT: LoaderCredentials = { ...base, caps: new Set(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE', 'CAP_SYS_ADMIN']), initNsSysPtrace: true };
/** No capabilities. */
export const UNPRIVILEGED: LoaderCredentials = { ...base, caps: new Set(), initNsSysPtrace: false };

export interface Loader {
  name: 'root' | 'unprivileged' | 'restricted';
  cred: LoaderCredentials;
  lsm?: SeccompExtendedHook;
}
export const LOADERS: readonly Loader[] = [
  { name: 'root', cred: ROOT },
  { name: 'unprivileged', cred: UNPRIVILEGED },
  { name: 'restricted', cred: ROOT, lsm: denyAll },
];

// ---------------------------------------------------------------------------------------------
// Program sources
// ---------------------------------------------------------------------------------------------

export interface FuzzProgram {
  /** How it was made, e.g. "corpus-mut rate-limit [offset@12, size@3]". */
  note: string;
  insns: Insn[];
  maps: MapSpec[];
  license: string;
}

export interface CorpusProgram {
  name: string;
  insns: Insn[];
  maps: MapSpec[];
  license: string;
}

/** Objects kept out of the fuzzing sources: bad-unbounded-loop runs both verifiers into their
 *  1M-instruction budget (seconds each, for the kernel too), and most of its mutations as well. */
const EXCLUDED = ['bad-unbounded-loop.bpf.o'];

/** Every object of the verifier corpus (bad ones too: their mutations are interesting), the
 *  examples and the default policy, minus EXCLUDED (use { all: true } for every one). */
export function loadCorpus(opts: { all?: boolean } = {}): CorpusProgram[] {
  const files = [
    ...readdirSync(join(ROOT_DIR, 'test/fixtures/verifier')).filter((f) => f.endsWith('.bpf.o')).sort().map((f) => `test/fixtures/verifier/${f}`),
    ...readdirSync(join(ROOT_DIR, 'examples')).filter((f) => f.endsWith('.bpf.o')).sort().map((f) => `examples/${f}`),
    'policies/default.bpf.o',
  ];
  return files.filter((f) => opts.all || !EXCLUDED.some((x) => f.endsWith(x))).map((file) => {
    const spec = parseBpfObject(readFileSync(join(ROOT_DIR, file)), { file });
    const p = findProgram(spec);
    return { name: file.replace(/^.*\//, '').replace(/\.bpf\.o$/, ''), insns: p.insns, maps: spec.maps, license: spec.license };
  });
}

/** Maps of soup and generated programs: index 0 is progen's io array (value 224 bytes). */
const SOUP_MAPS: MapSpec[] = [
  { name: 'io', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: IO_VALUE_SIZE, maxEntries: 1, flags: 0 },
  { name: 'h', type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: 16, flags: 0 },
  { name: 'rb', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 },
];

/** Program `index` of `seed`: a deterministic mix of the sources described in the module comment. */
export function makeProgram(seed: string, index: number, corpus: readonly CorpusProgram[]): FuzzProgram {
  const rng = new Rng(`${seed}:${index}`);
  const license = rng.chance(0.95) ? 'GPL' : 'MIT';
  const k = rng.int(100);
  if (k < 15) {
    return { note: 'soup', insns: instructionSoup(rng, 2 + rng.int(40)), maps: SOUP_MAPS, license };
  }
  if (k < 35) {
    const g = generateProgram(rng, { bodyLen: 8 + rng.int(40), maxBranches: rng.int(7), subprograms: rng.chance(0.3) });
    if (k < 22) return { note: 'progen', insns: g.insns, maps: SOUP_MAPS, license };
    const m = mutate(rng, g.insns);
    return { note: `progen-mut [${m.applied.join(', ')}]`, insns: m.insns, maps: SOUP_MAPS, license };
  }
  const c = rng.pick(corpus);
  if (k < 40) return { note: `corpus ${c.name}`, insns: c.insns.map((x) => ({ ...x })), maps: c.maps, license: c.license };
  if (k < 88) {
    const m = mutate(rng, c.insns);
    return { note: `corpus-mut ${c.name} [${m.applied.join(', ')}]`, insns: m.insns, maps: c.maps, license: c.license };
  }
  const m = mutateBytes(rng, c.insns);
  return { note: `bytes ${c.name} [${m.applied.join(', ')}]`, insns: m.insns, maps: c.maps, license: c.license };
}

// ---------------------------------------------------------------------------------------------
// Running verified programs
// ---------------------------------------------------------------------------------------------

/** Where the simulated task's readable user memory starts (strings and structs for probe reads). */
const USER_BASE = 0x7f00_0000_1000n;
const USER_STRINGS = ['/etc/shadow', '/proc/kcore', '/bin/sh', 'relative', '', '/etc/passwd-and-a-rather-long-tail-that-exceeds-the-buffers-of-most-filters-/x/y/z'];
/** Syscall numbers the corpus programs look at (x86_64), plus edge values. */
const NRS = [0, 1, 2, 3, 9, 10, 16, 39, 41, 42, 56, 57, 59, 62, 85, 101, 105, 157, 158, 165, 200, 231, 257, 272, 322, 435, 511, 512, -1, 0x4000_0000];

function userMemory(rng: Rng): Uint8Array {
  const mem = new Uint8Array(4096);
  for (let i = 0; i < mem.length; i++) mem[i] = rng.int(4) === 0 ? 0 : rng.int(256);
  let at = 0;
  for (const s of USER_STRINGS) {
    mem.set(new TextEncoder().encode(s), at);
    mem[at + s.length] = 0;
    at += 256;
  }
  return mem;
}

/** Immediates the program compares with or masks by: the values worth putting in contexts
 *  and map keys (a fuzzing dictionary). */
export function constantsOf(insns: readonly Insn[]): number[] {
  const out = new Set<number>();
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    const cls = x.code & 7;
    if (x.code === 0x18) { i++; continue; }
    if ((cls === 5 || cls === 6) && (x.code & 0x08) === 0 && (x.code & 0xf0) >= 0x10 && (x.code & 0xf0) <= 0xd0 && (x.code & 0xf0) !== 0x80 && (x.code & 0xf0) !== 0x90) out.add(x.imm);
    if ((cls === 4 || cls === 7) && (x.code & 0xf0) === 0x50 && (x.code & 0x08) === 0) out.add(x.imm); // and-masks
  }
  return [...out];
}

const dictValue = (rng: Rng, dict: readonly number[]): bigint => {
  const v = BigInt(rng.pick(dict));
  return BigInt.asUintN(64, rng.chance(0.2) ? v + BigInt(rng.int(3) - 1) : v);
};

/** A random struct seccomp_data (64 bytes); values from `dict` some of the time. */
export function randomContext(rng: Rng, dict: readonly number[] = []): Uint8Array {
  const ctx = new Uint8Array(64);
  const dv = new DataView(ctx.buffer);
  const useDict = (): boolean => dict.length > 0 && rng.chance(0.4);
  dv.setInt32(0, useDict() ? Number(BigInt.asIntN(32, dictValue(rng, dict))) : rng.chance(0.7) ? rng.pick(NRS) : rng.int(600), true);
  dv.setUint32(4, rng.chance(0.9) ? 0xc000003e : rng.pick([0x40000003, 0xc00000b7, 0]), true);
  dv.setBigUint64(8, rng.chance(0.8) ? 0x7f12_3456_7000n + BigInt(rng.int(1 << 20)) : interesting64(rng), true);
  for (let i = 0; i < 6; i++) {
    const r = rng.int(10);
    const v = useDict() ? dictValue(rng, dict)
      : r < 3 ? USER_BASE + BigInt(256 * rng.int(USER_STRINGS.length)) : r < 4 ? USER_BASE + BigInt(rng.int(4096)) : r < 7 ? BigInt(rng.int(64)) : interesting64(rng);
    dv.setBigUint64(16 + 8 * i, v, true);
  }
  return ctx;
}

/** Little-endian bytes of `v`, `size` long. */
function bytesOf(v: bigint, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size && i < 8; i++) b[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return b;
}

/** A random value of `size` bytes: small numbers, dictionary values or random bytes. */
function randomValue(rng: Rng, size: number, dict: readonly number[]): Uint8Array {
  const r = rng.int(4);
  if (r === 0 && dict.length > 0) return bytesOf(dictValue(rng, dict), size);
  if (r < 3) return bytesOf(BigInt(rng.int(4)), size);
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = rng.int(256);
  return b;
}

/**
 * Puts random contents into the writable array and hash maps (as user space would: the
 * verifier must be right for any contents). Read-only maps (.rodata) keep their initial value:
 * the verifier treats it as constant, as the kernel does for frozen maps.
 */
function prefill(maps: readonly BpfMap[], rng: Rng, dict: readonly number[]): void {
  for (const m of maps) {
    const { type, keySize, valueSize, maxEntries, readOnly } = m.spec;
    if (readOnly || keySize === 0 || type === BPF_MAP_TYPE_TASK_STORAGE || rng.chance(0.2)) continue;
    const isArray = type === BPF_MAP_TYPE_ARRAY || type === BPF_MAP_TYPE_PERCPU_ARRAY;
    const n = isArray ? Math.min(maxEntries, 1024) : Math.min(maxEntries, 1 + rng.int(16));
    for (let i = 0; i < n; i++) {
      const key = isArray ? bytesOf(BigInt(i), 4) : randomValue(rng, keySize, dict);
      const value = randomValue(rng, valueSize, dict);
      if (isArray && /^\.(data|bss)/.test(m.spec.name) && rng.chance(0.5)) continue;
      const full = type === BPF_MAP_TYPE_PERCPU_ARRAY || type === BPF_MAP_TYPE_PERCPU_HASH || type === BPF_MAP_TYPE_LRU_PERCPU_HASH
        ? perCpu(value, 2) : value;
      m.update(key, full, 0);
    }
  }
}

/** A per-CPU value as bpf(2) passes it: one value per possible CPU, 8-byte aligned each. */
function perCpu(value: Uint8Array, cpus: number): Uint8Array {
  const stride = Math.ceil(value.length / 8) * 8;
  const out = new Uint8Array(stride * cpus);
  for (let c = 0; c < cpus; c++) out.set(value, c * stride);
  return out;
}

export interface RunResult {
  /** The first fault (a verifier bug), if any. */
  fault?: string;
  /** The program calls a helper this runtime does not implement: nothing was run. */
  unsupported?: boolean;
  /** r0 of each run, in order. */
  results: bigint[];
  /** The maps after the runs. */
  maps: BpfMap[];
}

/** Runs `prog` on `contexts` random contexts (and random tasks) with fresh maps, stopping at the
 *  first fault. */
export function runOnContexts(prog: VerifiedProgram, rng: Rng, contexts: number): RunResult {
  const results: bigint[] = [];
  let helpers;
  try {
    helpers = helpersFor(prog);
  } catch (e) {
    if (e instanceof SeccompEbpfError && e.code === 'ERR_HELPER_UNSUPPORTED') return { unsupported: true, results, maps: [] };
    throw e;
  }
  const host = simulatedHost({ seed: rng.u32() || 1 });
  let maps: BpfMap[];
  try {
    maps = prog.maps.map((s) => createMap(s, { possibleCpus: host.possibleCpus }));
  } catch (e) {
    return { fault: `the maps of a verified program cannot be created: ${(e as Error).message}`, results, maps: [] };
  }
  const dict = constantsOf(prog.insns);
  prefill(maps, rng, dict);
  let vm;
  try {
    vm = createVm(prog.insns, { maps, helpers, host });
  } catch (e) {
    return { fault: `the VM refuses a verified program: ${(e as Error).message}`, results, maps };
  }
  const memory = [{ addr: USER_BASE, bytes: userMemory(rng) }];
  for (let c = 0; c < contexts; c++) {
    const tgid = rng.pick([1, 1000, 4242, 65535]);
    const task = simulatedTask({
      tid: tgid + rng.int(3), tgid, uid: rng.pick([0, 33, 1000, 65534]), gid: rng.pick([0, 1000]),
      comm: rng.pick(['sh', 'bash', 'sandboxed', 'sim', 'a-very-long-name']), cpu: rng.int(2), dumpable: rng.int(3), memory,
    });
    const ctx = randomContext(rng, dict);
    try {
      results.push(vm.run(ctx, task));
    } catch (e) {
      const code = e instanceof SeccompEbpfError ? e.code : (e as Error)?.name;
      const where = e instanceof SeccompEbpfError && e.location?.insn !== undefined ? ` at insn ${e.location.insn}` : '';
      return { fault: `run ${c}: ${code}${where}: ${(e as Error)?.message ?? String(e)} (ctx ${Buffer.from(ctx).toString('hex')})`, results, maps };
    }
  }
  return { results, maps };
}

// ---------------------------------------------------------------------------------------------
// Fuzzing a range
// ---------------------------------------------------------------------------------------------

export interface Finding {
  kind: 'crash' | 'slow' | 'fault';
  index: number;
  note: string;
  loader: string;
  detail: string;
}

export interface FuzzStats {
  programs: number;
  accepted: number;
  /** Rejections by error code. */
  rejected: Record<string, number>;
  /** Accepted programs run in the interpreter (and those calling unimplemented helpers). */
  ran: number;
  unsupported: number;
  /** Verifications that took over a second (normal only near the 1M-instruction budget). */
  overOneSecond: number;
  /** Slowest verification (ms) and its program index. */
  slowestMs: number;
  slowestIndex: number;
  findings: Finding[];
}

export interface FuzzOptions {
  /** Per-program verification budget in ms (default 20000: a program that runs the verifier
   *  into its 1M-instruction budget takes seconds; several times that is a hang). */
  budgetMs?: number;
  /** Random contexts per accepted program (default 8). */
  contexts?: number;
  /** Called after each program (progress, heartbeats). */
  onProgram?: (index: number) => void;
}

export const emptyStats = (): FuzzStats => ({ programs: 0, accepted: 0, rejected: {}, ran: 0, unsupported: 0, overOneSecond: 0, slowestMs: 0, slowestIndex: -1, findings: [] });

/** Verifies one program for one loader and, if accepted, runs it; updates `stats`. */
export function fuzzOne(p: FuzzProgram, index: number, loader: Loader, rng: Rng, stats: FuzzStats, opts: FuzzOptions = {}): void {
  stats.programs++;
  const t0 = performance.now();
  let vp: VerifiedProgram | undefined;
  try {
    vp = loadProgram(p.insns, { maps: p.maps, license: p.license, cred: loader.cred, ...(loader.lsm ? { lsm: loader.lsm } : {}) });
  } catch (e) {
    if (e instanceof SeccompEbpfError) {
      stats.rejected[e.code] = (stats.rejected[e.code] ?? 0) + 1;
    } else {
      stats.findings.push({ kind: 'crash', index, note: p.note, loader: loader.name, detail: (e as Error)?.stack ?? String(e) });
    }
  }
  const ms = performance.now() - t0;
  if (ms > stats.slowestMs) { stats.slowestMs = ms; stats.slowestIndex = index; }
  if (ms > 1000) stats.overOneSecond++;
  if (ms > (opts.budgetMs ?? 20_000)) {
    stats.findings.push({ kind: 'slow', index, note: p.note, loader: loader.name, detail: `verification took ${ms.toFixed(0)} ms` });
  }
  if (!vp) return;
  stats.accepted++;
  const r = runOnContexts(vp, rng, opts.contexts ?? 8);
  if (r.unsupported) { stats.unsupported++; return; }
  stats.ran++;
  if (r.fault !== undefined) stats.findings.push({ kind: 'fault', index, note: p.note, loader: loader.name, detail: r.fault });
}

/** Fuzzes programs [from, to) of `seed`. */
export function fuzzRange(seed: string, from: number, to: number, corpus: readonly CorpusProgram[], opts: FuzzOptions = {}): FuzzStats {
  const stats = emptyStats();
  for (let i = from; i < to; i++) {
    const p = makeProgram(seed, i, corpus);
    const rng = new Rng(`${seed}:${i}:run`);
    const loader = rng.chance(0.7) ? LOADERS[0]! : rng.chance(0.65) ? LOADERS[1]! : LOADERS[2]!;
    fuzzOne(p, i, loader, rng, stats, opts);
    opts.onProgram?.(i);
  }
  return stats;
}

export function mergeStats(a: FuzzStats, b: FuzzStats): FuzzStats {
  const rejected = { ...a.rejected };
  for (const [k, v] of Object.entries(b.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
  const slow = b.slowestMs > a.slowestMs;
  return {
    programs: a.programs + b.programs, accepted: a.accepted + b.accepted, rejected, ran: a.ran + b.ran,
    unsupported: a.unsupported + b.unsupported, overOneSecond: a.overOneSecond + b.overOneSecond, slowestMs: slow ? b.slowestMs : a.slowestMs,
    slowestIndex: slow ? b.slowestIndex : a.slowestIndex, findings: [...a.findings, ...b.findings],
  };
}

// ---------------------------------------------------------------------------------------------
// Command line: workers with a watchdog
// ---------------------------------------------------------------------------------------------

interface Args { count: number; seed: string; workers: number; budgetMs: number; only?: number; contexts: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { count: 100_000, seed: String(Date.now()), workers: Math.max(1, cpus().length - 1), budgetMs: 20_000, contexts: 8 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    const num = (): number => { const n = Number(v); if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${argv[i]} needs a non-negative integer`); i++; return n; };
    switch (argv[i]) {
      case '--count': a.count = num(); break;
      case '--seed': if (v === undefined) throw new Error('--seed needs a value'); a.seed = v; i++; break;
      case '--workers': a.workers = Math.max(1, num()); break;
      case '--budget-ms': a.budgetMs = num(); break;
      case '--only': a.only = num(); break;
      case '--contexts': a.contexts = num(); break;
      default: throw new Error(`unknown argument ${argv[i]} (see the comment at the top of scripts/fuzz.ts)`);
    }
  }
  return a;
}

const CHUNK = 500;

function runWorker(): void {
  const { seed, budgetMs, contexts } = workerData as { seed: string; budgetMs: number; contexts: number };
  const corpus = loadCorpus();
  parentPort!.on('message', (m: { from: number; to: number } | null) => {
    if (m === null) { process.exit(0); }
    const stats = fuzzRange(seed, m.from, m.to, corpus, { budgetMs, contexts, onProgram: (i) => parentPort!.postMessage({ beat: i }) });
    parentPort!.postMessage({ done: stats });
  });
  parentPort!.postMessage({ ready: true });
}

function printProgram(seed: string, index: number, contexts: number): void {
  const corpus = loadCorpus();
  const p = makeProgram(seed, index, corpus);
  console.log(`program ${index} of seed ${seed}: ${p.note}, license ${p.license}, maps ${p.maps.map((m) => m.name).join(', ') || 'none'}`);
  try { console.log(disassemble(p.insns)); } catch { console.log(hexdump(p.insns)); }
  const rng = new Rng(`${seed}:${index}:run`);
  const loader = rng.chance(0.7) ? LOADERS[0]! : rng.chance(0.65) ? LOADERS[1]! : LOADERS[2]!;
  const stats = emptyStats();
  fuzzOne(p, index, loader, rng, stats, { contexts });
  console.log(`loader ${loader.name}:`, JSON.stringify({ accepted: stats.accepted, rejected: stats.rejected, findings: stats.findings }, null, 2));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.only !== undefined) { printProgram(args.seed, args.only, args.contexts); return; }
  const t0 = performance.now();
  let total = emptyStats();
  let next = 0;
  let lastReport = t0;
  const hangs: Finding[] = [];
  const pending: { from: number; to: number }[] = [];
  let failed = false;
  const report = (): void => {
    const s = (performance.now() - t0) / 1000;
    console.log(`${total.programs} programs in ${s.toFixed(0)} s (${(total.programs / s).toFixed(0)}/s), ${total.accepted} accepted, ${total.findings.length + hangs.length} findings`);
  };
  await new Promise<void>((resolve) => {
    let live = 0;
    const start = (): void => {
      // Workers do not inherit the tsx loader of `node --import tsx`: register it, then load us.
      const boot = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(import.meta.url)}); })`;
      const w = new Worker(boot, { eval: true, workerData: { fuzzWorker: true, seed: args.seed, budgetMs: args.budgetMs, contexts: args.contexts } });
      live++;
      let range: { from: number; to: number } | undefined;
      let beat = { index: -1, at: performance.now() };
      const give = (): void => {
        const p = pending.pop();
        if (!p && next >= args.count) { range = undefined; w.postMessage(null); return; }
        range = p ?? { from: next, to: Math.min(args.count, next + CHUNK) };
        if (!p) next = range.to;
        beat = { index: range.from - 1, at: performance.now() };
        w.postMessage(range);
      };
      // A program that runs for 5 budgets is a hang: stop the worker, report it, carry on after it.
      const dog = setInterval(() => {
        if (range && performance.now() - beat.at > Math.max(5 * args.budgetMs, 60_000)) {
          const index = beat.index + 1;
          hangs.push({ kind: 'slow', index, note: makeProgram(args.seed, index, loadCorpus()).note, loader: '?', detail: 'hang: no progress for 5 budgets; worker stopped' });
          if (index + 1 < range.to) pending.push({ from: index + 1, to: range.to });
          range = undefined;
          void w.terminate();
        }
      }, 1000);
      w.on('message', (m: { ready?: boolean; beat?: number; done?: FuzzStats }) => {
        if (m.beat !== undefined) { beat = { index: m.beat, at: performance.now() }; return; }
        if (m.done) {
          for (const f of m.done.findings) console.log(`  [${f.kind}] program ${f.index} (${f.note}, ${f.loader}): ${f.detail.split('\n')[0]}`);
          total = mergeStats(total, m.done);
          if (performance.now() - lastReport > 10_000) { lastReport = performance.now(); report(); }
        }
        give();
      });
      w.on('error', (e) => { console.error('worker error:', e); failed = true; });
      w.on('exit', () => {
        clearInterval(dog);
        live--;
        if (!failed && (next < args.count || pending.length > 0)) start();
        else if (live === 0) resolve();
      });
    };
    for (let i = 0; i < args.workers; i++) start();
  });
  if (failed) { console.error('a worker failed: stopping'); process.exitCode = 2; return; }
  total.findings.push(...hangs);
  const secs = (performance.now() - t0) / 1000;
  console.log(`\nseed ${args.seed}: ${total.programs} programs in ${secs.toFixed(1)} s (${(total.programs / secs).toFixed(0)} programs/s, ${args.workers} workers)`);
  console.log(`accepted ${total.accepted} (run in the interpreter: ${total.ran}, calling unimplemented helpers: ${total.unsupported})`);
  console.log('rejected by code:');
  for (const [k, v] of Object.entries(total.rejected).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(28)} ${v}`);
  console.log(`slowest verification: ${total.slowestMs.toFixed(1)} ms (program ${total.slowestIndex}); over one second: ${total.overOneSecond}`);
  const by = (k: Finding['kind']): number => total.findings.filter((f) => f.kind === k).length;
  console.log(`findings: crash ${by('crash')}, slow/hang ${by('slow')}, fault ${by('fault')}`);
  for (const f of total.findings.slice(0, 50)) console.log(`  [${f.kind}] program ${f.index} (${f.note}, ${f.loader}): ${f.detail.split('\n')[0]}`);
  if (total.findings.length > 0) {
    console.log(`reproduce: node --import tsx scripts/fuzz.ts --seed ${args.seed} --only <index>`);
    process.exitCode = 1;
  }
}

if (!isMainThread && (workerData as { fuzzWorker?: boolean } | null)?.fuzzWorker === true) runWorker();
else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => { console.error(e); process.exitCode = 2; });
}
