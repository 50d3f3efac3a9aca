/**
 * @module spawn
 * Starting a command under a filter: resolve the command in PATH (in JS: once the filter is
 * installed the child makes no syscall but its execve, and that execve is itself filtered),
 * fork + install the kernel filter (the split's classic-BPF filter, or the notify-everything
 * stub) + execve through the native addon (from the main thread: PR_SET_PDEATHSIG is tied to
 * the forking thread), then start the supervisor whose worker thread answers the child's
 * notified syscalls, starting with that execve when the program needs it.
 */
import { accessSync, constants as fsConstants, openSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV } from './abi/seccomp.js';
import type { Insn } from './ebpf/insn.js';
import type { SharedMapState } from './ebpf/maps/types.js';
import { SeccompEbpfError } from './errors.js';
import { loadAddon } from './native/addon.js';
import { spawnFiltered, SyscallError, type SpawnedProcess } from './native/syscalls.js';
import type { LogRecord } from './supervisor/log.js';
import { encodeSockFilters, kernelFilterFor } from './supervisor/stub.js';
import { Supervisor, type ExitStatus, type UserNotifHandler } from './supervisor/supervisor.js';
import { helperGrant, isVerifiedProgram } from './ebpf/verifier/load.js';
import type { VerifiedProgram } from './ebpf/verifier/types.js';

/** One of the child's standard streams: a file descriptor of this process to pass on,
 *  'inherit' (ours) or 'ignore' (/dev/null). */
export type StdioEntry = number | 'inherit' | 'ignore';

export interface SpawnOptions {
  /** Default 'inherit'. */
  stdio?: 'inherit' | 'ignore' | readonly [StdioEntry, StdioEntry, StdioEntry];
  /** The child's environment (default: this process's). */
  env?: Record<string, string | undefined>;
  /** The child's working directory (default: ours). */
  cwd?: string;
  /** argv[0] (default: `file` as given). */
  argv0?: string;
  /** Called on the main thread for each USER_NOTIF verdict; without it those syscalls fail
   *  with ENOSYS, as in the kernel when the filter has no listener. */
  onUserNotif?: UserNotifHandler;
  /** Decision log: a file path (JSON lines, truncated first) or a callback; without it, LOG
   *  verdicts and trace_printk lines go to stderr. */
  log?: string | ((record: LogRecord) => void);
  /**
   * Decide every syscall whose verdict does not depend on state in a kernel classic-BPF filter
   * (the split, src/split), and send only the rest to the supervisor. Default: true, except
   * with `log` (a decision log records only what the supervisor sees; pass `split: true` to
   * accept that). false sends every syscall to the supervisor.
   */
  split?: boolean;
}

/** A process running under a filter. */
export interface FilteredProcess {
  readonly pid: number;
  /** Settles when the process has exited and its supervisor has stopped (decision log
   *  flushed); rejects if the supervisor failed. */
  readonly exited: Promise<ExitStatus>;
  /** Sends a signal (default SIGTERM) through the pidfd. */
  kill(signal?: NodeJS.Signals | number): void;
  /** The classic-BPF filter installed in the kernel: the split's or the notify-everything stub,
   *  its size, and what it had to leave to the supervisor only because of its size. */
  readonly kernelFilter: { split: boolean; instructions: number; warnings: string[] };
}

/** What the supervisor runs: a program loadProgram verified (nothing else runs), and its maps. */
export interface RunnableProgram {
  verified: VerifiedProgram;
  maps: SharedMapState[];
  source?: string;
}

const SPAWN_KEYS = new Set(['stdio', 'env', 'cwd', 'argv0', 'onUserNotif', 'log', 'split']);

/**
 * Finds `file` the way execvp does: as given when it contains a slash, else in each PATH
 * directory. Throws ERR_SPAWN_NOT_FOUND when there is no executable file of that name.
 */
export function resolveCommand(file: string, path: string | undefined, cwd: string): string {
  if (typeof file !== 'string' || file === '') throw new SeccompEbpfError('ERR_SPAWN_NOT_FOUND', 'no command given');
  if (file.includes('/')) return file;
  let denied: string | undefined;
  for (const dir of (path ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = join(isAbsolute(dir) ? dir : resolve(cwd, dir || '.'), file);
    try {
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      denied ??= candidate;
    }
  }
  if (denied) throw new SeccompEbpfError('ERR_SPAWN_NOT_EXECUTABLE', `${file}: permission denied (${denied})`);
  throw new SeccompEbpfError('ERR_SPAWN_NOT_FOUND', `${file}: command not found in PATH`);
}

function stdioFds(stdio: SpawnOptions['stdio'], toClose: number[]): [number, number, number] {
  const entries: readonly StdioEntry[] = stdio === undefined || stdio === 'inherit' ? ['inherit', 'inherit', 'inherit']
    : stdio === 'ignore' ? ['ignore', 'ignore', 'ignore'] : stdio;
  if (!Array.isArray(entries) || entries.length !== 3) throw new TypeError('stdio must be "inherit", "ignore" or [in, out, err]');
  return entries.map((e, i) => {
    if (e === 'inherit') return -1;
    if (e === 'ignore') {
      const fd = openSync('/dev/null', i === 0 ? 'r' : 'w');
      toClose.push(fd);
      return fd;
    }
    if (typeof e === 'number' && Number.isInteger(e) && e >= 0) return e;
    throw new TypeError(`stdio[${i}] must be a file descriptor, "inherit" or "ignore"`);
  }) as [number, number, number];
}

function envList(env: Record<string, string | undefined>): string[] {
  return Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
}

function spawnChild(file: string, argv: string[], env: string[], cwd: string | undefined, stdio: [number, number, number], filter: Uint8Array): { child: SpawnedProcess; killableWait: boolean } {
  const base = { file, argv, env, cwd: cwd ?? null, filter, stdio } as const;
  try {
    return { child: spawnFiltered({ ...base, flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV }), killableWait: true };
  } catch (e) {
    // Kernels before 5.19 refuse WAIT_KILLABLE_RECV; the loop then answers TRAP differently.
    if (!(e instanceof SyscallError && e.errno === 22 && e.call === 'seccomp(SET_MODE_FILTER)')) throw wrapSpawnError(e, file);
  }
  try {
    return { child: spawnFiltered(base), killableWait: false };
  } catch (e) {
    throw wrapSpawnError(e, file);
  }
}

function wrapSpawnError(e: unknown, file: string): unknown {
  if (!(e instanceof SyscallError)) return e;
  if (e.call === 'execve') {
    // faccessat(X_OK) in the child, just before the filter: the exec would fail.
    const code = e.errno === 2 ? 'ERR_SPAWN_NOT_FOUND' : 'ERR_SPAWN_NOT_EXECUTABLE';
    return new SeccompEbpfError(code, `${file}: cannot execute: ${e.errnoName}`, undefined, { cause: e });
  }
  if (e.call === 'seccomp(SET_MODE_FILTER)') {
    return new SeccompEbpfError('ERR_SPAWN_SECCOMP', `cannot install the seccomp filter: ${e.message}`, undefined, { cause: e });
  }
  return new SeccompEbpfError('ERR_SPAWN_FAILED', `cannot start ${file}: ${e.message}`, undefined, { cause: e });
}

/**
 * Starts `file` under `program`. Throws ERR_SPAWN_NOT_FOUND / ERR_SPAWN_NOT_EXECUTABLE when the
 * command cannot run, ERR_SPAWN_SECCOMP when the kernel refuses the filter (no seccomp user
 * notification), ERR_SPAWN_FAILED for other failures, ERR_LOG_OPEN when the log file cannot
 * be created, ERR_NATIVE_MISSING without the addon.
 */
export function spawnUnderFilter(program: RunnableProgram, file: string, args: readonly string[], opts: SpawnOptions = {}): FilteredProcess {
  for (const k of Object.keys(opts)) if (!SPAWN_KEYS.has(k)) throw new TypeError(`unknown spawn option "${k}"`);
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new TypeError('args must be an array of strings');
  if (opts.onUserNotif !== undefined && typeof opts.onUserNotif !== 'function') throw new TypeError('onUserNotif must be a function');
  if (opts.split !== undefined && typeof opts.split !== 'boolean') throw new TypeError('split must be a boolean');
  if (!isVerifiedProgram(program.verified)) {
    throw new SeccompEbpfError('ERR_PROG_NOT_VERIFIED', 'spawnUnderFilter runs only programs that loadProgram verified');
  }
  const grant = helperGrant(program.verified);
  const insns = program.verified.insns as Insn[];
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const path = resolveCommand(file, env.PATH, cwd);
  loadAddon();

  const toClose: number[] = [];
  let logFd: number | undefined;
  try {
    const stdio = stdioFds(opts.stdio, toClose);
    if (typeof opts.log === 'string') {
      try {
        logFd = openSync(opts.log, 'w');
      } catch (e) {
        throw new SeccompEbpfError('ERR_LOG_OPEN', `cannot create the log file: ${(e as Error).message}`, { file: opts.log });
      }
    }
    const kf = kernelFilterFor({ insns, maps: program.maps }, opts.split ?? opts.log === undefined);
    const { child, killableWait } = spawnChild(path, [opts.argv0 ?? file, ...args], envList(env), opts.cwd, stdio, encodeSockFilters(kf.filter));
    let sup: Supervisor;
    try {
      sup = new Supervisor({
        listenerFd: child.listenerFd,
        pidfd: child.pidfd,
        childPid: child.pid,
        insns,
        grant,
        maps: program.maps,
        killableWait,
        ...(logFd !== undefined ? { log: { fd: logFd } } : typeof opts.log === 'function' ? { log: opts.log } : {}),
        ...(opts.onUserNotif ? { onUserNotif: opts.onUserNotif } : {}),
        ...(program.source !== undefined ? { source: program.source } : {}),
      });
    } catch (e) {
      const native = loadAddon();
      native.pidfdSendSignal(child.pidfd, 9);
      native.waitPidfd(child.pidfd, 4);
      native.close(child.pidfd);
      native.close(child.listenerFd);
      throw e;
    }
    logFd = undefined; // the supervisor owns it now
    return {
      pid: child.pid,
      exited: sup.exited,
      kernelFilter: { split: kf.split, instructions: kf.filter.length, warnings: kf.warnings },
      kill(signal: NodeJS.Signals | number = 'SIGTERM'): void {
        sup.signal(typeof signal === 'number' ? signal : signalNumber(signal));
      },
    };
  } finally {
    const native = loadAddon();
    for (const fd of toClose) native.close(fd);
    if (logFd !== undefined) native.close(logFd);
  }
}

function signalNumber(name: string): number {
  const n = (osConstants.signals as Record<string, number>)[name];
  if (n === undefined) throw new TypeError(`unknown signal ${name}`);
  return n;
}
