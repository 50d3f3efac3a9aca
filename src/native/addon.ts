/**
 * @module native/addon
 * The only loader of `build/Release/seccomp_ebpf.node` and the TypeScript declaration of every
 * function it exports. The addon is thin (native/*.c): one function per syscall or ioctl,
 * numbers/bigints/strings/typed arrays in, numbers out, failures as `-errno`. Struct layouts
 * are packed and unpacked in TS; typed wrappers that throw live in `./syscalls.ts`.
 *
 * Loading is lazy (first call of loadAddon) and cached per thread; the module is
 * context-aware, so worker threads may load it too.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeccompEbpfError } from '../errors.js';

export interface NativeAddon {
  /**
   * fork + seccomp(SET_MODE_FILTER, flags | NEW_LISTENER [| WAIT_KILLABLE_RECV]) + execve.
   * `filter` holds struct sock_filter entries (8 bytes each); `file` is executed as given (no
   * PATH search); `stdio` is [in, out, err] with -1 = inherit. Only fds 0..2 survive execve.
   * Returns [pid, pidfd, listenerFd] (both fds O_CLOEXEC) or, on failure, [-errno, step]
   * (step: see SPAWN_STEP_NAMES in ./syscalls.ts). Call from the main thread (PDEATHSIG is
   * tied to the calling thread).
   */
  spawnFiltered(
    file: string,
    argv: string[],
    envp: string[],
    cwd: string | null,
    filter: Uint8Array,
    flags: number,
    stdio: Int32Array,
  ): Int32Array;
  /** Zeroes buf (>= 80 bytes, struct seccomp_notif) then SECCOMP_IOCTL_NOTIF_RECV; blocks; 0 or -errno. */
  notifReceive(fd: number, buf: Uint8Array): number;
  /** SECCOMP_IOCTL_NOTIF_SEND; error is a negative errno or 0; 0 or -errno. */
  notifRespond(fd: number, id: bigint, val: bigint, error: number, flags: number): number;
  /** SECCOMP_IOCTL_NOTIF_ID_VALID: 0 while pending, -ENOENT when the notification is gone. */
  notifIdValid(fd: number, id: bigint): number;
  /** SECCOMP_IOCTL_NOTIF_ADDFD: the fd number in the target, or -errno. */
  notifAddFd(fd: number, id: bigint, srcFd: number, newFd: number, newFdFlags: number, flags: number): number;
  /** SECCOMP_IOCTL_NOTIF_SET_FLAGS (6.6+): 0, or -EINVAL/-ENOTTY on older kernels. */
  notifSetFlags(fd: number, flags: number): number;
  /**
   * A notification waiter for the calling thread (native/waiter.c): a watcher thread turns the
   * exit of `pidfd`'s process into an interrupted RECV. `buf` (at least WAITER.BUF_SIZE bytes)
   * is where every wait of this waiter works. A handle, or -errno.
   */
  notifWaiterOpen(listener: number, pidfd: number, buf: Uint8Array): NotifWaiter | number;
  /**
   * Sends the response in the waiter's buffer if buf[104..108) is 1, then waits for the next
   * notification (RECV into buf[0..80), its id copied into the response at buf[80..104)).
   * Returns 0 (a notification), 1 (the process exited), 2 (timeout) or -errno; the SEND's
   * result is in buf[108..112).
   */
  notifWaiterNext(waiter: NotifWaiter, timeoutMs: number): number;
  /** Stops the watcher thread; 0. */
  notifWaiterClose(waiter: NotifWaiter): number;
  /** poll(2) over parallel arrays; restarts on EINTR with the remaining time; count or -errno. */
  poll(fds: Int32Array, events: Int16Array, revents: Int16Array, timeoutMs: number): number;
  /** process_vm_readv: bytes read (may be short) or -errno. */
  readProcessMemory(pid: number, addr: bigint, buf: Uint8Array): number;
  /** waitid(P_PIDFD): [pid, si_code, si_status] (pid 0 when WNOHANG and nothing yet) or -errno. */
  waitPidfd(pidfd: number, options: number): Int32Array | number;
  pidfdSendSignal(pidfd: number, sig: number): number;
  tgkill(tgid: number, tid: number, sig: number): number;
  kill(pid: number, sig: number): number;
  /** eventfd(2): fd or -errno. */
  eventfd(initval: number, flags: number): number;
  eventfdWrite(fd: number, value: bigint): number;
  /** The counter, or -errno as a number (e.g. -EAGAIN with EFD_NONBLOCK). */
  eventfdRead(fd: number): bigint | number;
  close(fd: number): number;
  /** clock_gettime in nanoseconds; a negative bigint (-errno) for an invalid clock. */
  clockGetTime(clockId: number): bigint;
  /** CPU the calling thread runs on, or -errno. */
  getcpu(): number;
  /** SECCOMP_GET_NOTIF_SIZES: [notif, resp, data] or -errno. */
  seccompNotifSizes(): Int32Array | number;
  /** BPF_PROG_LOAD: prog fd or -errno; `log` receives the verifier log when given. */
  bpfProgLoad(progType: number, insns: Uint8Array, license: string, logLevel: number, log: Uint8Array | null): number;
  /** BPF_PROG_TEST_RUN: [retval, duration ns] or -errno. retval is a u32 in an int32 slot: use `>>> 0`. */
  bpfProgTestRun(progFd: number, dataIn: Uint8Array, repeat: number): Int32Array | number;
  bpfMapCreate(type: number, keySize: number, valueSize: number, maxEntries: number, flags: number): number;
  /** 0, -ENOENT (no such key), or -errno. Buffers smaller than the map's sizes: -EINVAL. */
  bpfMapLookup(fd: number, key: Uint8Array, value: Uint8Array): number;
  bpfMapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): number;
  bpfMapDelete(fd: number, key: Uint8Array): number;
  /** 0, -ENOENT after the last key, or -errno; key null asks for the first key. */
  bpfMapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): number;
}

/** Opaque handle of a notification waiter. */
export type NotifWaiter = { readonly __brand: 'NotifWaiter' };

/** The contract of native/waiter.c: its buffer (struct seccomp_notif at 0, struct
 *  seccomp_notif_resp at 80, then the send flag and the send result, int32 each; the indexes
 *  are of an Int32Array over it) and notifWaiterNext's results. */
export const WAITER = {
  BUF_SIZE: 112,
  RESP_ERROR: 96 / 4,
  RESP_FLAGS: 100 / 4,
  SEND: 104 / 4,
  SEND_RESULT: 108 / 4,
  NEXT_NOTIF: 0,
  NEXT_EXITED: 1,
  NEXT_TIMEOUT: 2,
} as const;

const ADDON_NAME = 'seccomp_ebpf.node';
let cached: NativeAddon | undefined;

/** The package root: the nearest ancestor of this file that holds binding.gyp (works from
 *  src/ under tsx and from dist/src/ after tsc). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new SeccompEbpfError('ERR_NATIVE_MISSING', `cannot find the package root (binding.gyp) above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}

/** Where the addon may be, in search order. */
export function addonCandidates(): string[] {
  const root = packageRoot();
  return [join(root, 'build', 'Release', ADDON_NAME), join(root, 'build', 'Debug', ADDON_NAME)];
}

/** Loads (once per thread) and returns the native addon. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  if (process.platform !== 'linux') {
    throw new SeccompEbpfError('ERR_NATIVE_MISSING', `the native addon only exists on Linux (this is ${process.platform})`);
  }
  const candidates = addonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new SeccompEbpfError(
      'ERR_NATIVE_MISSING',
      `the native addon is not built (looked for ${candidates.join(', ')}); run \`npm install\` in ${packageRoot()} (\`npm run-script install\` rebuilds only the addon)`,
    );
  }
  try {
    cached = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    throw new SeccompEbpfError('ERR_NATIVE_LOAD', `cannot load the native addon ${path}: ${(e as Error).message}; rebuild it with \`npm run-script install\``, undefined, { cause: e });
  }
  return cached;
}

/** True when the addon can be loaded (for tests that skip without it). */
export function addonAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}
