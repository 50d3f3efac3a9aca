// SPDX-License-Identifier: GPL-2.0
/*
 * phase - temporal specialization: a permissive start-up phase, then a
 * strict serving phase. Until the first call of syscall TRIGGER every syscall
 * is allowed; that call is allowed too and switches the filter (for the whole
 * process tree) into the strict phase, where a syscall is allowed only if
 * allowed[nr] != 0, and everything else fails with EPERM.
 *
 * Globals / maps:
 *   TRIGGER   (.rodata, const volatile __u32, default 59 = execve on x86_64)
 *   triggered (.bss, __u32, starts at 0; 1 once TRIGGER was called)
 *   allowed   (BPF_MAP_TYPE_ARRAY, key __u32 nr, value __u32 (non-zero =
 *             allowed), max_entries 512), filled by the CLI or the library
 *             before the command starts. Numbers >= 512 (and negative nr) are
 *             never allowed in the strict phase.
 *
 * With the default TRIGGER under `seccomp-ebpf run`, the CLI's own execve of
 * the command is the trigger: the command runs strictly from its first
 * instruction, so the map must list everything it needs, including what the
 * dynamic loader and libc use (mmap, openat, read, close, brk, ...) and its
 * exit (exit_group). Choose a TRIGGER the program calls once after its
 * initialisation to get a real start-up phase.
 */
#include "common.h"

#define PHASE_MAX_NR 512

const volatile __u32 TRIGGER = __NR_execve;

__u32 triggered = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PHASE_MAX_NR);
	__type(key, __u32);
	__type(value, __u32);
} allowed SEC(".maps");

SEC("seccomp")
int phase(struct seccomp_data *ctx)
{
	__u32 nr;
	__u32 *ok;

	if (sd_arch(ctx) != FILTER_AUDIT_ARCH)
		return RET_ERRNO(EPERM);

	nr = sd_nr(ctx);
	if (!triggered) {
		if (nr == TRIGGER)
			triggered = 1;
		return SECCOMP_RET_ALLOW;
	}

	ok = bpf_map_lookup_elem(&allowed, &nr);
	if (ok && *ok)
		return SECCOMP_RET_ALLOW;
	return RET_ERRNO(EPERM);
}

char LICENSE[] SEC("license") = "GPL";
