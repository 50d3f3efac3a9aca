/*
 * threads - T threads each make K raw getpid() syscalls at the same time
 * (they start together from a barrier), to check that a filter's shared
 * counter is exact under concurrency.
 *
 * Usage: threads T K
 * Output: ok=<total successes> eperm=<total EPERM failures> other=<total other failures>
 * Exit status: 0, 2 on bad usage, 1 if a thread could not be created.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct result {
	unsigned long ok, eperm, other;
};

static unsigned long per_thread;
static pthread_barrier_t start;

static void *worker(void *arg)
{
	struct result *res = arg;

	pthread_barrier_wait(&start);
	for (unsigned long i = 0; i < per_thread; i++) {
		if (syscall(SYS_getpid) >= 0)
			res->ok++;
		else if (errno == EPERM)
			res->eperm++;
		else
			res->other++;
	}
	return NULL;
}

static unsigned long parse(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || s[0] == '-') {
		fprintf(stderr, "usage: threads T K\n");
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long t;
	pthread_t *tids;
	struct result *res, total = { 0, 0, 0 };

	if (argc != 3) {
		fprintf(stderr, "usage: threads T K\n");
		return 2;
	}
	t = parse(argv[1]);
	per_thread = parse(argv[2]);
	if (t == 0 || t > 1024) {
		fprintf(stderr, "threads: T must be 1..1024\n");
		return 2;
	}
	tids = calloc(t, sizeof(*tids));
	res = calloc(t, sizeof(*res));
	if (!tids || !res) {
		perror("calloc");
		return 1;
	}
	pthread_barrier_init(&start, NULL, (unsigned)t);
	for (unsigned long i = 0; i < t; i++) {
		int err = pthread_create(&tids[i], NULL, worker, &res[i]);

		if (err) {
			fprintf(stderr, "pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (unsigned long i = 0; i < t; i++) {
		pthread_join(tids[i], NULL);
		total.ok += res[i].ok;
		total.eperm += res[i].eperm;
		total.other += res[i].other;
	}
	printf("ok=%lu eperm=%lu other=%lu\n", total.ok, total.eperm, total.other);
	return 0;
}
