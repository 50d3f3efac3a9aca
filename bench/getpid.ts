/**
 * @module bench/getpid
 * The series' table (spec.md section 5) on this machine: N raw getpid() calls, the first N/2
 * allowed and the rest denied with EPERM, under
 *
 *   (a) no filter
 *   (b) a kernel classic-BPF filter deciding statelessly, by an argument (cbpf-run args)
 *   (c) our supervisor running examples/getpid-half.bpf.o with HALF = N/2, through the CLI
 *   (d) the series' C user-notification supervisor (bench/c/user-trap.c), with and without
 *       SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
 *   (e) a minimal kernel classic-BPF filter (arch check, then allow): the issue's 1.1x baseline
 *   (f) our supervisor running examples/exec-once.bpf.o through the CLI (after the split,
 *       getpid is decided in the kernel and (f) should be about (e))
 *
 * Only the loop is timed, inside the C program (CLOCK_MONOTONIC around the loop). Rows (a),
 * (b), (e) and (f) use bench/c/getpid-args.c, which also reports the loop's CPU time: on a busy
 * machine the wall time of a 0.1 s loop mostly measures preemption, its CPU time does not. A
 * notified call's wait is not CPU time either, so the CPU figure is kept only for rows whose
 * getpid calls the supervisor does not see (the probe below tells).
 *
 * Runs are interleaved (every row once per round, in a shuffled order; rows under 0.5 s three
 * times) so that drift hits every row alike; each row's figure is the median of its runs.
 * Every run is checked: ok and eperm must be what the row's decisions imply, or the benchmark
 * fails.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { benchPrograms, cliRun, ROOT } from './lib/programs.js';
import { median, roundOrder } from './lib/stats.js';
import { runSupervised, type KernelFilterInfo } from './lib/supervised.js';

/** Our supervisor's sync wake-up switch (src/supervisor/loop.ts): '0' turns it off. */
export const OUR_SYNC_ENV = 'SECCOMP_EBPF_SYNC_WAKE_UP';

/** A row whose loop takes less than this (ns) is "cheap" and runs CHEAP_REPS times a round. */
const CHEAP_NS = 500e6;
const CHEAP_REPS = 3;

/** The series' published figures (spec.md section 5; i7-9700K, median of 10 runs). */
export const SERIES = {
  notifBareMetalUs: 3.403_667_5,
  notifQemuUs: 6.808_104,
  ebpfBareMetalUs: 0.080_316,
  ebpfQemuUs: 0.080_508_5,
  ratioBareMetal: 42.4,
  ratioQemu: 84.6,
} as const;

export type RowId = 'a' | 'b' | 'c' | 'c-nosync' | 'd-sync' | 'd-nosync' | 'e' | 'f';

export interface RowResult {
  id: RowId;
  label: string;
  /** Loop time of each round, ns. */
  samples: number[];
  medianNs: number;
  /** getpid calls per run (the no-sync rows make fewer: see benchGetpid). */
  calls: number;
  /** Median per call, µs. */
  perCallUs: number;
  /** Fastest run per call, µs. */
  minPerCallUs: number;
  /** Median CPU time per call, µs: rows without notifications only. */
  cpuPerCallUs?: number;
  cpuSamples?: number[];
  /** Notifications per getpid the supervisor saw (probe), when a supervisor is involved. */
  notifiedPerCall?: number;
}

export interface GetpidResult {
  n: number;
  runs: number;
  rows: RowResult[];
  /** value: of the medians (the criterion's); min: of the fastest runs; cpu: of the median CPU
   *  times, when neither row is notified. */
  ratios: { name: string; value: number; min: number; cpu?: number; criterion?: string; ok?: boolean }[];
  notes: string[];
}

interface LoopOut { ns: number; cpuNs?: number; ok: number; eperm: number; other: number; notified?: number }

interface RowDef {
  id: RowId;
  label: string;
  argv: string[];
  /** Added to (or, when undefined, removed from) our environment. */
  env?: Record<string, string | undefined>;
  calls: number;
  ok: number;
  eperm: number;
  /** user-trap reports how many notifications it answered. */
  notified?: number;
}

function parseLoop(stdout: string): LoopOut {
  const num = (k: string): number => Number(stdout.match(new RegExp(`\\b${k}=(\\d+)`))?.[1] ?? NaN);
  const out: LoopOut = { ns: num('ns'), ok: num('ok'), eperm: num('eperm'), other: num('other') };
  if (/\bnotified=/.test(stdout)) out.notified = num('notified');
  if (/\bcpu_ns=/.test(stdout)) out.cpuNs = num('cpu_ns');
  return out;
}

function runRow(row: RowDef): LoopOut {
  const env = { ...process.env };
  for (const [k, v] of Object.entries(row.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const r = spawnSync(row.argv[0]!, row.argv.slice(1), {
    cwd: ROOT, encoding: 'utf8', env,
    // Generous: 100 µs per call would be 30x the slowest row seen here.
    timeout: 60_000 + row.calls * 0.1,
  });
  if (r.error) throw new Error(`(${row.id}) ${row.argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`(${row.id}) ${row.argv.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stderr}`);
  const out = parseLoop(r.stdout);
  const bad = !Number.isFinite(out.ns) || out.ok !== row.ok || out.eperm !== row.eperm || out.other !== 0 ||
    (row.notified !== undefined && out.notified !== row.notified);
  if (bad) {
    throw new Error(`(${row.id}) ${row.label} decided wrongly: got ${r.stdout.trim().replace(/\n/g, ' ')}; ` +
      `expected ok=${row.ok} eperm=${row.eperm} other=0${row.notified !== undefined ? ` notified=${row.notified}` : ''}`);
  }
  return out;
}

/**
 * What our supervisor sees of a getpid loop (library, decision log counted): notifications
 * per getpid call under getpid-half and exec-once. 1 means every getpid is a round trip; 0
 * means the kernel decides it (the split).
 */
export async function probeNotifications(calls = 2000): Promise<{ getpidHalf: number; execOnce: number; execOnceOther: number; kernelFilter?: KernelFilterInfo }> {
  const p = benchPrograms();
  const per = async (filter: string, globals?: Record<string, number>): Promise<{ getpid: number; total: number; kernelFilter?: KernelFilterInfo }> => {
    const r = await runSupervised(filter, p.getpidLoop, [String(calls)], { count: true, ...(globals ? { globals } : {}) });
    if (r.code !== 0) throw new Error(`probe under ${filter} failed (exit ${r.code ?? r.signal}): ${r.stderr}`);
    return { getpid: (r.bySyscall.get('getpid') ?? 0) / calls, total: r.notified, ...(r.kernelFilter ? { kernelFilter: r.kernelFilter } : {}) };
  };
  const half = await per('examples/getpid-half.bpf.o', { HALF: calls / 2 });
  const once = await per('examples/exec-once.bpf.o');
  return {
    getpidHalf: half.getpid, execOnce: once.getpid, execOnceOther: once.total - once.getpid * calls,
    ...(once.kernelFilter ? { kernelFilter: once.kernelFilter } : {}),
  };
}

/**
 * `n` calls per row, except the no-sync notification rows, which make `nNoSync` (a
 * notification without sync wake-up costs ~30 µs here: 1M of them would take 30 s per round).
 */
export async function benchGetpid(n: number, nNoSync: number, runs: number, log: (s: string) => void): Promise<GetpidResult> {
  for (const [name, v] of [['BENCH_N', n], ['BENCH_N_NOSYNC', nNoSync]] as const) {
    if (!Number.isInteger(v) || v < 2 || v % 2 !== 0) throw new Error(`${name} must be an even integer >= 2 (got ${v})`);
  }
  const p = benchPrograms();
  const half = n / 2;
  const notes: string[] = [];
  // Our rows start timing after a warm-up: the program runs before the supervisor's worker
  // thread is up (the first notification waits for it) and before V8 has compiled the loop;
  // user-trap's payload likewise waits until its supervisor is ready.
  const warmup = (k: number): number => Math.min(10_000, Math.max(1_000, Math.floor(k / 10)));
  const loop = (k: number): string[] => [p.getpidLoop, String(k), '--time', '--warmup', String(warmup(k))];
  const argsLoop = [p.getpidArgs, String(n)];
  const halfFilter = (k: number): string[] => ['--filter', 'examples/getpid-half.bpf.o', '--global', `HALF=${warmup(k) + k / 2}`];
  const m = nNoSync;
  // Without sync wake-up, what a notification costs depends on whether the scheduler puts the
  // supervisor and the target on one CPU (then about the sync figure) or on two (every wake-up
  // then crosses CPUs, tens of µs on this VM): left alone, it picks one per run and medians
  // swing by 1.5x. The no-sync rows therefore pin the two apart, the case sync wake-up exists
  // to avoid (taskset for our node process, getpid-loop --cpu / user-trap --cpus for the rest).
  const apart = cpus().length >= 2;
  const pinned = apart ? ', pinned apart' : '';
  const rows: RowDef[] = [
    { id: 'a', label: '(a) no filter', argv: argsLoop, calls: n, ok: n, eperm: 0 },
    { id: 'b', label: '(b) kernel cBPF, stateless by argument', argv: [p.cbpfRun, 'args', ...argsLoop], calls: n, ok: half, eperm: half },
    { id: 'c', label: '(c) our supervisor, getpid-half (sync)', argv: cliRun(halfFilter(n), loop(n)), env: { [OUR_SYNC_ENV]: undefined }, calls: n, ok: half, eperm: half },
    {
      id: 'c-nosync', label: `(c) our supervisor, getpid-half (no sync${pinned})${m !== n ? '*' : ''}`,
      argv: apart ? ['taskset', '-c', '0', ...cliRun(halfFilter(m), [...loop(m), '--cpu', '1'])] : cliRun(halfFilter(m), loop(m)),
      env: { [OUR_SYNC_ENV]: '0' }, calls: m, ok: m / 2, eperm: m / 2,
    },
    { id: 'd-sync', label: '(d) C supervisor (sync wake-up)', argv: [p.userTrap, String(n), '--sync'], calls: n, ok: half, eperm: half, notified: n },
    {
      id: 'd-nosync', label: `(d) C supervisor (no sync${pinned})${m !== n ? '*' : ''}`, argv: [p.userTrap, String(m), ...(apart ? ['--cpus', '0,1'] : [])],
      calls: m, ok: m / 2, eperm: m / 2, notified: m,
    },
    { id: 'e', label: '(e) kernel cBPF, arch check + allow', argv: [p.cbpfRun, 'minimal', ...argsLoop], calls: n, ok: n, eperm: 0 },
    { id: 'f', label: '(f) our supervisor, exec-once', argv: cliRun(['--filter', 'examples/exec-once.bpf.o'], argsLoop), calls: n, ok: n, eperm: 0 },
  ];
  if (m !== n) notes.push(`* no-sync rows: ${m.toLocaleString('en')} calls per run (BENCH_N_NOSYNC), half EPERM, to keep the run short`);

  const samples = new Map<RowId, number[]>(rows.map((r) => [r.id, []]));
  const cpu = new Map<RowId, number[]>(rows.map((r) => [r.id, []]));
  for (let round = 0; round < runs; round++) {
    const t0 = Date.now();
    for (const i of roundOrder(rows.length, round)) {
      const row = rows[i]!;
      const s = samples.get(row.id)!;
      // Rows decided in the kernel take ~0.1 s: a preemption is a large part of that, so they
      // run CHEAP_REPS times per round (more samples for the median, still interleaved).
      const reps = s.length > 0 && Math.min(...s) < CHEAP_NS ? CHEAP_REPS : 1;
      for (let k = 0; k < reps; k++) {
        const out = runRow(row);
        s.push(out.ns);
        if (out.cpuNs !== undefined) cpu.get(row.id)!.push(out.cpuNs);
      }
    }
    log(`  round ${round + 1}/${runs}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  const probe = await probeNotifications();
  const notifiedPerCall: Partial<Record<RowId, number>> = {
    a: 0, b: 0, e: 0, 'd-sync': 1, 'd-nosync': 1, c: probe.getpidHalf, 'c-nosync': probe.getpidHalf, f: probe.execOnce,
  };
  notes.push(probe.execOnce >= 0.99
    ? 'every syscall goes to the supervisor (no split yet): (f) makes one notification per getpid'
    : `split active: under exec-once the supervisor saw ${probe.execOnce} notifications per getpid (${probe.execOnceOther} for the loop program's other syscalls)` +
      `${probe.kernelFilter ? `; kernel filter: ${probe.kernelFilter.instructions} classic-BPF instructions` : ''}`);

  const results: RowResult[] = rows.map((r) => {
    const s = samples.get(r.id)!;
    const med = median(s);
    const res: RowResult = {
      id: r.id, label: r.label, samples: s, medianNs: med, calls: r.calls, perCallUs: med / r.calls / 1000, minPerCallUs: Math.min(...s) / r.calls / 1000,
    };
    const npc = notifiedPerCall[r.id];
    if (npc !== undefined) res.notifiedPerCall = npc;
    const c = cpu.get(r.id)!;
    if (npc === 0 && c.length === s.length) {
      res.cpuSamples = c;
      res.cpuPerCallUs = median(c) / r.calls / 1000;
    }
    return res;
  });
  const row = (id: RowId): RowResult | undefined => results.find((r) => r.id === id);
  const ratios: GetpidResult['ratios'] = [];
  const add = (name: string, x: RowId, y: RowId, limit?: number): void => {
    const value = (row(x)?.perCallUs ?? NaN) / (row(y)?.perCallUs ?? NaN);
    const min = (row(x)?.minPerCallUs ?? NaN) / (row(y)?.minPerCallUs ?? NaN);
    const cx = row(x)?.cpuPerCallUs;
    const cy = row(y)?.cpuPerCallUs;
    const r: GetpidResult['ratios'][number] = { name, value, min };
    if (cx !== undefined && cy !== undefined) r.cpu = cx / cy;
    if (limit !== undefined) {
      r.criterion = `<= ${limit}`;
      r.ok = value <= limit;
    }
    ratios.push(r);
  };
  add('(c)/(d) our vs C supervisor, sync', 'c', 'd-sync', 1.2);
  add('(c)/(d) our vs C supervisor, no sync', 'c-nosync', 'd-nosync', 1.2);
  add('(c)/(b) our supervisor vs stateless kernel filter', 'c', 'b');
  add('(d)/(b) C notification vs kernel filter, sync', 'd-sync', 'b');
  add('(d)/(b) C notification vs kernel filter, no sync', 'd-nosync', 'b');
  add('(f)/(e) exec-once vs minimal kernel filter', 'f', 'e', 1.1);
  add('(e)/(a) cost of having a filter at all', 'e', 'a');
  return { n, runs, rows: results, ratios, notes };
}
