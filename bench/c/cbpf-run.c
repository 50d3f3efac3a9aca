/*
 * cbpf-run - installs a hand-written classic-BPF seccomp filter and execs a
 * command under it: the benchmark's in-kernel rows.
 *
 * Usage: cbpf-run FILTER CMD [ARGS...]
 *
 * FILTER is one of
 *   minimal  arch check, then allow (the baseline: what merely having
 *            a seccomp filter costs, the kernel's slower syscall entry; the
 *            constant-action cache skips running it):
 *              ld [4]; jeq #AUDIT_ARCH_X86_64, allow, kill
 *   args     the series' decisions made statelessly, by an argument: getpid
 *            with args[0] == 1 (low word; the loop passes 0 then 1) gets
 *            EPERM, everything else is allowed (not cacheable for getpid:
 *            it loads an argument):
 *              ld [4]; jeq #AUDIT_ARCH_X86_64, next, kill
 *              ld [0]; jeq #SYS_getpid, next, allow
 *              ld [16]; jeq #1, eperm, allow
 * Exit status: CMD's (exec), or 1 when the filter cannot be installed or CMD
 * cannot be executed, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_CHECK                                                              \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),           \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)

static struct sock_filter minimal[] = {
	ARCH_CHECK,
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static struct sock_filter args[] = {
	ARCH_CHECK,
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

int main(int argc, char **argv)
{
	struct sock_fprog prog;

	if (argc < 3)
		goto usage;
	if (strcmp(argv[1], "minimal") == 0)
		prog = (struct sock_fprog){ sizeof(minimal) / sizeof(minimal[0]), minimal };
	else if (strcmp(argv[1], "args") == 0)
		prog = (struct sock_fprog){ sizeof(args) / sizeof(args[0]), args };
	else
		goto usage;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		perror("prctl(NO_NEW_PRIVS)");
		return 1;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		perror("seccomp(SET_MODE_FILTER)");
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "cbpf-run: %s: %s\n", argv[2], strerror(errno));
	return 1;
usage:
	fprintf(stderr, "usage: cbpf-run minimal|args CMD [ARGS...]\n");
	return 2;
}
