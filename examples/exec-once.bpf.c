// SPDX-License-Identifier: GPL-2.0
/*
 * exec-once - the first execve()/execveat() of the filtered process tree
 * succeeds, every later one fails with EPERM. All other syscalls are allowed.
 *
 * Under `seccomp-ebpf run`, the CLI's own execve of the command is that first
 * exec, so the command itself cannot exec anything:
 *   sh -c '/bin/true; echo rc=$?'   prints rc=126 (sh's exec got EPERM).
 *
 * Globals:
 *   exec_count (.bss, __u64, starts at 0): execve/execveat attempts so far,
 *              shared by the whole process tree (atomic fetch-add). A failed
 *              first exec (e.g. ENOENT) still uses up the one allowed exec.
 */
#include "common.h"

__u64 exec_count = 0;

SEC("seccomp")
int exec_once(struct seccomp_data *ctx)
{
	__u32 nr;

	if (sd_arch(ctx) != FILTER_AUDIT_ARCH)
		return RET_ERRNO(EPERM);

	nr = sd_nr(ctx);
	if (nr == __NR_execve || nr == __NR_execveat) {
		if (__sync_fetch_and_add(&exec_count, 1) == 0)
			return SECCOMP_RET_ALLOW;
		return RET_ERRNO(EPERM);
	}
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
