/*
 * seccomp_ebpf native addon: module registration and the small process/fd syscalls
 * (poll, process_vm_readv, waitid(P_PIDFD), signals, eventfd, close, clocks, getcpu).
 *
 * Every function returns a number; failures are -errno. The only process-wide state is the
 * wake-up signal of native/waiter.c (chosen once); the module is context-aware and safe to load
 * in several worker threads.
 */
#include "args.h"
#include "compat.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* poll(fds: Int32Array, events: Int16Array, revents: Int16Array, timeoutMs): ready count or
 * -errno. EINTR restarts the wait with the remaining time. */
static napi_value sys_poll(napi_env env, napi_callback_info info) {
  napi_value a[4];
  int32_t *fds, timeout;
  int16_t *events, *revents;
  size_t n, ne, nr;
  if (get_args(env, info, 4, a) || arg_typed(env, a[0], "fds", napi_int32_array, 0, (void **)&fds, &n) ||
      arg_typed(env, a[1], "events", napi_int16_array, 0, (void **)&events, &ne) ||
      arg_typed(env, a[2], "revents", napi_int16_array, 0, (void **)&revents, &nr) ||
      arg_i32(env, a[3], "timeoutMs", &timeout))
    return NULL;
  if (ne < n || nr < n || n > 65536) return ret_i32(env, -EINVAL);
  struct pollfd small[8];
  struct pollfd *p = n <= 8 ? small : calloc(n, sizeof *p);
  if (!p) return ret_i32(env, -ENOMEM);
  for (size_t i = 0; i < n; i++) {
    p[i].fd = fds[i];
    p[i].events = events[i];
    p[i].revents = 0;
  }
  int64_t deadline = timeout >= 0 ? monotonic_ms() + timeout : -1;
  int r;
  for (;;) {
    r = poll(p, n, timeout);
    if (r >= 0 || errno != EINTR) break;
    if (deadline >= 0) {
      int64_t left = deadline - monotonic_ms();
      timeout = left > 0 ? (int32_t)left : 0;
    }
  }
  if (r < 0) r = -errno;
  for (size_t i = 0; i < n; i++) revents[i] = r >= 0 ? p[i].revents : 0;
  if (p != small) free(p);
  return ret_i32(env, r);
}

/* readProcessMemory(pid, addr, buf): bytes read (may be short) or -errno. */
static napi_value sys_read_process_memory(napi_env env, napi_callback_info info) {
  napi_value a[3];
  int32_t pid;
  uint64_t addr;
  void *buf;
  size_t len;
  if (get_args(env, info, 3, a) || arg_i32(env, a[0], "pid", &pid) || arg_u64(env, a[1], "addr", &addr) ||
      arg_typed(env, a[2], "buf", napi_uint8_array, 0, &buf, &len))
    return NULL;
  if (len == 0) return ret_i32(env, 0);
  struct iovec local = {buf, len};
  struct iovec remote = {(void *)(uintptr_t)addr, len};
  ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return ret_i64(env, r < 0 ? -errno : r);
}

/* waitPidfd(pidfd, options): [pid, si_code, si_status] (pid 0: WNOHANG and nothing yet) or
 * -errno. options must include WEXITED/WSTOPPED/WCONTINUED as for waitid(2). */
static napi_value sys_wait_pidfd(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t pidfd, options;
  if (get_args(env, info, 2, a) || arg_i32(env, a[0], "pidfd", &pidfd) ||
      arg_i32(env, a[1], "options", &options))
    return NULL;
  siginfo_t si;
  int r;
  do {
    memset(&si, 0, sizeof si);
    r = waitid((idtype_t)SE_P_PIDFD, (id_t)pidfd, &si, options);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ret_i32(env, -errno);
  int32_t v[3] = {si.si_pid, si.si_code, si.si_status};
  return ret_i32_array(env, v, 3);
}

static napi_value sys_pidfd_send_signal(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t pidfd, sig;
  if (get_args(env, info, 2, a) || arg_i32(env, a[0], "pidfd", &pidfd) || arg_i32(env, a[1], "sig", &sig))
    return NULL;
  long r = syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
  return ret_i32(env, r < 0 ? -errno : 0);
}

static napi_value sys_tgkill(napi_env env, napi_callback_info info) {
  napi_value a[3];
  int32_t tgid, tid, sig;
  if (get_args(env, info, 3, a) || arg_i32(env, a[0], "tgid", &tgid) || arg_i32(env, a[1], "tid", &tid) ||
      arg_i32(env, a[2], "sig", &sig))
    return NULL;
  long r = syscall(SYS_tgkill, tgid, tid, sig);
  return ret_i32(env, r < 0 ? -errno : 0);
}

static napi_value sys_kill(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t pid, sig;
  if (get_args(env, info, 2, a) || arg_i32(env, a[0], "pid", &pid) || arg_i32(env, a[1], "sig", &sig))
    return NULL;
  return ret_i32(env, kill(pid, sig) < 0 ? -errno : 0);
}

static napi_value sys_eventfd(napi_env env, napi_callback_info info) {
  napi_value a[2];
  uint32_t initval;
  int32_t flags;
  if (get_args(env, info, 2, a) || arg_u32(env, a[0], "initval", &initval) ||
      arg_i32(env, a[1], "flags", &flags))
    return NULL;
  int fd = eventfd(initval, flags);
  return ret_i32(env, fd < 0 ? -errno : fd);
}

static napi_value sys_eventfd_write(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd;
  uint64_t value;
  if (get_args(env, info, 2, a) || arg_i32(env, a[0], "fd", &fd) || arg_u64(env, a[1], "value", &value))
    return NULL;
  ssize_t r;
  do r = write(fd, &value, sizeof value);
  while (r < 0 && errno == EINTR);
  return ret_i32(env, r < 0 ? -errno : 0);
}

/* eventfdRead(fd): the counter as a bigint, or -errno as a number. */
static napi_value sys_eventfd_read(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  if (get_args(env, info, 1, a) || arg_i32(env, a[0], "fd", &fd)) return NULL;
  uint64_t value = 0;
  ssize_t r;
  do r = read(fd, &value, sizeof value);
  while (r < 0 && errno == EINTR);
  if (r < 0) return ret_i32(env, -errno);
  if (r != sizeof value) return ret_i32(env, -EIO);
  return ret_u64_bigint(env, value);
}

static napi_value sys_close(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  if (get_args(env, info, 1, a) || arg_i32(env, a[0], "fd", &fd)) return NULL;
  /* No retry on EINTR: on Linux the fd is released even then. */
  return ret_i32(env, close(fd) < 0 ? -errno : 0);
}

/* clockGetTime(clockId): nanoseconds as a bigint; a negative bigint (-errno) on failure. */
static napi_value sys_clock_gettime(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t id;
  if (get_args(env, info, 1, a) || arg_i32(env, a[0], "clockId", &id)) return NULL;
  struct timespec ts;
  if (clock_gettime((clockid_t)id, &ts) < 0) return ret_i64_bigint(env, -(int64_t)errno);
  return ret_i64_bigint(env, (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

static napi_value sys_getcpu(napi_env env, napi_callback_info info) {
  (void)info;
  unsigned cpu = 0;
  long r = syscall(SYS_getcpu, &cpu, NULL, NULL);
  return ret_i32(env, r < 0 ? -errno : (int32_t)cpu);
}

napi_value init_sys(napi_env env, napi_value exports) {
  static const addon_fn fns[] = {
      {"poll", sys_poll},
      {"readProcessMemory", sys_read_process_memory},
      {"waitPidfd", sys_wait_pidfd},
      {"pidfdSendSignal", sys_pidfd_send_signal},
      {"tgkill", sys_tgkill},
      {"kill", sys_kill},
      {"eventfd", sys_eventfd},
      {"eventfdWrite", sys_eventfd_write},
      {"eventfdRead", sys_eventfd_read},
      {"close", sys_close},
      {"clockGetTime", sys_clock_gettime},
      {"getcpu", sys_getcpu},
  };
  return define_fns(env, exports, fns, NFNS(fns)) ? NULL : exports;
}

/* Context-aware registration (NAPI_MODULE_INIT): loadable per worker. */
NAPI_MODULE_INIT() {
  if (!init_sys(env, exports) || !init_notif(env, exports) || !init_spawn(env, exports) ||
      !init_bpf(env, exports) || !init_waiter(env, exports))
    return NULL;
  return exports;
}
