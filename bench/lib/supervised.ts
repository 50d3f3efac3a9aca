/**
 * @module bench/lib/supervised
 * Runs a command under one of our filters through the library (what `seccomp-ebpf run` does
 * after parsing its options: loadFilter, then Filter.spawn), so that a benchmark can load the
 * filter outside the timed span, count the notifications the supervisor handled (one decision
 * log record each: the log callback records every decision) and read the filter's maps after
 * the run. A fresh filter per run: exec-once's counter must start at 0 each time.
 *
 * The split: `run` lets the kernel decide every stateless verdict unless told --notify-all,
 * but a decision log switches the split off unless `split: true` is passed. Counting runs pass
 * `split` explicitly so that they count what a timed run (no log) sends to the supervisor.
 * Before the split existed, spawn had no such option (and notified everything): then it is
 * left out.
 */
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPolicyPath, Filter, loadFilter, type FilteredProcess, type LogRecord, type SpawnOptions } from '../../src/index.js';
import { ROOT } from './programs.js';

export interface SupervisedResult {
  code: number | null;
  signal: string | null;
  /** Notifications the supervisor handled (only counted with `count: true`). */
  notified: number;
  /** Of those, per syscall name (or number). */
  bySyscall: Map<string, number>;
  stderr: string;
  filter: Filter;
  /** The kernel filter spawn reported (absent before the split existed). */
  kernelFilter?: KernelFilterInfo;
}

export interface KernelFilterInfo {
  split: boolean;
  instructions: number;
  warnings: string[];
}

let splitOption: boolean | undefined;

/** True when the library has the split (Filter.split, spawn's `split` option). */
export function splitAvailable(): boolean {
  return splitOption ?? typeof (Filter.prototype as { split?: unknown }).split === 'function';
}

export interface SupervisedOptions {
  env?: Record<string, string | undefined>;
  /** Count notifications through the decision log (costs a little per notification). */
  count?: boolean;
  /** false: every syscall to the supervisor (`run --notify-all`). Default: as `run`. */
  split?: boolean;
  globals?: Record<string, number>;
}

/** `filter` is a path relative to the repository, or 'default' for the bundled policy. */
export async function runSupervised(filter: string, cmd: string, args: readonly string[], opts: SupervisedOptions = {}): Promise<SupervisedResult> {
  const f = await loadFilter(filter === 'default' ? defaultPolicyPath() : join(ROOT, filter));
  for (const [k, v] of Object.entries(opts.globals ?? {})) f.setGlobal(k, v);
  const errPath = join(tmpdir(), `seccomp-ebpf-bench-${process.pid}-${Date.now()}.err`);
  const errFd = openSync(errPath, 'w+');
  let notified = 0;
  const bySyscall = new Map<string, number>();
  const log = (r: LogRecord): void => {
    if ('trace' in r) return;
    notified++;
    const name = r.syscall ?? String(r.nr);
    bySyscall.set(name, (bySyscall.get(name) ?? 0) + 1);
  };
  try {
    const base: SpawnOptions = {
      stdio: ['ignore', 'ignore', errFd],
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.count ? { log } : {}),
    };
    // With a log, `split` must be explicit (true is what run does without --notify-all).
    const split = opts.split ?? (opts.count ? true : undefined);
    let child: FilteredProcess & { kernelFilter?: KernelFilterInfo };
    if (split === undefined || splitOption === false) {
      if (split === false && splitOption === false) throw new Error('this version of spawn has no split option (everything is notified already)');
      child = f.spawn(cmd, args, base);
    } else {
      try {
        child = f.spawn(cmd, args, { ...base, split } as SpawnOptions);
        splitOption = true;
      } catch (e) {
        if (!(e instanceof TypeError && /unknown spawn option "split"/.test(e.message))) throw e;
        splitOption = false;
        if (split === false) throw new Error('this version of spawn has no split option (everything is notified already)');
        child = f.spawn(cmd, args, base);
      }
    }
    const st = await child.exited;
    const res: SupervisedResult = { code: st.code, signal: st.signal, notified, bySyscall, stderr: readFileSync(errPath, 'utf8'), filter: f };
    if (child.kernelFilter) res.kernelFilter = child.kernelFilter;
    return res;
  } finally {
    closeSync(errFd);
    rmSync(errPath, { force: true });
  }
}

/** Sum of syscall-count's `counts` map: every syscall the process tree made. */
export function countedSyscalls(f: Filter): number {
  let total = 0n;
  for (const e of f.map('counts').entries()) total += BigInt(e.value as bigint | number);
  return Number(total);
}
