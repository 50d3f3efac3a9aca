/**
 * @module bench/workloads
 * Real workloads (python3 start-up, tar of a directory, a shell script running coreutils) under
 * no filter, a minimal kernel classic-BPF filter, exec-once (and, once the split exists,
 * exec-once with every syscall notified, as `run --notify-all`), the default policy and
 * syscall-count: wall time of the command, its ratio to no filter, and the fraction of its
 * syscalls decided in the kernel.
 *
 * Timing. Starting our supervisor costs a node start-up (CLI) or a worker thread (library),
 * hundreds of ms with more jitter than python3 -c pass takes in total, so the command times
 * itself: bench/c/stamp.c is preloaded (LD_PRELOAD) into the command and writes the time from
 * its constructor to its exit. The same library is preloaded in every configuration; what it
 * cannot see (execve, the dynamic loader mapping libraries, exit_group) is left out
 * everywhere. The filtered rows use the library API exactly as `seccomp-ebpf run` does
 * (loadFilter, Filter.spawn), one fresh filter per run; the filter is loaded before the clock
 * starts.
 *
 * Rounds: every (workload, filter) once per round, filters in a shuffled order, with a short
 * pause before each run so that the previous run's supervisor thread has wound down.
 *
 * Counting. Once per workload and filter, untimed and without the preload: the supervisor's
 * notifications are counted through the decision log (one record per notification), and the
 * total number of syscalls is syscall-count's map (every syscall is stateful for it, so it
 * sees them all, split or not), cross-checked with `strace -f -c` when strace is installed.
 * Kernel-decided fraction = 1 - notified / total.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { benchPrograms, ROOT } from './lib/programs.js';
import { median, roundOrder, sleep } from './lib/stats.js';
import { countedSyscalls, runSupervised, splitAvailable, type KernelFilterInfo } from './lib/supervised.js';

export type ConfigId = 'none' | 'kernel' | 'exec-once' | 'exec-once-notify-all' | 'default' | 'syscall-count';

interface Config {
  id: ConfigId;
  label: string;
  /** Our filter (path from the repository, or 'default'); none for the unsupervised rows. */
  filter?: string;
  /** The policy allows one exec only (the command's own). */
  execOnce?: boolean;
  /** Spawn's split option (false: `run --notify-all`). */
  split?: boolean;
}

/** The filters; exec-once --notify-all only once the split exists (before, exec-once is that). */
function configs(): Config[] {
  return [
    { id: 'none', label: 'no filter' },
    { id: 'kernel', label: 'kernel cBPF (arch check + allow)' },
    { id: 'exec-once', label: 'exec-once', filter: 'examples/exec-once.bpf.o', execOnce: true },
    ...(splitAvailable() ? [{ id: 'exec-once-notify-all' as const, label: 'exec-once, --notify-all', filter: 'examples/exec-once.bpf.o', execOnce: true, split: false }] : []),
    { id: 'default', label: 'default policy', filter: 'default', execOnce: true },
    { id: 'syscall-count', label: 'syscall-count', filter: 'examples/syscall-count.bpf.o' },
  ];
}

interface Workload {
  id: string;
  label: string;
  cmd: string;
  args: string[];
  /** Runs other programs (so cannot run under an exec-once policy). */
  execs: boolean;
}

export interface WorkloadRow {
  workload: string;
  config: ConfigId;
  label: string;
  /** Absent when the row cannot run (reason given). */
  samples?: number[];
  medianNs?: number;
  minNs?: number;
  /** median / no filter's median. */
  ratio?: number;
  /** min / no filter's min: under load, the fastest run is the best estimate of the cost. */
  ratioMin?: number;
  /** CPU time (process and children) of each run, ns; its median and ratio to no filter's.
   *  Preemption does not inflate it, but neither does waiting for the supervisor: it is a
   *  fair comparison only for rows with few notifications. */
  cpuSamples?: number[];
  cpuMedianNs?: number;
  cpuRatio?: number;
  skipped?: string;
  /** Notifications the supervisor handled in the counting run. */
  notified?: number;
  /** The syscalls most often notified (name, count), at most 6. */
  notifiedTop?: [string, number][];
  /** 1 - notified / total. */
  kernelFraction?: number;
  /** (min - no filter's min) / notified, µs: what each notification cost (when >= 100). */
  usPerNotification?: number;
}

export interface WorkloadResult {
  runs: number;
  /** The kernel filter each of our filters got (absent before the split existed). */
  kernelFilters: { config: ConfigId; split: boolean; instructions: number; warnings: string[] }[];
  workloads: { id: string; label: string; command: string; totalSyscalls: number; straceSyscalls?: number }[];
  rows: WorkloadRow[];
  notes: string[];
}

/** Pause before each timed run. */
const SETTLE_MS = 150;

const SHELL_SCRIPT = [
  'T=$1',
  'for i in 1 2 3 4 5 6 7 8; do',
  '  ls -l /usr/bin > "$T/ls"',
  '  wc -lwc "$T/ls" /etc/passwd /etc/services > /dev/null',
  '  sort -k5n "$T/ls" | sed -e "s/root/ROOT/g" > "$T/sorted"',
  'done',
].join('\n');

function workloads(work: string): Workload[] {
  const out: Workload[] = [];
  if (existsSync('/usr/bin/python3')) out.push({ id: 'python', label: 'python3 -c pass', cmd: '/usr/bin/python3', args: ['-c', 'pass'], execs: false });
  const dir = existsSync('/usr/share/doc') ? '/usr/share/doc' : join(ROOT, 'node_modules');
  out.push({ id: 'tar', label: `tar -cf FILE ${dir}`, cmd: '/usr/bin/tar', args: ['-cf', join(work, 'out.tar'), '-C', dirname(dir), basename(dir)], execs: false });
  out.push({ id: 'shell', label: 'sh: 8 x (ls -l, wc, sort | sed)', cmd: '/bin/sh', args: ['-c', SHELL_SCRIPT, 'sh', work], execs: true });
  return out;
}

interface Stamp { ns: number; cpuNs: number }

function readStamp(path: string, what: string): Stamp {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const lines = text.split('\n').filter((l) => l.startsWith('ns='));
  const m = lines.length === 1 ? /^ns=(\d+) cpu_ns=(\d+)$/.exec(lines[0]!) : null;
  if (!m) throw new Error(`${what}: expected one timing line from bench/c/stamp.c, got ${JSON.stringify(text)}`);
  return { ns: Number(m[1]), cpuNs: Number(m[2]) };
}

async function timeOnce(w: Workload, c: Config, stampFile: string): Promise<Stamp> {
  const p = benchPrograms();
  rmSync(stampFile, { force: true });
  const env = { ...process.env, LD_PRELOAD: p.stamp, BENCH_STAMP: stampFile };
  const what = `${w.label} under ${c.label}`;
  if (c.filter === undefined) {
    const argv = c.id === 'kernel' ? [p.cbpfRun, 'minimal', w.cmd, ...w.args] : [w.cmd, ...w.args];
    const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? r.status ?? r.signal}): ${r.stderr}`);
  } else {
    const r = await runSupervised(c.filter, w.cmd, w.args, { env, ...(c.split !== undefined ? { split: c.split } : {}) });
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code ?? r.signal}): ${r.stderr}`);
  }
  return readStamp(stampFile, what);
}

/** Total syscalls by strace -f -c (undefined without strace). */
function straceCount(w: Workload, work: string): number | undefined {
  const out = join(work, 'strace.txt');
  const r = spawnSync('strace', ['-f', '-c', '-o', out, '--', w.cmd, ...w.args], { stdio: 'ignore', timeout: 120_000 });
  if (r.error || r.status !== 0 || !existsSync(out)) return undefined;
  const total = readFileSync(out, 'utf8').split('\n').find((l) => /\stotal\s*$/.test(l));
  const fields = total?.trim().split(/\s+/) ?? [];
  // "100.00  secs  usecs/call  calls  [errors]  total"
  const calls = Number(fields[3]);
  return Number.isFinite(calls) ? calls : undefined;
}

export async function benchWorkloads(runs: number, log: (s: string) => void): Promise<WorkloadResult> {
  const work = mkdtempSync(join(tmpdir(), 'seccomp-ebpf-bench-'));
  const stampFile = join(work, 'stamp');
  const notes: string[] = [];
  try {
    const ws = workloads(work);
    const cfgs = configs();
    if (!ws.some((w) => w.id === 'python')) notes.push('no /usr/bin/python3: the python3 row is left out');
    const runnable = (w: Workload, c: Config): boolean => !(w.execs && c.execOnce);
    const samples = new Map<string, number[]>();
    const cpuSamples = new Map<string, number[]>();
    const key = (w: Workload, c: Config): string => `${w.id}/${c.id}`;

    for (let round = 0; round < runs; round++) {
      const t0 = Date.now();
      for (const w of ws) {
        for (const i of roundOrder(cfgs.length, round)) {
          const c = cfgs[i]!;
          if (!runnable(w, c)) continue;
          // Let the previous run's supervisor thread wind down: it shares our 2 CPUs.
          await sleep(SETTLE_MS);
          const t = await timeOnce(w, c, stampFile);
          samples.set(key(w, c), [...(samples.get(key(w, c)) ?? []), t.ns]);
          cpuSamples.set(key(w, c), [...(cpuSamples.get(key(w, c)) ?? []), t.cpuNs]);
        }
      }
      log(`  round ${round + 1}/${runs}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }

    // Counting runs: untimed, no preload.
    const info: WorkloadResult['workloads'] = [];
    const notified = new Map<string, number>();
    const top = new Map<string, [string, number][]>();
    const kernel = new Map<ConfigId, KernelFilterInfo>();
    const topOf = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]).slice(0, 6);
    for (const w of ws) {
      const sc = await runSupervised('examples/syscall-count.bpf.o', w.cmd, w.args, { count: true });
      if (sc.code !== 0) throw new Error(`${w.label} under syscall-count failed: ${sc.stderr}`);
      if (sc.kernelFilter) kernel.set('syscall-count', sc.kernelFilter);
      const total = countedSyscalls(sc.filter);
      notified.set(`${w.id}/syscall-count`, sc.notified);
      top.set(`${w.id}/syscall-count`, topOf(sc.bySyscall));
      for (const c of cfgs) {
        if (c.filter === undefined || c.id === 'syscall-count' || !runnable(w, c)) continue;
        const r = await runSupervised(c.filter, w.cmd, w.args, { count: true, ...(c.split !== undefined ? { split: c.split } : {}) });
        if (r.code !== 0) throw new Error(`${w.label} under ${c.label} failed: ${r.stderr}`);
        if (r.kernelFilter) kernel.set(c.id, r.kernelFilter);
        notified.set(key(w, c), r.notified);
        top.set(key(w, c), topOf(r.bySyscall));
      }
      const st = straceCount(w, work);
      info.push({ id: w.id, label: w.label, command: [w.cmd, ...w.args].join(' '), totalSyscalls: total, ...(st !== undefined ? { straceSyscalls: st } : {}) });
    }
    if (info.some((i) => i.straceSyscalls === undefined)) notes.push('strace not available: total syscalls from syscall-count only');

    const rows: WorkloadRow[] = [];
    for (const w of ws) {
      const base = median(samples.get(`${w.id}/none`)!);
      const baseMin = Math.min(...samples.get(`${w.id}/none`)!);
      const baseCpu = median(cpuSamples.get(`${w.id}/none`)!);
      const total = info.find((i) => i.id === w.id)!.totalSyscalls;
      for (const c of cfgs) {
        const row: WorkloadRow = { workload: w.id, config: c.id, label: c.label };
        if (!runnable(w, c)) {
          row.skipped = 'the policy allows one exec (the command\'s own); the script\'s commands would get EPERM';
          rows.push(row);
          continue;
        }
        const s = samples.get(key(w, c))!;
        row.samples = s;
        row.medianNs = median(s);
        row.minNs = Math.min(...s);
        row.ratio = row.medianNs / base;
        row.ratioMin = row.minNs / baseMin;
        row.cpuSamples = cpuSamples.get(key(w, c))!;
        row.cpuMedianNs = median(row.cpuSamples);
        row.cpuRatio = row.cpuMedianNs / baseCpu;
        // No filter: nothing to decide. The kernel row decides everything (0 notifications).
        const nt = c.id === 'none' ? undefined : c.filter === undefined ? 0 : notified.get(key(w, c));
        if (nt !== undefined) {
          row.notified = nt;
          const t = top.get(key(w, c));
          if (t) row.notifiedTop = t;
          row.kernelFraction = total > 0 ? Math.max(0, 1 - nt / total) : NaN;
          // Only where notifications are a real part of the run (one execve says nothing).
          if (nt >= 100) row.usPerNotification = (row.minNs - baseMin) / nt / 1000;
        }
        rows.push(row);
      }
    }
    const kernelFilters = [...kernel].map(([config, k]) => ({ config, ...k }));
    return { runs, kernelFilters, workloads: info, rows, notes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
