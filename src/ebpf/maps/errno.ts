/**
 * @module ebpf/maps/errno
 * The Linux errno values that map operations and helpers return (as negative numbers, like the
 * kernel's helpers). Values are x86-64/generic Linux (include/uapi/asm-generic/errno*.h);
 * ENOTSUPP is the kernel-internal 524 that bpf(2) leaks for unsupported map operations.
 */

export const EPERM = 1;
export const ENOENT = 2;
export const E2BIG = 7;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
export const EOPNOTSUPP = 95;
/** Kernel-internal "operation is not supported" (include/linux/errno.h). */
export const ENOTSUPP = 524;
