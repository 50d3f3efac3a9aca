/**
 * @module supervisor/decision
 * What the supervisor does with a filter's return value (the u32 seccomp action), following
 * the enforcement table of docs/architecture.md. Pure: the worker turns a Decision into
 * ioctl responses and signals.
 *
 *   ret (u32):  | action (16 bits, SECCOMP_RET_ACTION_FULL) | data (16 bits, SECCOMP_RET_DATA) |
 */
import {
  MAX_ERRNO, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW, SECCOMP_RET_DATA, SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP,
  SECCOMP_RET_USER_NOTIF,
} from '../abi/seccomp.js';

/** Names used in decision logs (the kernel's actions_avail spelling, plus "fault"). */
export type ActionName =
  | 'allow' | 'log' | 'errno' | 'trap' | 'trace' | 'user_notif' | 'kill_process' | 'kill_thread'
  | 'unknown' | 'fault';

export type Decision =
  /** Let the syscall run: respond with SECCOMP_USER_NOTIF_FLAG_CONTINUE. */
  | { kind: 'continue'; action: 'allow' | 'log' }
  /** Skip the syscall; it returns -errno (or 0 when errno is 0). */
  | { kind: 'errno'; action: 'errno' | 'trace' | 'fault'; errno: number }
  /** Kill the process before the syscall runs; never answer. */
  | { kind: 'kill'; action: 'kill_process' | 'kill_thread' | 'unknown' }
  /** SIGSYS to the calling thread, the syscall fails with ENOSYS. */
  | { kind: 'trap'; action: 'trap'; data: number }
  /** Hand to the embedding application's handler (or ENOSYS without one). */
  | { kind: 'user_notif'; action: 'user_notif' };

const ENOSYS = 38;

/** Decodes a program's return value (R0; only its low 32 bits count, as in the kernel). */
export function decide(r0: bigint | number): Decision {
  const ret = Number(BigInt.asUintN(32, BigInt(r0)));
  const data = ret & SECCOMP_RET_DATA;
  switch ((ret & SECCOMP_RET_ACTION_FULL) >>> 0) {
    case SECCOMP_RET_ALLOW: return { kind: 'continue', action: 'allow' };
    case SECCOMP_RET_LOG: return { kind: 'continue', action: 'log' };
    case SECCOMP_RET_ERRNO: return { kind: 'errno', action: 'errno', errno: Math.min(data, MAX_ERRNO) };
    case SECCOMP_RET_TRACE: return { kind: 'errno', action: 'trace', errno: ENOSYS };
    case SECCOMP_RET_TRAP: return { kind: 'trap', action: 'trap', data };
    case SECCOMP_RET_USER_NOTIF: return { kind: 'user_notif', action: 'user_notif' };
    case SECCOMP_RET_KILL_PROCESS: return { kind: 'kill', action: 'kill_process' };
    case SECCOMP_RET_KILL_THREAD: return { kind: 'kill', action: 'kill_thread' };
    default: return { kind: 'kill', action: 'unknown' };
  }
}

/** The decision taken when the program faults at run time: fail closed with ENOSYS. */
export const FAULT_DECISION: Decision = { kind: 'errno', action: 'fault', errno: ENOSYS };
