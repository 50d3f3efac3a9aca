/**
 * @module native/syscalls
 * Typed wrappers over the native addon: validate arguments in JS (ERR_NATIVE_ARG), call the
 * addon, and turn `-errno` into a thrown {@link SyscallError}. Conditions a caller routinely
 * expects (a notification that vanished, a missing map key, an unsupported ioctl) come back
 * as booleans/null instead. Hot paths may call `loadAddon()` directly and test the numbers.
 */
import { constants as osConstants } from 'node:os';
import { SeccompEbpfError } from '../errors.js';
import { loadAddon } from './addon.js';

// ---- errno names ---------------------------------------------------------------------------

const ERRNO: Record<string, number> = osConstants.errno as Record<string, number>;
const NAMES = new Map<number, string>();
// Preferred spellings first where two names share a number.
for (const name of ['EAGAIN', 'EDEADLK', 'EOPNOTSUPP', ...Object.keys(ERRNO)]) {
  const n = ERRNO[name];
  if (n !== undefined && !NAMES.has(n)) NAMES.set(n, name);
}

const DESCRIPTIONS: Record<string, string> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', ESRCH: 'No such process',
  EINTR: 'Interrupted system call', EIO: 'Input/output error', ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long', ENOEXEC: 'Exec format error', EBADF: 'Bad file descriptor',
  ECHILD: 'No child processes', EAGAIN: 'Resource temporarily unavailable', ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied', EFAULT: 'Bad address', EBUSY: 'Device or resource busy', EEXIST: 'File exists',
  ENODEV: 'No such device', ENOTDIR: 'Not a directory', EISDIR: 'Is a directory', EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system', EMFILE: 'Too many open files', ENOTTY: 'Inappropriate ioctl for device',
  ETXTBSY: 'Text file busy', EFBIG: 'File too large', ENOSPC: 'No space left on device', EROFS: 'Read-only file system',
  EPIPE: 'Broken pipe', ERANGE: 'Numerical result out of range', ENAMETOOLONG: 'File name too long',
  ENOSYS: 'Function not implemented', ELOOP: 'Too many levels of symbolic links',
  EOVERFLOW: 'Value too large for defined data type', EOPNOTSUPP: 'Operation not supported',
  ETIMEDOUT: 'Connection timed out', ENOTSUP: 'Operation not supported', ECANCELED: 'Operation canceled',
  ENOTSOCK: 'Socket operation on non-socket', EXDEV: 'Invalid cross-device link', ENOTEMPTY: 'Directory not empty',
};

/** Symbolic name of an errno number (positive or negative), e.g. 22 → 'EINVAL'. */
export function errnoName(errno: number): string {
  return NAMES.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}

/** strerror-like text for the common errnos, '' for the others. */
export function errnoDescription(errno: number): string {
  return DESCRIPTIONS[errnoName(errno)] ?? '';
}

/** Number of an errno name ('EINVAL' → 22). */
export function errnoNumber(name: string): number {
  const n = ERRNO[name];
  if (n === undefined) throw new SeccompEbpfError('ERR_NATIVE_ARG', `unknown errno name ${name}`);
  return n;
}

/** A failed system call: `call` is what failed (e.g. 'seccomp(SET_MODE_FILTER)'), errno > 0. */
export class SyscallError extends SeccompEbpfError {
  readonly call: string;
  readonly errno: number;
  readonly errnoName: string;

  constructor(call: string, errno: number, detail?: string) {
    const e = Math.abs(errno);
    const desc = errnoDescription(e);
    super('ERR_SYSCALL', `${call}: ${errnoName(e)}${desc ? ` (${desc})` : ''}${detail ? `: ${detail}` : ''}`);
    this.name = 'SyscallError';
    this.call = call;
    this.errno = e;
    this.errnoName = errnoName(e);
  }
}

const ENOENT = ERRNO.ENOENT!;
const EINVAL = ERRNO.EINVAL!;
const ENOTTY = ERRNO.ENOTTY!;

function check(call: string, r: number): number {
  if (r < 0) throw new SyscallError(call, -r);
  return r;
}

function argError(what: string): never {
  throw new SeccompEbpfError('ERR_NATIVE_ARG', what);
}

function int(name: string, v: unknown, min = -0x8000_0000, max = 0x7fff_ffff): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    argError(`${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}
const fdArg = (name: string, v: unknown): number => int(name, v, 0);
const u32 = (name: string, v: unknown): number => int(name, v, 0, 0xffff_ffff);

function u64(name: string, v: unknown): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > 0xffff_ffff_ffff_ffffn) argError(`${name} must be a bigint in [0, 2^64), got ${String(v)}`);
  return v;
}

function bytes(name: string, v: unknown, minLength = 0): Uint8Array {
  if (!(v instanceof Uint8Array)) argError(`${name} must be a Uint8Array`);
  if (v.length < minLength) argError(`${name} must hold at least ${minLength} bytes, got ${v.length}`);
  return v;
}

function cString(name: string, v: unknown): string {
  if (typeof v !== 'string') argError(`${name} must be a string`);
  if (v.includes('\0')) argError(`${name} must not contain a NUL character`);
  return v;
}

// ---- constants -----------------------------------------------------------------------------

export const WNOHANG = 1;
export const WSTOPPED = 2;
export const WEXITED = 4;
export const WCONTINUED = 8;
export const WNOWAIT = 0x0100_0000;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;
export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
export const EFD_SEMAPHORE = 1;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;

/** What spawnFiltered was doing when it failed (the addon's step numbers). */
export const SPAWN_STEP_NAMES: Readonly<Record<number, string>> = {
  1: 'spawn (arguments)',
  2: 'mmap(MAP_SHARED)',
  3: 'fork',
  4: 'pidfd_open',
  5: 'prctl(PR_SET_PDEATHSIG)',
  6: 'getppid (the parent exited)',
  7: 'sigaction/sigprocmask',
  8: 'dup2',
  9: 'chdir',
  10: 'execve',
  11: 'prctl(PR_SET_NO_NEW_PRIVS)',
  12: 'seccomp(SET_MODE_FILTER)',
  13: 'spawn (waiting for the child)',
  14: 'pidfd_getfd',
};
/** Steps 1..9: before NO_NEW_PRIVS; 12: the kernel refused the filter or flags. */
export const SPAWN_STEP_SECCOMP = 12;

// ---- spawn ---------------------------------------------------------------------------------

export interface SpawnFilteredOptions {
  /** Path of the program, executed as given (resolve PATH before). */
  file: string;
  argv: readonly string[];
  /** `NAME=value` strings. */
  env: readonly string[];
  cwd?: string | null;
  /** Classic BPF program: struct sock_filter entries, 8 bytes each, 1..4096 of them. */
  filter: Uint8Array;
  /** Extra SECCOMP_FILTER_FLAG_* ORed with NEW_LISTENER. */
  flags?: number;
  /** [stdin, stdout, stderr] fds, -1 = inherit. */
  stdio?: readonly [number, number, number];
}

export interface SpawnedProcess {
  pid: number;
  /** O_CLOEXEC pidfd of the child. */
  pidfd: number;
  /** O_CLOEXEC seccomp notification listener, obtained before the child's execve. */
  listenerFd: number;
}

/** Extra explanation for failures that are otherwise puzzling. */
function spawnDetail(step: number, errno: number): string | undefined {
  if (step === 13 && errno === ERRNO.ETIMEDOUT) return 'the child did not report within 5 s';
  if (step === 13) return 'the child died before reporting';
  if (step === SPAWN_STEP_SECCOMP && errno === EINVAL) return 'the kernel rejected the filter program or the flags';
  if (step === 14 && errno === ERRNO.EPERM) return 'ptrace access to the child is denied (Yama ptrace_scope?)';
  return undefined;
}

/** Starts `file` under `filter`; throws SyscallError naming the failing step. Call from the
 *  main thread: the child is SIGKILLed when the thread that spawned it exits. */
export function spawnFiltered(o: SpawnFilteredOptions): SpawnedProcess {
  const file = cString('file', o.file);
  if (!Array.isArray(o.argv)) argError('argv must be an array of strings');
  if (!Array.isArray(o.env)) argError('env must be an array of strings');
  const argv = o.argv.map((s, i) => cString(`argv[${i}]`, s));
  const env = o.env.map((s, i) => cString(`env[${i}]`, s));
  const cwd = o.cwd == null ? null : cString('cwd', o.cwd);
  const filter = bytes('filter', o.filter);
  if (filter.length === 0 || filter.length % 8 !== 0 || filter.length > 4096 * 8) {
    argError(`filter must hold 1..4096 struct sock_filter entries (8 bytes each), got ${filter.length} bytes`);
  }
  const flags = u32('flags', o.flags ?? 0);
  const stdio = o.stdio ?? [-1, -1, -1];
  if (!Array.isArray(stdio) || stdio.length !== 3) argError('stdio must be [in, out, err]');
  const io = Int32Array.from(stdio.map((fd, i) => int(`stdio[${i}]`, fd, -1)));
  const r = loadAddon().spawnFiltered(file, argv, env, cwd, filter, flags, io);
  if (r.length === 3) return { pid: r[0]!, pidfd: r[1]!, listenerFd: r[2]! };
  const errno = -r[0]!;
  const step = r[1]!;
  throw new SyscallError(SPAWN_STEP_NAMES[step] ?? `spawn step ${step}`, errno, spawnDetail(step, errno));
}

// ---- seccomp notifications -----------------------------------------------------------------

/** Blocks for the next notification into buf (>= 80 bytes). False when it vanished (ENOENT:
 *  the target was killed or its syscall interrupted): receive again. */
export function notifReceive(fd: number, buf: Uint8Array): boolean {
  const r = loadAddon().notifReceive(fdArg('fd', fd), bytes('buf', buf, 80));
  if (r === -ENOENT) return false;
  check('ioctl(SECCOMP_IOCTL_NOTIF_RECV)', r);
  return true;
}

/** Answers notification `id`: error is 0 or a negative errno. False when the notification is
 *  no longer pending (ENOENT: the target died or was interrupted). */
export function notifRespond(fd: number, id: bigint, val: bigint, error: number, flags: number): boolean {
  if (typeof val !== 'bigint' || val < -(1n << 63n) || val >= 1n << 63n) argError(`val must be a bigint in [-2^63, 2^63), got ${String(val)}`);
  const r = loadAddon().notifRespond(fdArg('fd', fd), u64('id', id), val, int('error', error, -4095, 0), u32('flags', flags));
  if (r === -ENOENT) return false;
  check('ioctl(SECCOMP_IOCTL_NOTIF_SEND)', r);
  return true;
}

/** True while notification `id` is pending. */
export function notifIdValid(fd: number, id: bigint): boolean {
  const r = loadAddon().notifIdValid(fdArg('fd', fd), u64('id', id));
  if (r === -ENOENT) return false;
  check('ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID)', r);
  return true;
}

/** Installs srcFd into the target; returns the target's fd number. */
export function notifAddFd(fd: number, id: bigint, srcFd: number, newFd = 0, newFdFlags = 0, flags = 0): number {
  return check(
    'ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)',
    loadAddon().notifAddFd(fdArg('fd', fd), u64('id', id), fdArg('srcFd', srcFd), u32('newFd', newFd), u32('newFdFlags', newFdFlags), u32('flags', flags)),
  );
}

/** SECCOMP_IOCTL_NOTIF_SET_FLAGS; false when the kernel lacks it (before 6.6). */
export function notifSetFlags(fd: number, flags: number): boolean {
  const r = loadAddon().notifSetFlags(fdArg('fd', fd), u32('flags', flags));
  if (r === -ENOTTY || r === -EINVAL) return false;
  check('ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS)', r);
  return true;
}

export function seccompNotifSizes(): { notif: number; resp: number; data: number } {
  const r = loadAddon().seccompNotifSizes();
  if (typeof r === 'number') throw new SyscallError('seccomp(GET_NOTIF_SIZES)', -r);
  return { notif: r[0]!, resp: r[1]!, data: r[2]! };
}

// ---- processes, fds, clocks ----------------------------------------------------------------

/** poll(2) over parallel arrays; returns the number of ready fds (0 on timeout). */
export function poll(fds: Int32Array, events: Int16Array, revents: Int16Array, timeoutMs: number): number {
  if (!(fds instanceof Int32Array) || !(events instanceof Int16Array) || !(revents instanceof Int16Array)) {
    argError('poll takes (Int32Array, Int16Array, Int16Array, timeout)');
  }
  if (events.length < fds.length || revents.length < fds.length) argError('poll: events/revents shorter than fds');
  return check('poll', loadAddon().poll(fds, events, revents, int('timeoutMs', timeoutMs, -1)));
}

/** Waits up to timeoutMs (-1: forever) for `events` on one fd; returns revents (0 on timeout). */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  const revents = new Int16Array(1);
  poll(Int32Array.of(fdArg('fd', fd)), Int16Array.of(events), revents, timeoutMs);
  return revents[0]!;
}

/** process_vm_readv into buf; returns the bytes read (may be fewer than buf.length). */
export function readProcessMemory(pid: number, addr: bigint, buf: Uint8Array): number {
  return check('process_vm_readv', loadAddon().readProcessMemory(int('pid', pid, 1), u64('addr', addr), bytes('buf', buf)));
}

export interface WaitResult {
  pid: number;
  /** CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED... */
  code: number;
  /** Exit status (CLD_EXITED) or signal number. */
  status: number;
}

/** waitid(P_PIDFD); null when WNOHANG is set and the child has not changed state. */
export function waitPidfd(pidfd: number, options: number = WEXITED): WaitResult | null {
  const r = loadAddon().waitPidfd(fdArg('pidfd', pidfd), int('options', options));
  if (typeof r === 'number') throw new SyscallError('waitid(P_PIDFD)', -r);
  if (r[0] === 0) return null;
  return { pid: r[0]!, code: r[1]!, status: r[2]! };
}

export function pidfdSendSignal(pidfd: number, sig: number): void {
  check('pidfd_send_signal', loadAddon().pidfdSendSignal(fdArg('pidfd', pidfd), int('sig', sig, 0, 64)));
}

export function tgkill(tgid: number, tid: number, sig: number): void {
  check('tgkill', loadAddon().tgkill(int('tgid', tgid, 1), int('tid', tid, 1), int('sig', sig, 0, 64)));
}

export function kill(pid: number, sig: number): void {
  check('kill', loadAddon().kill(int('pid', pid), int('sig', sig, 0, 64)));
}

export function eventfd(initval: number, flags: number): number {
  return check('eventfd', loadAddon().eventfd(u32('initval', initval), int('flags', flags)));
}

export function eventfdWrite(fd: number, value: bigint): void {
  check('write(eventfd)', loadAddon().eventfdWrite(fdArg('fd', fd), u64('value', value)));
}

export function eventfdRead(fd: number): bigint {
  const r = loadAddon().eventfdRead(fdArg('fd', fd));
  if (typeof r === 'number') throw new SyscallError('read(eventfd)', -r);
  return r;
}

export function close(fd: number): void {
  check('close', loadAddon().close(fdArg('fd', fd)));
}

/** clock_gettime in nanoseconds. */
export function clockGetTime(clockId: number): bigint {
  const r = loadAddon().clockGetTime(int('clockId', clockId));
  if (r < 0n) throw new SyscallError('clock_gettime', Number(-r));
  return r;
}

export function getcpu(): number {
  return check('getcpu', loadAddon().getcpu());
}

// ---- bpf(2) --------------------------------------------------------------------------------

/** BPF_PROG_LOAD; on failure the error message ends with the verifier log's last lines. */
export function bpfProgLoad(progType: number, insns: Uint8Array, license: string, logLevel = 0, log: Uint8Array | null = null): number {
  bytes('insns', insns);
  if (insns.length === 0 || insns.length % 8 !== 0) argError(`insns must be a non-empty multiple of 8 bytes, got ${insns.length}`);
  if (log !== null) bytes('log', log);
  const r = loadAddon().bpfProgLoad(u32('progType', progType), insns, cString('license', license), u32('logLevel', logLevel), log);
  if (r < 0) {
    const text = log ? new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))).trim() : '';
    throw new SyscallError('bpf(BPF_PROG_LOAD)', -r, text ? `verifier log:\n${text.split('\n').slice(-12).join('\n')}` : undefined);
  }
  return r;
}

/** BPF_PROG_TEST_RUN: the program's r0 (u32) and the mean duration in ns. */
export function bpfProgTestRun(progFd: number, dataIn: Uint8Array, repeat = 1): { retval: number; duration: number } {
  const r = loadAddon().bpfProgTestRun(fdArg('progFd', progFd), bytes('dataIn', dataIn), u32('repeat', repeat));
  if (typeof r === 'number') throw new SyscallError('bpf(BPF_PROG_TEST_RUN)', -r);
  return { retval: r[0]! >>> 0, duration: r[1]! >>> 0 };
}

export function bpfMapCreate(type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0): number {
  return check(
    'bpf(BPF_MAP_CREATE)',
    loadAddon().bpfMapCreate(u32('type', type), u32('keySize', keySize), u32('valueSize', valueSize), u32('maxEntries', maxEntries), u32('flags', flags)),
  );
}

/** False when the key is absent. Buffers must be at least the map's key/value size. */
export function bpfMapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean {
  const r = loadAddon().bpfMapLookup(fdArg('fd', fd), bytes('key', key), bytes('value', value));
  if (r === -ENOENT) return false;
  check('bpf(BPF_MAP_LOOKUP_ELEM)', r);
  return true;
}

export function bpfMapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
  check('bpf(BPF_MAP_UPDATE_ELEM)', loadAddon().bpfMapUpdate(fdArg('fd', fd), bytes('key', key), bytes('value', value), u32('flags', flags)));
}

/** False when the key is absent. */
export function bpfMapDelete(fd: number, key: Uint8Array): boolean {
  const r = loadAddon().bpfMapDelete(fdArg('fd', fd), bytes('key', key));
  if (r === -ENOENT) return false;
  check('bpf(BPF_MAP_DELETE_ELEM)', r);
  return true;
}

/** Writes the key after `key` (the first key when null) into next; false at the end. */
export function bpfMapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  const r = loadAddon().bpfMapGetNextKey(fdArg('fd', fd), key === null ? null : bytes('key', key), bytes('next', next));
  if (r === -ENOENT) return false;
  check('bpf(BPF_MAP_GET_NEXT_KEY)', r);
  return true;
}
