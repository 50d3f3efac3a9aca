/**
 * @module ebpf/helpers/probe
 * Reading memory that may fault: bpf_probe_read_user(_str) (the filtered task's memory),
 * bpf_probe_read_kernel(_str) (here: the program's own memory, the only "kernel" memory a
 * program can point at), and the legacy bpf_probe_read(_str), which x86-64 routes by address
 * (below the user address limit: user, else kernel).
 *
 * Stock semantics (mm/maccess.c, kernel/trace/bpf_trace.c): on failure the whole dst is
 * zeroed and the negative errno returned (-EFAULT for a bad address). The string variants copy
 * like strncpy_from_user: up to size - 1 bytes plus a NUL, bytes after the NUL untouched, and
 * return the length including the NUL. User strings are read page by page so that a string
 * that ends just before an unmapped page is read fine.
 *
 * The seccomp series' "dumpable" variants (chosen at load time for loaders without
 * CAP_SYS_PTRACE) first check the filtered task's dumpability: 0 (SUID_DUMP_DISABLE) →
 * zeroed dst and -EPERM. They need a task with a `dumpable()` method (DumpableTask); a task
 * without one counts as not dumpable (fail closed).
 */
import { EFAULT, EPERM } from '../maps/errno.js';
import type { HelperEnv, HelperFn, TaskContext } from '../vm/types.js';
import { readVmString, ret, u32 } from './util.js';

/** A TaskContext that reports get_dumpable() of its mm (0, 1 or 2). */
export interface DumpableTask extends TaskContext {
  dumpable(): number;
}

const PAGE = 4096n;
/** Upper end of user addresses (x86-64 TASK_SIZE_MAX with 5-level paging; 4-level is lower,
 *  and reads there fail in readMemory anyway). */
export const USER_ADDR_LIMIT = (1n << 56n) - PAGE;

function taskDumpable(task: TaskContext): boolean {
  const d = (task as Partial<DumpableTask>).dumpable;
  return typeof d === 'function' && d.call(task) !== 0;
}

/** copy_from_user_nofault: the bytes, or a negative errno. */
export function readUser(task: TaskContext, addr: bigint, len: number): Uint8Array | number {
  if (len === 0) return new Uint8Array(0);
  if (addr >= USER_ADDR_LIMIT || addr + BigInt(len) > USER_ADDR_LIMIT) return -EFAULT;
  const r = task.readMemory(addr, len);
  if (typeof r === 'number') return r < 0 ? r : -EFAULT;
  return r.length === len ? r : -EFAULT;
}

/**
 * strncpy_from_user_nofault(dst, addr, count): `copied` holds the bytes it writes (string and
 * NUL, or count - 1 bytes and a NUL), `length` its return value; or a negative errno.
 */
export function readUserString(task: TaskContext, addr: bigint, count: number): { copied: Uint8Array; length: number } | number {
  if (count <= 0) return { copied: new Uint8Array(0), length: 0 };
  if (addr >= USER_ADDR_LIMIT) return -EFAULT;
  const out = new Uint8Array(count);
  let done = 0;
  let at = addr;
  while (done < count) {
    const pageEnd = (at / PAGE + 1n) * PAGE;
    const n = Number(BigInt(count - done) < pageEnd - at ? BigInt(count - done) : pageEnd - at);
    if (at + BigInt(n) > USER_ADDR_LIMIT) return -EFAULT;
    let r = task.readMemory(at, n);
    if (typeof r === 'number' || r.length !== n) {
      // Like strncpy_from_user's byte-at-a-time fallback: the string may end before the
      // first unreadable byte (memory that is not page-granular, e.g. simulated).
      r = readBytesUntilNul(task, at, n);
      if (typeof r === 'number') return r;
    }
    const nul = r.indexOf(0);
    if (nul >= 0) {
      out.set(r.subarray(0, nul + 1), done);
      return { copied: out.subarray(0, done + nul + 1), length: done + nul + 1 };
    }
    out.set(r, done);
    done += n;
    at += BigInt(n);
  }
  out[count - 1] = 0;
  return { copied: out, length: count };
}

/** Reads byte by byte up to and including a NUL; a fault before the NUL is an error. */
function readBytesUntilNul(task: TaskContext, addr: bigint, n: number): Uint8Array | number {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b = task.readMemory(addr + BigInt(i), 1);
    if (typeof b === 'number' || b.length !== 1) return typeof b === 'number' && b < 0 ? b : -EFAULT;
    out[i] = b[0]!;
    if (b[0] === 0) return out.subarray(0, i + 1);
  }
  return out;
}

function probeReadUserImpl(env: HelperEnv, r1: bigint, r2: bigint, r3: bigint, dumpableCheck: boolean): bigint {
  const size = u32(r2);
  const dst = env.mem.slice(r1, size, true);
  if (dumpableCheck && !taskDumpable(env.task)) {
    dst.fill(0);
    return ret(-EPERM);
  }
  const r = readUser(env.task, r3, size);
  if (typeof r === 'number') {
    dst.fill(0);
    return ret(r);
  }
  dst.set(r);
  return 0n;
}

function probeReadUserStrImpl(env: HelperEnv, r1: bigint, r2: bigint, r3: bigint, dumpableCheck: boolean): bigint {
  const size = u32(r2);
  const dst = env.mem.slice(r1, size, true);
  if (dumpableCheck && !taskDumpable(env.task)) {
    dst.fill(0);
    return ret(-EPERM);
  }
  const r = readUserString(env.task, r3, size);
  if (typeof r === 'number') {
    dst.fill(0);
    return ret(r);
  }
  dst.set(r.copied);
  return ret(r.length);
}

export const probeReadUser: HelperFn = (env, r1, r2, r3) => probeReadUserImpl(env, r1, r2, r3, false);
export const probeReadUserStr: HelperFn = (env, r1, r2, r3) => probeReadUserStrImpl(env, r1, r2, r3, false);
export const probeReadUserDumpable: HelperFn = (env, r1, r2, r3) => probeReadUserImpl(env, r1, r2, r3, true);
export const probeReadUserStrDumpable: HelperFn = (env, r1, r2, r3) => probeReadUserStrImpl(env, r1, r2, r3, true);

/** bpf_probe_read_kernel(dst, size, ptr) over program memory. */
export const probeReadKernel: HelperFn = (env, r1, r2, r3) => {
  const size = u32(r2);
  const dst = env.mem.slice(r1, size, true);
  let src: Uint8Array;
  try {
    src = env.mem.slice(r3, size, false);
  } catch {
    dst.fill(0);
    return ret(-EFAULT);
  }
  dst.set(src.slice());
  return 0n;
};

/** bpf_probe_read_kernel_str(dst, size, ptr) over program memory. */
export const probeReadKernelStr: HelperFn = (env, r1, r2, r3) => {
  const size = u32(r2);
  const dst = env.mem.slice(r1, size, true);
  if (size === 0) return 0n;
  const s = readVmString(env.mem, r3, size);
  if (!s) {
    dst.fill(0);
    return ret(-EFAULT);
  }
  dst.set(s);
  dst[s.length] = 0;
  return ret(s.length + 1);
};

/** bpf_probe_read (legacy, x86-64): user memory below the user address limit, else kernel. */
export const probeReadCompat: HelperFn = (env, r1, r2, r3, r4, r5) =>
  r3 < USER_ADDR_LIMIT ? probeReadUser(env, r1, r2, r3, r4, r5) : probeReadKernel(env, r1, r2, r3, r4, r5);

/** bpf_probe_read_str (legacy, x86-64): as probeReadCompat for strings. */
export const probeReadCompatStr: HelperFn = (env, r1, r2, r3, r4, r5) =>
  r3 < USER_ADDR_LIMIT ? probeReadUserStr(env, r1, r2, r3, r4, r5) : probeReadKernelStr(env, r1, r2, r3, r4, r5);
