/*
 * The seccomp user-notification ioctls (seccomp_unotify(2)) and SECCOMP_GET_NOTIF_SIZES.
 * Struct layouts are the uapi ones; the TS side packs/unpacks the 80-byte struct seccomp_notif.
 */
#include "args.h"
#include "compat.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int xioctl(int fd, unsigned long req, void *arg) {
  int r;
  do r = ioctl(fd, req, arg);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

/* notifReceive(fd, buf: Uint8Array(>= 80)): 0 or -errno. Blocks until a notification. */
static napi_value notif_receive(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd;
  void *buf;
  size_t len;
  if (get_args(env, info, 2, a) || arg_i32(env, a[0], "fd", &fd) ||
      arg_typed(env, a[1], "buf", napi_uint8_array, 0, &buf, &len))
    return NULL;
  if (len < sizeof(struct seccomp_notif)) return ret_i32(env, -EINVAL);
  /* The kernel requires a zeroed struct (it returns EINVAL otherwise). */
  memset(buf, 0, sizeof(struct seccomp_notif));
  int r;
  do {
    r = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf);
    /* A signal interrupting the wait leaves the struct untouched; zero again anyway. */
    if (r < 0 && errno == EINTR) memset(buf, 0, sizeof(struct seccomp_notif));
  } while (r < 0 && errno == EINTR);
  return ret_i32(env, r < 0 ? -errno : 0);
}

/* notifRespond(fd, id, val, error, flags): 0 or -errno. */
static napi_value notif_respond(napi_env env, napi_callback_info info) {
  napi_value a[5];
  int32_t fd, error;
  uint32_t flags;
  uint64_t id;
  int64_t val;
  if (get_args(env, info, 5, a) || arg_i32(env, a[0], "fd", &fd) || arg_u64(env, a[1], "id", &id) ||
      arg_i64(env, a[2], "val", &val) || arg_i32(env, a[3], "error", &error) ||
      arg_u32(env, a[4], "flags", &flags))
    return NULL;
  struct seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = id;
  resp.val = val;
  resp.error = error;
  resp.flags = flags;
  int r = xioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  return ret_i32(env, r < 0 ? r : 0);
}

/* notifIdValid(fd, id): 0 when the notification is still pending, -ENOENT when not. */
static napi_value notif_id_valid(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd;
  uint64_t id;
  if (get_args(env, info, 2, a) || arg_i32(env, a[0], "fd", &fd) || arg_u64(env, a[1], "id", &id))
    return NULL;
  int r = xioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id);
  return ret_i32(env, r < 0 ? r : 0);
}

/* notifAddFd(fd, id, srcFd, newFd, newFdFlags, flags): the fd number in the target or -errno. */
static napi_value notif_addfd(napi_env env, napi_callback_info info) {
  napi_value a[6];
  int32_t fd;
  uint64_t id;
  uint32_t srcfd, newfd, newfd_flags, flags;
  if (get_args(env, info, 6, a) || arg_i32(env, a[0], "fd", &fd) || arg_u64(env, a[1], "id", &id) ||
      arg_u32(env, a[2], "srcFd", &srcfd) || arg_u32(env, a[3], "newFd", &newfd) ||
      arg_u32(env, a[4], "newFdFlags", &newfd_flags) || arg_u32(env, a[5], "flags", &flags))
    return NULL;
  struct seccomp_notif_addfd add;
  memset(&add, 0, sizeof add);
  add.id = id;
  add.flags = flags;
  add.srcfd = srcfd;
  add.newfd = newfd;
  add.newfd_flags = newfd_flags;
  return ret_i32(env, xioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add));
}

/* notifSetFlags(fd, flags): 0 or -errno (-EINVAL/-ENOTTY before 6.6). The flags travel by
 * value in the ioctl argument, not through a pointer. */
static napi_value notif_set_flags(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd;
  uint32_t flags;
  if (get_args(env, info, 2, a) || arg_i32(env, a[0], "fd", &fd) || arg_u32(env, a[1], "flags", &flags))
    return NULL;
  int r;
  do r = ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, (unsigned long)flags);
  while (r < 0 && errno == EINTR);
  return ret_i32(env, r < 0 ? -errno : 0);
}

/* seccompNotifSizes(): [seccomp_notif, seccomp_notif_resp, seccomp_data] sizes or -errno. */
static napi_value notif_sizes(napi_env env, napi_callback_info info) {
  (void)info;
  struct seccomp_notif_sizes s;
  memset(&s, 0, sizeof s);
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &s) < 0) return ret_i32(env, -errno);
  int32_t v[3] = {s.seccomp_notif, s.seccomp_notif_resp, s.seccomp_data};
  return ret_i32_array(env, v, 3);
}

napi_value init_notif(napi_env env, napi_value exports) {
  static const addon_fn fns[] = {
      {"notifReceive", notif_receive},   {"notifRespond", notif_respond},
      {"notifIdValid", notif_id_valid},  {"notifAddFd", notif_addfd},
      {"notifSetFlags", notif_set_flags}, {"seccompNotifSizes", notif_sizes},
  };
  return define_fns(env, exports, fns, NFNS(fns)) ? NULL : exports;
}
