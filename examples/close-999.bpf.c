// SPDX-License-Identifier: GPL-2.0
/*
 * close-999 - the patch series' sample filter (samples/bpf/test_seccomp_kern.c):
 * close(999) fails with EPERM; every other syscall, including close() of any
 * other fd, is allowed. Stateless: no maps, no globals, no helpers.
 *
 * Expected with test/programs/close-test.c: close111=9 (EBADF, allowed
 * through, fd not open) close999=1 (EPERM, filtered).
 */
#include "common.h"

SEC("seccomp")
int close_999(struct seccomp_data *ctx)
{
	if (sd_arch(ctx) != FILTER_AUDIT_ARCH)
		return RET_ERRNO(EPERM);

	if (sd_nr(ctx) == __NR_close && sd_arg(ctx, 0) == 999)
		return RET_ERRNO(EPERM);
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
