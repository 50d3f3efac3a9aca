// SPDX-License-Identifier: GPL-2.0
/*
 * syscall-count - counts every syscall of the filtered process tree by number
 * in a hash map and allows everything (a syscall profiler).
 *
 * Maps:
 *   counts (BPF_MAP_TYPE_HASH, key __u32 syscall nr, value __u64 count,
 *           max_entries 1024). Read it after the run (CLI: --maps /
 *           library: map lookup) to see how often each syscall was made.
 *
 * The first call of a syscall inserts 1 with BPF_NOEXIST; if another thread
 * inserted the key in between (-EEXIST) it falls back to the atomic increment,
 * so no call is lost. If the map is full (1024 distinct numbers; x86_64 has
 * fewer) the call is simply not counted.
 */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("seccomp")
int syscall_count(struct seccomp_data *ctx)
{
	__u32 key;
	__u64 *value;
	__u64 one = 1;

	if (sd_arch(ctx) != FILTER_AUDIT_ARCH)
		return RET_ERRNO(EPERM);

	key = sd_nr(ctx);
	value = bpf_map_lookup_elem(&counts, &key);
	if (value) {
		__sync_fetch_and_add(value, 1);
		return SECCOMP_RET_ALLOW;
	}
	if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST) == -EEXIST) {
		/* Lost the insert race: the entry exists now, count into it. */
		value = bpf_map_lookup_elem(&counts, &key);
		if (value)
			__sync_fetch_and_add(value, 1);
	}
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
