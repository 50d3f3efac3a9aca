/**
 * @module abi/seccomp
 * Constants and layouts of include/uapi/linux/seccomp.h and audit arch values.
 */

export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;
export const MAX_ERRNO = 4095;

export const SECCOMP_SET_MODE_FILTER = 1;
export const SECCOMP_GET_ACTION_AVAIL = 2;
export const SECCOMP_GET_NOTIF_SIZES = 3;

export const SECCOMP_FILTER_FLAG_TSYNC = 1;
export const SECCOMP_FILTER_FLAG_LOG = 2;
export const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
export const SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 16;
/** Mainline (5.19+) meaning of bit 5; the patch series used the same bit for EXTENDED. */
export const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 32;

export const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;
export const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1;

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
/** x32 syscalls are x86_64 syscalls with this bit set in nr. */
export const X32_SYSCALL_BIT = 0x40000000;

/** struct seccomp_data: 64 bytes, native endianness. */
export const SECCOMP_DATA_SIZE = 64;
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const SECCOMP_DATA_IP = 8;
export const seccompDataArg = (i: number): number => 16 + 8 * i;

/** struct seccomp_notif: id u64, pid u32, flags u32, data (64 bytes). */
export const SECCOMP_NOTIF_SIZE = 80;
/** struct seccomp_notif_resp: id u64, val s64, error s32, flags u32. */
export const SECCOMP_NOTIF_RESP_SIZE = 24;

/** Action names as the kernel's actions_avail sysctl spells them. */
export function actionName(ret: number): string {
  switch ((ret & SECCOMP_RET_ACTION_FULL) >>> 0) {
    case SECCOMP_RET_KILL_PROCESS: return 'kill_process';
    case SECCOMP_RET_KILL_THREAD: return 'kill_thread';
    case SECCOMP_RET_TRAP: return 'trap';
    case SECCOMP_RET_ERRNO: return 'errno';
    case SECCOMP_RET_USER_NOTIF: return 'user_notif';
    case SECCOMP_RET_TRACE: return 'trace';
    case SECCOMP_RET_LOG: return 'log';
    case SECCOMP_RET_ALLOW: return 'allow';
    default: return 'unknown';
  }
}
