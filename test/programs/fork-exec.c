/*
 * fork-exec - shows how a filter's exec policy applies across a process tree.
 * Forks a first child that execs PATH, waits for it, then forks a second child
 * that execs PATH again, and reports how each exec ended.
 *
 * Usage: fork-exec PATH [ARG...]   (the children run PATH with argv[0] = PATH
 *                                   followed by the given ARGs)
 * Output (stdout):
 *   child1_exec_errno=<errno of the first child's execve, 0 if it succeeded> child1_exit=<exit status> child1_signal=<killing signal, 0 if none>
 *   child2_exec_errno=<...> child2_exit=<...> child2_signal=<...>
 *   exec_ok=<number of children whose execve succeeded>
 * A child whose execve fails exits with 127. The exec result travels over an
 * O_CLOEXEC pipe: EOF means the exec succeeded, 4 bytes are the errno.
 *
 * Under exec-once via `seccomp-ebpf run`, the CLI's exec of fork-exec is the
 * one allowed exec, so both children get EPERM (errno 1) and exec_ok=0.
 * Unfiltered, both succeed. Exit status: 0, 2 on bad usage, 1 on fork/pipe failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int run_child(int idx, char **argv, int *exec_ok)
{
	int pfd[2], status, exec_errno = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		perror("pipe2");
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		int e;

		close(pfd[0]);
		execv(argv[0], argv);
		e = errno;
		(void)!write(pfd[1], &e, sizeof(e));
		_exit(127);
	}
	close(pfd[1]);
	do {
		n = read(pfd[0], &exec_errno, sizeof(exec_errno));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(exec_errno))
		exec_errno = 0; /* EOF: the pipe was closed by a successful exec */
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			return -1;
		}
	}
	if (exec_errno == 0)
		(*exec_ok)++;
	printf("child%d_exec_errno=%d child%d_exit=%d child%d_signal=%d\n", idx, exec_errno, idx,
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1, idx,
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return 0;
}

int main(int argc, char **argv)
{
	int exec_ok = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: fork-exec PATH [ARG...]\n");
		return 2;
	}
	for (int i = 1; i <= 2; i++)
		if (run_child(i, argv + 1, &exec_ok) != 0)
			return 1;
	printf("exec_ok=%d\n", exec_ok);
	return 0;
}
