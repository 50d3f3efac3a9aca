/* SPDX-License-Identifier: GPL-2.0 */
/*
 * common.h - shared definitions for the seccomp-eBPF example filters and the
 * bundled default policy.
 *
 * Filters follow the patch series' samples: a SEC("seccomp") program taking a
 * `struct seccomp_data *` context and returning a 32-bit seccomp action.
 *
 * Context reads: a seccomp program may only read whole fields of struct
 * seccomp_data (nr: 4 bytes at 0, arch: 4 bytes at 4, instruction_pointer:
 * 8 bytes at 8, args[i]: 8 bytes at 16 + 8*i). Left to itself clang may narrow
 * a load whose result is masked (e.g. `nr & 0x40000000` becomes a 1-byte load
 * at offset 3), which the verifier rejects. The sd_*() accessors below read
 * through a volatile pointer, which LLVM never narrows or widens, so every
 * context access is exactly one whole-field load.
 */
#ifndef SECCOMP_EBPF_EXAMPLES_COMMON_H
#define SECCOMP_EBPF_EXAMPLES_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/seccomp.h>
#include <linux/audit.h>
#include <linux/errno.h>
#include <asm/unistd_64.h>
#include <bpf/bpf_helpers.h>

/*
 * The one architecture these filters accept. x86_64 is the only target of the
 * runtime today; to add another, build with -DFILTER_AUDIT_ARCH=AUDIT_ARCH_...
 * and the matching <asm/unistd*.h> (syscall numbers differ per architecture).
 */
#ifndef FILTER_AUDIT_ARCH
#define FILTER_AUDIT_ARCH AUDIT_ARCH_X86_64
#endif

/* x32 ABI syscalls on x86_64 carry this bit in nr (__X32_SYSCALL_BIT). */
#define FILTER_X32_SYSCALL_BIT 0x40000000u

/* SECCOMP_RET_ERRNO with the errno in the 16-bit data field. */
#define RET_ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

/* Whole-field context reads (see the header comment for why volatile). */
static __always_inline __u32 sd_nr(const struct seccomp_data *ctx)
{
	return *(const volatile __u32 *)&ctx->nr;
}

static __always_inline __u32 sd_arch(const struct seccomp_data *ctx)
{
	return *(const volatile __u32 *)&ctx->arch;
}

/* i must be a compile-time constant in 0..5. */
#define sd_arg(ctx, i) (*(const volatile __u64 *)&(ctx)->args[(i)])

#endif /* SECCOMP_EBPF_EXAMPLES_COMMON_H */
