/*
 * syscalls - makes a known, fixed set of raw syscalls so a test can check a
 * syscall-counting filter exactly: 7 getpid (39), 3 getppid (110) and
 * 2 getuid (102) on x86_64. Neither the dynamic loader nor libc start-up
 * makes any of these, and the counts are printed only after all of them.
 *
 * Output: getpid=7 getppid=3 getuid=2
 * Exit status: 0, or 1 if any of the calls failed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define N_GETPID 7
#define N_GETPPID 3
#define N_GETUID 2

int main(void)
{
	int failed = 0;

	for (int i = 0; i < N_GETPID; i++)
		failed |= syscall(SYS_getpid) < 0;
	for (int i = 0; i < N_GETPPID; i++)
		failed |= syscall(SYS_getppid) < 0;
	for (int i = 0; i < N_GETUID; i++)
		failed |= syscall(SYS_getuid) < 0;

	printf("getpid=%d getppid=%d getuid=%d\n", N_GETPID, N_GETPPID, N_GETUID);
	return failed;
}
