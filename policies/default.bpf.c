// SPDX-License-Identifier: GPL-2.0
/*
 * default - the policy `seccomp-ebpf run` applies when no --filter is given.
 *
 * In order:
 *   1. arch != x86_64                     -> SECCOMP_RET_KILL_PROCESS
 *   2. x32 ABI syscall (nr & 0x40000000, except nr == -1) -> SECCOMP_RET_KILL_PROCESS
 *   3. execve / execveat: exec-once. The first exec of the process tree (under
 *      the CLI: the CLI's own exec of the command) is allowed, every later
 *      one fails with EPERM.
 *   4. EPERM for syscalls that reach into other processes or the kernel:
 *      ptrace, process_vm_readv, process_vm_writev, bpf, perf_event_open,
 *      kexec_load, kexec_file_load, init_module, finit_module, delete_module,
 *      mount, umount2.
 *   5. everything else is allowed.
 *
 * Globals:
 *   exec_count (.bss, __u64, starts at 0): execve/execveat attempts so far.
 */
#include "../examples/common.h"

__u64 exec_count = 0;

SEC("seccomp")
int default_policy(struct seccomp_data *ctx)
{
	__u32 nr;

	if (sd_arch(ctx) != FILTER_AUDIT_ARCH)
		return SECCOMP_RET_KILL_PROCESS;

	nr = sd_nr(ctx);
	/* nr == -1 is what a tracer uses to skip a syscall; it is no x32 call
	 * (libseccomp exempts it the same way) and simply gets ENOSYS. */
	if ((nr & FILTER_X32_SYSCALL_BIT) && nr != (__u32)-1)
		return SECCOMP_RET_KILL_PROCESS;

	switch (nr) {
	case __NR_execve:
	case __NR_execveat:
		if (__sync_fetch_and_add(&exec_count, 1) == 0)
			return SECCOMP_RET_ALLOW;
		return RET_ERRNO(EPERM);
	case __NR_ptrace:
	case __NR_process_vm_readv:
	case __NR_process_vm_writev:
	case __NR_bpf:
	case __NR_perf_event_open:
	case __NR_kexec_load:
	case __NR_kexec_file_load:
	case __NR_init_module:
	case __NR_finit_module:
	case __NR_delete_module:
	case __NR_mount:
	case __NR_umount2:
		return RET_ERRNO(EPERM);
	default:
		return SECCOMP_RET_ALLOW;
	}
}

char LICENSE[] SEC("license") = "GPL";
