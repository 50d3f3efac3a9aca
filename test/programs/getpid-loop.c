/*
 * getpid-loop - makes N raw getpid() syscalls (syscall(SYS_getpid), bypassing
 * any libc caching) and reports how they ended.
 *
 * Usage: getpid-loop N [--first-error] [--trace] [--time] [--warmup K] [--cpu C]
 *
 * Output (stdout, one group per line, space-separated key=value):
 *   ok=<calls that succeeded> eperm=<calls failing with EPERM> other=<calls failing otherwise>
 *   first_fail=<1-based index of the first failing call, 0 if none> errno=<its errno, 0 if none>
 *                                                             (--first-error)
 *   errs=<errno of call 1>,<errno of call 2>,...  (0 = success; --trace; empty when N = 0)
 *   ns=<nanoseconds spent in the loop, CLOCK_MONOTONIC, loop only>  (--time)
 * --warmup K makes K getpid() calls first, outside the timed loop and the counts (a
 * supervisor may still be starting when the program runs, and its JIT warming up).
 * --cpu C pins the program to CPU C first (sched_setaffinity).
 * Exit status: 0, or 2 on bad usage.
 *
 * The benchmark uses `getpid-loop N --time`; the timed loop then only makes
 * the syscall and classifies the result, as the series' payload() does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: getpid-loop N [--first-error] [--trace] [--time] [--warmup K] [--cpu C]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long n = 0, warmup = 0, ok = 0, eperm = 0, other = 0, first_fail = 0;
	int first_errno = 0, want_first = 0, want_trace = 0, want_time = 0, have_n = 0, cpu = -1;
	unsigned short *errs = NULL;
	struct timespec t0, t1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--first-error") == 0) {
			want_first = 1;
		} else if (strcmp(argv[i], "--trace") == 0) {
			want_trace = 1;
		} else if (strcmp(argv[i], "--time") == 0) {
			want_time = 1;
		} else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			cpu = (int)strtol(argv[++i], &end, 10);
			if (errno || *end || cpu < 0 || cpu >= CPU_SETSIZE)
				usage();
		} else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			warmup = strtoul(argv[++i], &end, 10);
			if (errno || *end || argv[i][0] < '0' || argv[i][0] > '9')
				usage();
		} else if (!have_n && argv[i][0] >= '0' && argv[i][0] <= '9') {
			char *end;

			errno = 0;
			n = strtoul(argv[i], &end, 10);
			if (errno || *end)
				usage();
			have_n = 1;
		} else {
			usage();
		}
	}
	if (!have_n)
		usage();

	if (want_trace) {
		errs = calloc(n ? n : 1, sizeof(*errs));
		if (!errs) {
			perror("calloc");
			return 2;
		}
	}

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("sched_setaffinity");
			return 2;
		}
	}
	for (unsigned long i = 0; i < warmup; i++)
		syscall(SYS_getpid);

	/* Everything above (arg parsing, allocation, warm-up) stays outside the timed loop. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < n; i++) {
		long r = syscall(SYS_getpid);

		if (r >= 0) {
			ok++;
			continue;
		}
		int e = errno;

		if (e == EPERM)
			eperm++;
		else
			other++;
		if (!first_fail) {
			first_fail = i + 1;
			first_errno = e;
		}
		if (errs)
			errs[i] = (unsigned short)e;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("ok=%lu eperm=%lu other=%lu\n", ok, eperm, other);
	if (want_first)
		printf("first_fail=%lu errno=%d\n", first_fail, first_errno);
	if (want_trace) {
		fputs("errs=", stdout);
		for (unsigned long i = 0; i < n; i++)
			printf(i ? ",%u" : "%u", errs[i]);
		putchar('\n');
	}
	if (want_time) {
		long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL +
			       (t1.tv_nsec - t0.tv_nsec);
		printf("ns=%lld\n", ns);
	}
	return 0;
}
