/*
 * The supervisor's notification wait: SEND the previous answer, then a blocking
 * SECCOMP_IOCTL_NOTIF_RECV, in one call from JS. This is the loop of the series' C
 * supervisor (RECV + SEND, nothing else per notification); a poll() before each RECV costs
 * about 10% of a round trip here.
 *
 * A blocking RECV does not return when the spawned process exits: the filter keeps a user
 * until the zombie is reaped, and reaping is what the supervisor does after it learns of the
 * exit. So a waiter has a small watcher thread that polls the pidfd and, once it is readable,
 * interrupts the worker's RECV with a signal (a no-op handler installed without SA_RESTART, so
 * the ioctl fails with EINTR). Timeouts (log flushing, kill grace periods) use a per-thread
 * POSIX timer delivering the same signal. Signals are only aimed at the worker while it is in
 * RECV (or about to enter it): its JS code never sees an EINTR. Both the watcher and the timer
 * repeat every RESIGNAL_MS until the RECV returns, which closes the race with a signal that
 * lands just before the ioctl.
 *
 * One waiter per supervisor worker thread; open, next and close are called on that thread.
 */
#include "args.h"
#include "compat.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define RESIGNAL_MS 10

/* Layout of the buffer shared with src/supervisor/loop.ts (WAITER_BUF_* there). */
enum {
  BUF_NOTIF = 0,       /* struct seccomp_notif (80 bytes), written by RECV */
  BUF_RESP = 80,       /* struct seccomp_notif_resp (24 bytes); id filled in from the notif */
  BUF_SEND = 104,      /* int32: 1 = SEND the response before waiting (cleared here) */
  BUF_SEND_RESULT = 108, /* int32: 0 (also when nothing was sent) or -errno of that SEND */
  BUF_SIZE = 112,
};

/* What notifWaiterNext returns (besides -errno). */
enum { NEXT_NOTIF = 0, NEXT_EXITED = 1, NEXT_TIMEOUT = 2 };

struct waiter {
  int listener, pidfd, wakefd;
  uint8_t *buf;        /* the Uint8Array given to open, kept alive by buf_ref */
  napi_ref buf_ref;
  pid_t tid;
  pthread_t watcher;
  timer_t timer;
  atomic_int exited, in_recv, stop;
  int closed;
};

static int wake_signal;
static pthread_once_t signal_once = PTHREAD_ONCE_INIT;

static void on_wake_signal(int sig) { (void)sig; }

/* Picks the highest real-time signal nobody handles and installs the no-op handler. */
static void install_wake_signal(void) {
  for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
    struct sigaction old;
    if (sigaction(sig, NULL, &old) || old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wake_signal; /* no SA_RESTART: RECV must fail with EINTR */
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) == 0) {
      wake_signal = sig;
      return;
    }
  }
}

static void *watch(void *arg) {
  struct waiter *w = arg;
  for (;;) {
    int exited = atomic_load(&w->exited);
    struct pollfd p[2] = {{w->wakefd, POLLIN, 0}, {exited ? -1 : w->pidfd, POLLIN, 0}};
    int r = poll(p, 2, exited ? RESIGNAL_MS : -1);
    if (atomic_load(&w->stop)) break;
    if (r < 0 && errno != EINTR) break;
    if (!exited && r > 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) atomic_store(&w->exited, 1);
    if (atomic_load(&w->exited) && atomic_load(&w->in_recv)) syscall(SYS_tgkill, getpid(), w->tid, wake_signal);
  }
  return NULL;
}

/* Arms (ms > 0) or disarms (ms < 0) the thread's timer; it repeats until disarmed. */
static void set_timer(struct waiter *w, int32_t ms) {
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (ms >= 0) {
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
    its.it_interval.tv_nsec = RESIGNAL_MS * 1000000L;
  }
  timer_settime(w->timer, 0, &its, NULL);
}

static void waiter_free(struct waiter *w) {
  if (w->closed) return;
  w->closed = 1;
  atomic_store(&w->stop, 1);
  uint64_t one = 1;
  if (write(w->wakefd, &one, sizeof one) < 0) { /* the watcher also polls with a timeout once exited */ }
  pthread_join(w->watcher, NULL);
  timer_delete(w->timer);
  close(w->wakefd);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  struct waiter *w = data;
  waiter_free(w);
  if (w->buf_ref) napi_delete_reference(env, w->buf_ref);
  free(w);
}

static int get_waiter(napi_env env, napi_value v, struct waiter **out) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "waiter must be a handle from notifWaiterOpen");
    return -1;
  }
  *out = p;
  return 0;
}

/* notifWaiterOpen(listener, pidfd, buf: Uint8Array(>= BUF_SIZE)): a handle, or -errno. Call on
 * the thread that will wait; every notifWaiterNext works in `buf` (bound here, so that the hot
 * call converts no typed array). */
static napi_value waiter_open(napi_env env, napi_callback_info info) {
  napi_value a[3];
  int32_t listener, pidfd;
  void *buf;
  size_t len;
  if (get_args(env, info, 3, a) || arg_i32(env, a[0], "listener", &listener) || arg_i32(env, a[1], "pidfd", &pidfd) ||
      arg_typed(env, a[2], "buf", napi_uint8_array, 0, &buf, &len))
    return NULL;
  if (len < BUF_SIZE) return ret_i32(env, -EINVAL);
  pthread_once(&signal_once, install_wake_signal);
  if (!wake_signal) return ret_i32(env, -EBUSY);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, wake_signal);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);

  struct waiter *w = calloc(1, sizeof *w);
  if (!w) return ret_i32(env, -ENOMEM);
  w->listener = listener;
  w->pidfd = pidfd;
  w->buf = buf;
  w->tid = (pid_t)syscall(SYS_gettid);
  w->wakefd = eventfd(0, EFD_CLOEXEC);
  if (w->wakefd < 0) {
    int e = errno;
    free(w);
    return ret_i32(env, -e);
  }
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = wake_signal;
  sev.sigev_notify_thread_id = w->tid;
  if (timer_create(CLOCK_MONOTONIC, &sev, &w->timer)) {
    int e = errno;
    close(w->wakefd);
    free(w);
    return ret_i32(env, -e);
  }
  /* The watcher must not take the wake signal itself. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(&w->watcher, NULL, watch, w);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e) {
    timer_delete(w->timer);
    close(w->wakefd);
    free(w);
    return ret_i32(env, -e);
  }
  napi_value handle;
  if (napi_create_reference(env, a[2], 1, &w->buf_ref) != napi_ok || napi_create_external(env, w, finalize, NULL, &handle) != napi_ok) {
    waiter_free(w);
    if (w->buf_ref) napi_delete_reference(env, w->buf_ref);
    free(w);
    return NULL;
  }
  return handle;
}

#define NOT_HUNG_UP 3

/* After an ENOENT from RECV: is the listener hung up (no task uses the filter any more)? Then
 * only the exit (or the timeout) can end the wait. NOT_HUNG_UP when it is not. */
static int wait_after_hangup(struct waiter *w, int64_t deadline) {
  struct pollfd l = {w->listener, POLLIN, 0};
  if (poll(&l, 1, 0) <= 0 || !(l.revents & (POLLHUP | POLLERR)) || (l.revents & POLLIN)) return NOT_HUNG_UP;
  for (;;) {
    struct pollfd p = {w->pidfd, POLLIN, 0};
    int64_t now = monotonic_ms();
    int left = deadline < 0 ? -1 : (int)(deadline > now ? deadline - now : 0);
    int r = poll(&p, 1, left);
    if (r > 0) return NEXT_EXITED;
    if (r == 0) return NEXT_TIMEOUT;
    if (errno != EINTR) return -errno;
  }
}

/* notifWaiterNext(handle, timeoutMs): NEXT_NOTIF (the notification is in the buffer, its id
 * copied into the response), NEXT_EXITED (the pidfd is readable), NEXT_TIMEOUT, or -errno of
 * RECV. A pending response (buf[104] = 1) is sent first; its result lands in buf[108].
 * timeoutMs < 0 waits without a timeout. */
static napi_value waiter_next(napi_env env, napi_callback_info info) {
  napi_value a[2];
  struct waiter *w;
  int32_t timeout;
  if (get_args(env, info, 2, a) || get_waiter(env, a[0], &w) || arg_i32(env, a[1], "timeoutMs", &timeout))
    return NULL;
  if (w->closed) return ret_i32(env, -EINVAL);
  uint8_t *buf = w->buf;
  int32_t *send = (int32_t *)(buf + BUF_SEND), *send_result = (int32_t *)(buf + BUF_SEND_RESULT);
  struct seccomp_notif *notif = (struct seccomp_notif *)(buf + BUF_NOTIF);
  struct seccomp_notif_resp *resp = (struct seccomp_notif_resp *)(buf + BUF_RESP);
  *send_result = 0;
  if (*send) {
    *send = 0;
    int r;
    do r = ioctl(w->listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
    while (r < 0 && errno == EINTR);
    *send_result = r < 0 ? -errno : 0;
  }
  int64_t deadline = timeout >= 0 ? monotonic_ms() + timeout : -1;
  for (;;) {
    if (deadline >= 0) {
      int64_t left = deadline - monotonic_ms();
      if (left <= 0) return ret_i32(env, NEXT_TIMEOUT);
      set_timer(w, (int32_t)left);
    }
    memset(notif, 0, sizeof *notif);
    atomic_store(&w->in_recv, 1);
    int r = atomic_load(&w->exited) ? -2 : ioctl(w->listener, SECCOMP_IOCTL_NOTIF_RECV, notif);
    int e = errno;
    atomic_store(&w->in_recv, 0);
    if (deadline >= 0) set_timer(w, -1);
    if (r == 0) {
      memset(resp, 0, sizeof *resp);
      resp->id = notif->id;
      return ret_i32(env, NEXT_NOTIF);
    }
    if (r == -2 || atomic_load(&w->exited)) return ret_i32(env, NEXT_EXITED);
    if (e == EINTR) continue; /* the timer (checked at the top) or an unrelated signal */
    if (e == ENOENT) {
      /* The task was interrupted or killed after the kernel queued it, or the listener hung up. */
      int h = wait_after_hangup(w, deadline);
      if (h != NOT_HUNG_UP) return ret_i32(env, h);
      continue;
    }
    return ret_i32(env, -e);
  }
}

/* notifWaiterClose(handle): stops the watcher; 0. Idempotent; the handle is unusable after. */
static napi_value waiter_close(napi_env env, napi_callback_info info) {
  napi_value a[1];
  struct waiter *w;
  if (get_args(env, info, 1, a) || get_waiter(env, a[0], &w)) return NULL;
  waiter_free(w);
  return ret_i32(env, 0);
}

napi_value init_waiter(napi_env env, napi_value exports) {
  static const addon_fn fns[] = {
      {"notifWaiterOpen", waiter_open},
      {"notifWaiterNext", waiter_next},
      {"notifWaiterClose", waiter_close},
  };
  return define_fns(env, exports, fns, NFNS(fns)) ? NULL : exports;
}
