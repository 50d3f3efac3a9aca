// SPDX-License-Identifier: GPL-2.0
/*
 * fault-inject - fails exactly one call of one syscall: the NTH call (1-based,
 * counted across the whole filtered process tree) of syscall NR returns
 * -ERR; every other call, of NR or of any other syscall, is allowed.
 *
 * Globals (set with --global NAME=VALUE):
 *   NR    (.rodata, const volatile __u32, default 39 = getpid on x86_64)
 *   NTH   (.rodata, const volatile __u32, default 1 = the first call)
 *   ERR   (.rodata, const volatile __u32, default 5 = EIO; only the low
 *          16 bits are used and the kernel caps errno at 4095)
 *   calls (.bss, __u64, starts at 0): calls of NR seen so far (atomic).
 * NTH = 0 never fails anything.
 */
#include "common.h"

const volatile __u32 NR = __NR_getpid;
const volatile __u32 NTH = 1;
const volatile __u32 ERR = EIO;

__u64 calls = 0;

SEC("seccomp")
int fault_inject(struct seccomp_data *ctx)
{
	if (sd_arch(ctx) != FILTER_AUDIT_ARCH)
		return RET_ERRNO(EPERM);

	if (sd_nr(ctx) == NR) {
		__u64 n = __sync_fetch_and_add(&calls, 1) + 1;

		if (n == NTH)
			return RET_ERRNO(ERR);
	}
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
