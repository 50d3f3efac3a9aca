/*
 * spawnFiltered: fork, install a classic-BPF seccomp filter with a notification listener,
 * hand the listener to the parent, execve.
 *
 * The listener must reach the parent WITHOUT the child making any syscall after the filter
 * is installed, except the execve: the policy may notify sendmsg/write/futex..., and a child
 * blocked in a notified syscall before its supervisor holds the listener deadlocks (a known
 * bug of an OCI runtime that sends the fd with SCM_RIGHTS). Handover:
 *
 *   parent                                 child
 *   mmap(MAP_SHARED) page, argv/envp,      |
 *   sock_fprog prepared; fork() ---------> PDEATHSIG, signals, stdio, cwd, NO_NEW_PRIVS,
 *   pidfd_open(child)                      seccomp(SET_MODE_FILTER, NEW_LISTENER) = L
 *   poll page (yield/nanosleep, timeout,   page.listener = L; page.state = POSTED  (a store)
 *     child death via waitid WNOHANG)      spin on page.ack (pause; no syscall)
 *   pidfd_getfd(pidfd, L) = copy (CLOEXEC) |
 *   page.ack = 1 ------------------------> execve(file, argv, envp)
 *
 * Before the filter is installed the child may use syscalls; if a step fails it stores the
 * step number and errno (state = FAILED) and _exits. After the ack, an execve failure cannot
 * be reported (every syscall is filtered) and the child _exits with 127; to make that rare,
 * the child checks that file is an executable regular file before installing the filter.
 *
 * PR_SET_PDEATHSIG is tied to the parent *thread*: the child is signalled when the thread
 * that forked it exits, not when the process does. Callers must spawn from a thread that
 * lives as long as the children (the main thread), never from a short-lived worker.
 */
#include "args.h"
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <linux/filter.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Failing step, reported as [-errno, step]; src/native/syscalls.ts names them. */
enum spawn_step {
  STEP_PREPARE = 1,   /* argument checks, allocation */
  STEP_MMAP = 2,      /* shared handover page */
  STEP_FORK = 3,
  STEP_PIDFD_OPEN = 4,
  STEP_PDEATHSIG = 5, /* prctl(PR_SET_PDEATHSIG) */
  STEP_PARENT_GONE = 6, /* parent exited before the child set PDEATHSIG */
  STEP_SIGNALS = 7,   /* sigaction / sigprocmask reset */
  STEP_DUP2 = 8,
  STEP_CHDIR = 9,
  STEP_EXEC_CHECK = 10, /* faccessat(file, X_OK): the execve would fail */
  STEP_NO_NEW_PRIVS = 11,
  STEP_SECCOMP = 12,  /* seccomp(SECCOMP_SET_MODE_FILTER) */
  STEP_WAIT = 13,     /* child died or timed out before reporting */
  STEP_PIDFD_GETFD = 14,
};

enum { STATE_PENDING = 0, STATE_POSTED = 1, STATE_FAILED = 2 };

struct handover {
  _Atomic int state;
  int listener;
  int step;
  int err;
  _Atomic int ack;
};

#define WAIT_TIMEOUT_NS (5LL * 1000000000LL)

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  __asm__ __volatile__("" ::: "memory");
#endif
}

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Child side: report a failure before the filter exists, then exit. */
static void __attribute__((noreturn)) child_fail(struct handover *h, int step, int err) {
  h->step = step;
  h->err = err;
  atomic_store_explicit(&h->state, STATE_FAILED, memory_order_release);
  _exit(127);
}

/* Child side, between fork and execve. Only async-signal-safe calls (the parent may be
 * multithreaded); the memory it reads was prepared before fork. */
static void __attribute__((noreturn))
child_main(struct handover *h, pid_t parent, const char *file, char **argv, char **envp, const char *cwd,
           const struct sock_fprog *prog, unsigned long flags, const int32_t *stdio) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_fail(h, STEP_PDEATHSIG, errno);
  /* The parent thread may have exited before PDEATHSIG was armed. */
  if (getppid() != parent) child_fail(h, STEP_PARENT_GONE, ESRCH);

  /* Node ignores SIGPIPE (and ignored dispositions survive execve); restore defaults, then
   * unblock everything (the parent blocked all signals around fork). */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (sigaction(sig, &dfl, NULL) < 0 && errno != EINVAL) child_fail(h, STEP_SIGNALS, errno);
  }
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) child_fail(h, STEP_SIGNALS, errno);

  /* stdio: first move sources that sit in 0..2 out of the way so dup2 order does not matter. */
  int src[3];
  for (int i = 0; i < 3; i++) {
    src[i] = stdio[i];
    if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
      src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
      if (src[i] < 0) child_fail(h, STEP_DUP2, errno);
    }
  }
  for (int i = 0; i < 3; i++) {
    if (src[i] >= 0 && src[i] != i) {
      if (dup2(src[i], i) < 0) child_fail(h, STEP_DUP2, errno); /* dup2 clears FD_CLOEXEC */
      continue;
    }
    /* Inherited (or already in place): Node marks its own fds 0..2 close-on-exec, so clear
     * the flag or the program would start with them closed. A closed fd stays closed. */
    int fl = fcntl(i, F_GETFD);
    if (fl < 0) {
      if (errno == EBADF && src[i] < 0) continue;
      child_fail(h, STEP_DUP2, errno);
    }
    if ((fl & FD_CLOEXEC) && fcntl(i, F_SETFD, fl & ~FD_CLOEXEC) < 0) child_fail(h, STEP_DUP2, errno);
  }
  /* Only fds 0..2 survive into the filtered program (best effort before 5.11). */
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);

  if (cwd && chdir(cwd) < 0) child_fail(h, STEP_CHDIR, errno);
  if (faccessat(AT_FDCWD, file, X_OK, AT_EACCESS) < 0) child_fail(h, STEP_EXEC_CHECK, errno);
  /* A directory passes X_OK; execve would then fail with EACCES after the filter is in. */
  struct stat st;
  if (stat(file, &st) < 0) child_fail(h, STEP_EXEC_CHECK, errno);
  if (!S_ISREG(st.st_mode)) child_fail(h, STEP_EXEC_CHECK, EACCES);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(h, STEP_NO_NEW_PRIVS, errno);

  unsigned long f = flags | SECCOMP_FILTER_FLAG_NEW_LISTENER;
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, prog);
  if (fd < 0 && errno == EINVAL && !(flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV))
    fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f, prog); /* kernels before 5.19 */
  if (fd < 0) child_fail(h, STEP_SECCOMP, errno);

  /* From here on: no syscall but execve. */
  h->listener = (int)fd;
  atomic_store_explicit(&h->state, STATE_POSTED, memory_order_release);
  while (!atomic_load_explicit(&h->ack, memory_order_acquire)) cpu_relax();
  execve(file, argv, envp);
  _exit(127);
}

/* Parent side: wait until the child posts or fails; returns the state, or -errno (child died
 * without reporting: -ECHILD; timeout: -ETIMEDOUT). Does not reap a live child. */
static int wait_for_child(struct handover *h, pid_t pid) {
  int64_t deadline = mono_ns() + WAIT_TIMEOUT_NS;
  for (unsigned i = 0;; i++) {
    int s = atomic_load_explicit(&h->state, memory_order_acquire);
    if (s != STATE_PENDING) return s;
    if ((i & 15) == 15) {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) {
        s = atomic_load_explicit(&h->state, memory_order_acquire);
        return s != STATE_PENDING ? s : -ECHILD;
      }
      if (mono_ns() > deadline) return -ETIMEDOUT;
    }
    if (i < 64) {
      sched_yield();
    } else {
      struct timespec ts = {0, i < 1024 ? 20000 : 200000};
      nanosleep(&ts, NULL);
    }
  }
}

static void kill_and_reap(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}

static void reap(pid_t pid) {
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}

/* The fork/handover with everything prepared; result in out[] (3 = success, 2 = failure). */
static int do_spawn(const char *file, char **argv, char **envp, const char *cwd, const struct sock_fprog *prog,
                    unsigned long flags, const int32_t *stdio, int32_t *out) {
  struct handover *h = mmap(NULL, sizeof *h, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (h == MAP_FAILED) {
    out[0] = -errno;
    out[1] = STEP_MMAP;
    return 2;
  }
  memset(h, 0, sizeof *h);
  pid_t parent = getpid();

  /* Block every signal around fork so no Node/libuv handler runs in the child before it
   * resets the dispositions. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) child_main(h, parent, file, argv, envp, cwd, prog, flags, stdio);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) {
    munmap(h, sizeof *h);
    out[0] = -fork_errno;
    out[1] = STEP_FORK;
    return 2;
  }

  int n = 2;
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* pidfds are always O_CLOEXEC */
  if (pidfd < 0) {
    out[0] = -errno;
    out[1] = STEP_PIDFD_OPEN;
    kill_and_reap(pid);
    goto done;
  }
  int s = wait_for_child(h, pid);
  if (s == STATE_FAILED) {
    out[0] = -h->err;
    out[1] = h->step;
    reap(pid);
    close(pidfd);
    goto done;
  }
  if (s < 0) {
    out[0] = s;
    out[1] = STEP_WAIT;
    kill_and_reap(pid);
    close(pidfd);
    goto done;
  }
  /* pidfd_getfd sets FD_CLOEXEC on the copy. */
  int listener = (int)syscall(SYS_pidfd_getfd, pidfd, h->listener, 0);
  if (listener < 0) {
    out[0] = -errno;
    out[1] = STEP_PIDFD_GETFD;
    kill_and_reap(pid);
    close(pidfd);
    goto done;
  }
  atomic_store_explicit(&h->ack, 1, memory_order_release);
  out[0] = pid;
  out[1] = pidfd;
  out[2] = listener;
  n = 3;
done:
  /* The child keeps its own mapping of the page until execve. */
  munmap(h, sizeof *h);
  return n;
}

/* spawnFiltered(file, argv, envp, cwd | null, filter, flags, stdio): [pid, pidfd, listenerFd]
 * on success, [-errno, step] on failure. `file` is executed as given (no PATH search). */
static napi_value spawn_filtered(napi_env env, napi_callback_info info) {
  napi_value a[7];
  char *file = NULL, *cwd = NULL;
  char **argv = NULL, **envp = NULL;
  void *filter;
  size_t filter_len, nstdio;
  uint32_t flags;
  int32_t *stdio;
  napi_value result = NULL;
  if (get_args(env, info, 7, a) || arg_string(env, a[0], "file", 0, &file) ||
      arg_strv(env, a[1], "argv", &argv) || arg_strv(env, a[2], "envp", &envp) ||
      arg_string(env, a[3], "cwd", 1, &cwd) ||
      arg_typed(env, a[4], "filter", napi_uint8_array, 0, &filter, &filter_len) ||
      arg_u32(env, a[5], "flags", &flags) ||
      arg_typed(env, a[6], "stdio", napi_int32_array, 0, (void **)&stdio, &nstdio))
    goto out;
  int32_t res[3];
  int n;
  if (filter_len == 0 || filter_len % sizeof(struct sock_filter) != 0 ||
      filter_len / sizeof(struct sock_filter) > 0xffff || nstdio != 3) {
    res[0] = -EINVAL;
    res[1] = STEP_PREPARE;
    n = 2;
  } else {
    /* An aligned copy for struct sock_fprog (a Uint8Array may start at any offset). */
    struct sock_filter *insns = malloc(filter_len);
    if (!insns) {
      res[0] = -ENOMEM;
      res[1] = STEP_PREPARE;
      n = 2;
    } else {
      memcpy(insns, filter, filter_len);
      struct sock_fprog prog = {(unsigned short)(filter_len / sizeof(struct sock_filter)), insns};
      int32_t io[3] = {stdio[0], stdio[1], stdio[2]};
      n = do_spawn(file, argv, envp, cwd, &prog, flags, io, res);
      free(insns);
    }
  }
  result = ret_i32_array(env, res, (size_t)n);
out:
  free(file);
  free(cwd);
  free_strv(argv);
  free_strv(envp);
  return result;
}

napi_value init_spawn(napi_env env, napi_value exports) {
  static const addon_fn fns[] = {{"spawnFiltered", spawn_filtered}};
  return define_fns(env, exports, fns, NFNS(fns)) ? NULL : exports;
}
