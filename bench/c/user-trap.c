/*
 * user-trap - the patch series' user-notification benchmark (perf-test branch,
 * user_trap.c), rewritten for this repository: a C supervisor that makes the
 * same decisions as examples/getpid-half.bpf.o, one notification per getpid.
 *
 * Usage: user-trap N [--sync] [--no-killable] [--cpus S,T]
 *
 * The parent sets no_new_privs and forks a worker. The worker installs
 *     ld [nr]; jeq #getpid, notify, allow; allow: ret ALLOW; notify: ret USER_NOTIF
 * with SECCOMP_FILTER_FLAG_NEW_LISTENER (plus WAIT_KILLABLE_RECV, as our
 * supervisor's child does, unless --no-killable), sends the listener to the
 * parent over a socketpair (sendmsg is not notified), then makes N raw
 * getpid() calls, timing the loop only. The parent is the supervisor: with
 * --sync it first sets SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP on the listener; then
 * it loops RECV/SEND, answering CONTINUE to the first N/2 notifications and
 * -EPERM to the rest, and stops after N of them (closing the listener makes any
 * later one fail with ENOSYS, so nothing can hang). --cpus S,T pins the supervisor to CPU S
 * and the worker to CPU T: every wake-up then crosses CPUs, the case sync wake-up avoids.
 *
 * Output (the worker's, stdout): the lines of test/programs/getpid-loop.c
 *   ok=<successes> eperm=<EPERM failures> other=<other failures>
 *   ns=<nanoseconds spent in the loop, CLOCK_MONOTONIC>
 * then the supervisor's: notified=<notifications handled> sync=<0|1>
 * Exit status: 0; 1 when a call failed (setup error, a worker failure, or a
 * requested SYNC_WAKE_UP the kernel refused); 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Linux 6.6; older uapi headers lack them. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

static int install_filter(unsigned long flags)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		       SECCOMP_FILTER_FLAG_NEW_LISTENER | flags, &prog);
}

static void send_fd(int sock, int fd)
{
	char data = 'F';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		die("sendmsg");
}

static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		die("recvmsg");
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		die("recvmsg: no fd");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* The worker: filter, hand over the listener, the timed payload. */
static void worker(int sock, unsigned long n, unsigned long flags)
{
	unsigned long ok = 0, eperm = 0, other = 0;
	struct timespec t0, t1;
	int listener = install_filter(flags);

	if (listener < 0)
		die("seccomp(SET_MODE_FILTER, NEW_LISTENER)");
	send_fd(sock, listener);
	close(listener);
	/* Wait until the supervisor is ready, so set-up stays outside the loop. */
	if (read(sock, &(char){ 0 }, 1) != 1)
		die("read");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < n; i++) {
		long r = syscall(SYS_getpid);

		if (r >= 0)
			ok++;
		else if (errno == EPERM)
			eperm++;
		else
			other++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("ok=%lu eperm=%lu other=%lu\n", ok, eperm, other);
	printf("ns=%lld\n", (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL +
	       (t1.tv_nsec - t0.tv_nsec));
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned long n = 0, handled = 0, flags = SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	int sync = 0, have_n = 0, sv[2], listener, status, scpu = -1, tcpu = -1;
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	pid_t pid;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--sync") == 0) {
			sync = 1;
		} else if (strcmp(argv[i], "--no-killable") == 0) {
			flags = 0;
		} else if (strcmp(argv[i], "--cpus") == 0 && i + 1 < argc) {
			char extra;

			if (sscanf(argv[++i], "%d,%d%c", &scpu, &tcpu, &extra) != 2 || scpu < 0 || tcpu < 0)
				goto usage;
		} else if (!have_n && argv[i][0] >= '0' && argv[i][0] <= '9') {
			char *end;

			errno = 0;
			n = strtoul(argv[i], &end, 10);
			if (errno || *end)
				goto usage;
			have_n = 1;
		} else {
			goto usage;
		}
	}
	if (!have_n)
		goto usage;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("prctl(NO_NEW_PRIVS)");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		die("socketpair");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pin(tcpu);
		worker(sv[1], n, flags);
	}
	close(sv[1]);
	pin(scpu);
	listener = recv_fd(sv[0]);
	if (sync && ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
			  (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP))
		die("ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP)");
	if (write(sv[0], "g", 1) != 1)
		die("write");

	while (handled < n) {
		memset(&req, 0, sizeof(req));
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req)) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			die("ioctl(SECCOMP_IOCTL_NOTIF_RECV)");
		}
		resp.id = req.id;
		resp.val = 0;
		if (handled < n / 2) {
			resp.error = 0;
			resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		} else {
			resp.error = -EPERM;
			resp.flags = 0;
		}
		handled++;
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) && errno != ENOENT)
			die("ioctl(SECCOMP_IOCTL_NOTIF_SEND)");
	}
	close(listener);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	printf("notified=%lu sync=%d\n", handled, sync);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "user-trap: worker failed (status 0x%x)\n", status);
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: user-trap N [--sync] [--no-killable] [--cpus S,T]\n");
	return 2;
}
