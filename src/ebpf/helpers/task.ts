/**
 * @module ebpf/helpers/task
 * Identity of the filtered task: bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
 * bpf_get_current_comm.
 */
import type { HelperEnv } from '../vm/types.js';
import { u32 } from './util.js';

/** TASK_COMM_LEN: the kernel keeps at most 15 bytes of a thread name plus the NUL. */
export const TASK_COMM_LEN = 16;

const utf8 = new TextEncoder();

/** `tgid << 32 | tid`, as the supervisor's pid namespace sees them. */
export function getCurrentPidTgid(env: HelperEnv): bigint {
  return (BigInt(env.task.tgid() >>> 0) << 32n) | BigInt(env.task.tid >>> 0);
}

/** `gid << 32 | uid`. */
export function getCurrentUidGid(env: HelperEnv): bigint {
  return (BigInt(env.task.gid() >>> 0) << 32n) | BigInt(env.task.uid() >>> 0);
}

/**
 * bpf_get_current_comm(buf, size): strscpy_pad(buf, comm, size): at most size - 1 bytes of
 * the name, a NUL, zeros up to size. Returns 0 (the kernel's -EINVAL is for a missing
 * `current`, which cannot happen here).
 */
export function getCurrentComm(env: HelperEnv, r1: bigint, r2: bigint): bigint {
  const size = u32(r2);
  const buf = env.mem.slice(r1, size, true);
  if (size === 0) return 0n;
  const name = utf8.encode(env.task.comm()).subarray(0, TASK_COMM_LEN - 1);
  const nul = name.indexOf(0);
  const n = Math.min(nul >= 0 ? nul : name.length, size - 1);
  buf.fill(0);
  buf.set(name.subarray(0, n));
  return 0n;
}
