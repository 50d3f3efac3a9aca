/*
 * close-test - the user half of the series' test_seccomp sample: calls
 * close(111) and close(999) (raw syscalls) and prints their errnos.
 *
 * Output: close111=<errno, 0 if the call succeeded> close999=<errno, 0 if success>
 * Unfiltered, neither fd is open: close111=9 close999=9 (EBADF). Under
 * examples/close-999.bpf.o: close111=9 close999=1 (EPERM). Exit status 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static int close_errno(int fd)
{
	return syscall(SYS_close, fd) == 0 ? 0 : errno;
}

int main(void)
{
	int e111 = close_errno(111);
	int e999 = close_errno(999);

	printf("close111=%d close999=%d\n", e111, e999);
	return 0;
}
