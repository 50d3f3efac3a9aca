// SPDX-License-Identifier: GPL-2.0
/*
 * getpid-half - the patch series' benchmark filter (perf-test branch, global
 * counter version): the first HALF getpid() calls of the filtered process
 * tree run, every later one fails with EPERM. All other syscalls are allowed.
 *
 * Globals:
 *   HALF  (.rodata, const volatile __u64, default 500000 = N_CALL/2)
 *   count (.bss, __u64, starts at 0): getpid calls seen so far, shared by
 *         every task running the filter (atomic fetch-add, so exact under
 *         concurrency: exactly min(HALF, calls) calls are allowed).
 */
#include "common.h"

const volatile __u64 HALF = 500000;

__u64 count = 0;

SEC("seccomp")
int getpid_half(struct seccomp_data *ctx)
{
	if (sd_arch(ctx) != FILTER_AUDIT_ARCH)
		return RET_ERRNO(EPERM);

	if (sd_nr(ctx) == __NR_getpid) {
		if (__sync_fetch_and_add(&count, 1) < HALF)
			return SECCOMP_RET_ALLOW;
		return RET_ERRNO(EPERM);
	}
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
