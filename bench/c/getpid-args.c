/*
 * getpid-args - test/programs/getpid-loop.c's timed loop, but each raw
 * getpid() passes an argument: 0 for the first N/2 calls, 1 for the rest, so
 * that a stateless classic-BPF filter (bench/c/cbpf-run.c's "args") can make
 * the series' half-EPERM decisions by argument instead of by a counter.
 * getpid ignores its arguments; the libc syscall() wrapper loads all six
 * argument registers either way, so the loop costs the same as getpid-loop's.
 * The benchmark uses it for every row decided in the kernel.
 *
 * Usage: getpid-args N
 * Output: ok=<successes> eperm=<EPERM failures> other=<other failures>
 *         ns=<nanoseconds spent in the loop, CLOCK_MONOTONIC, loop only>
 *         cpu_ns=<CPU time the process used in the loop, CLOCK_PROCESS_CPUTIME_ID>
 * The CPU time does not grow when another process preempts this one, so it is
 * the steadier figure on a busy machine - as long as no call waits for a
 * supervisor (a notified call's wait is not CPU time).
 * Exit status: 0, or 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long n, half, ok = 0, eperm = 0, other = 0;
	struct timespec t0, t1, c0, c1;
	char *end;

	if (argc != 2 || argv[1][0] < '0' || argv[1][0] > '9')
		goto usage;
	errno = 0;
	n = strtoul(argv[1], &end, 10);
	if (errno || *end)
		goto usage;
	half = n / 2;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < n; i++) {
		long r = syscall(SYS_getpid, (unsigned long)(i >= half));

		if (r >= 0)
			ok++;
		else if (errno == EPERM)
			eperm++;
		else
			other++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	printf("ok=%lu eperm=%lu other=%lu\n", ok, eperm, other);
	printf("ns=%lld\n", (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL +
	       (t1.tv_nsec - t0.tv_nsec));
	printf("cpu_ns=%lld\n", (long long)(c1.tv_sec - c0.tv_sec) * 1000000000LL +
	       (c1.tv_nsec - c0.tv_nsec));
	return 0;
usage:
	fprintf(stderr, "usage: getpid-args N\n");
	return 2;
}
