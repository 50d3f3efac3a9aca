/*
 * bpf(2) commands used by the differential tests that compare the JS VM and maps with the
 * kernel: BPF_PROG_LOAD, BPF_PROG_TEST_RUN and the basic map commands. Every fd the kernel
 * returns from bpf(2) is already O_CLOEXEC.
 */
#include "args.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr) {
  long r;
  do r = syscall(SYS_bpf, cmd, attr, sizeof *attr);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

static __u64 ptr(const void *p) { return (__u64)(uintptr_t)p; }

/* bpfProgLoad(progType, insns, license, logLevel, log | null): prog fd or -errno. */
static napi_value bpf_prog_load(napi_env env, napi_callback_info info) {
  napi_value a[5];
  uint32_t type, log_level;
  void *insns, *log;
  size_t insns_len, log_len;
  char *license = NULL;
  if (get_args(env, info, 5, a) || arg_u32(env, a[0], "progType", &type) ||
      arg_typed(env, a[1], "insns", napi_uint8_array, 0, &insns, &insns_len) ||
      arg_u32(env, a[3], "logLevel", &log_level) ||
      arg_typed(env, a[4], "log", napi_uint8_array, 1, &log, &log_len) ||
      arg_string(env, a[2], "license", 0, &license))
    return NULL;
  if (insns_len % sizeof(struct bpf_insn) != 0 || log_len > UINT32_MAX) {
    free(license);
    return ret_i32(env, -EINVAL);
  }
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = type;
  attr.insn_cnt = (__u32)(insns_len / sizeof(struct bpf_insn));
  attr.insns = ptr(insns);
  attr.license = ptr(license);
  attr.log_level = log_level;
  attr.log_buf = ptr(log);
  attr.log_size = (__u32)log_len;
  long r = sys_bpf(BPF_PROG_LOAD, &attr);
  free(license);
  return ret_i32(env, (int32_t)r);
}

/* bpfProgTestRun(progFd, dataIn, repeat): [retval, duration] or -errno. retval is the u32
 * r0 of the program stored in an int32 slot: read it with `>>> 0`. duration is in ns. */
static napi_value bpf_prog_test_run(napi_env env, napi_callback_info info) {
  napi_value a[3];
  int32_t fd;
  uint32_t repeat;
  void *data;
  size_t len;
  if (get_args(env, info, 3, a) || arg_i32(env, a[0], "progFd", &fd) ||
      arg_typed(env, a[1], "dataIn", napi_uint8_array, 0, &data, &len) || arg_u32(env, a[2], "repeat", &repeat))
    return NULL;
  if (len > UINT32_MAX) return ret_i32(env, -EINVAL);
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.test.prog_fd = (__u32)fd;
  attr.test.data_in = ptr(data);
  attr.test.data_size_in = (__u32)len;
  attr.test.repeat = repeat;
  long r = sys_bpf(BPF_PROG_TEST_RUN, &attr);
  if (r < 0) return ret_i32(env, (int32_t)r);
  int32_t v[2] = {(int32_t)attr.test.retval, (int32_t)attr.test.duration};
  return ret_i32_array(env, v, 2);
}

/* bpfMapCreate(type, keySize, valueSize, maxEntries, flags): map fd or -errno. */
static napi_value bpf_map_create(napi_env env, napi_callback_info info) {
  napi_value a[5];
  uint32_t type, key_size, value_size, max_entries, flags;
  if (get_args(env, info, 5, a) || arg_u32(env, a[0], "type", &type) ||
      arg_u32(env, a[1], "keySize", &key_size) || arg_u32(env, a[2], "valueSize", &value_size) ||
      arg_u32(env, a[3], "maxEntries", &max_entries) || arg_u32(env, a[4], "flags", &flags))
    return NULL;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = type;
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  attr.map_flags = flags;
  return ret_i32(env, (int32_t)sys_bpf(BPF_MAP_CREATE, &attr));
}

/* Number of possible CPUs (highest id in /sys/devices/system/cpu/possible + 1), as libbpf. */
static int possible_cpus(void) {
  char buf[256];
  int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  int max = -1, cur = 0, have = 0;
  for (char *p = buf;; p++) {
    if (*p >= '0' && *p <= '9') {
      cur = cur * 10 + (*p - '0');
      have = 1;
    } else {
      if (have && cur > max) max = cur;
      cur = 0;
      have = 0;
      if (*p == 0) break;
    }
  }
  return max + 1;
}

/* The kernel copies key_size bytes from the key and value_size bytes (per CPU for per-CPU
 * maps) to/from the value: check the JS buffers are large enough, so a wrong buffer is
 * -EINVAL instead of an out-of-bounds access of JS memory. */
static int check_map_buffers(int fd, size_t key_len, int has_key, size_t value_len, int has_value) {
  struct bpf_map_info mi;
  union bpf_attr attr;
  memset(&mi, 0, sizeof mi);
  memset(&attr, 0, sizeof attr);
  attr.info.bpf_fd = (__u32)fd;
  attr.info.info_len = sizeof mi;
  attr.info.info = ptr(&mi);
  long r = sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
  if (r < 0) return (int)r;
  if (has_key && key_len < mi.key_size) return -EINVAL;
  if (has_value) {
    size_t need = mi.value_size;
    switch (mi.type) {
      case BPF_MAP_TYPE_PERCPU_HASH:
      case BPF_MAP_TYPE_PERCPU_ARRAY:
      case BPF_MAP_TYPE_LRU_PERCPU_HASH:
      case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: {
        int cpus = possible_cpus();
        if (cpus <= 0) return -EINVAL;
        need = ((need + 7) & ~(size_t)7) * (size_t)cpus;
        break;
      }
      default: break;
    }
    if (value_len < need) return -EINVAL;
  }
  return 0;
}

static napi_value map_elem(napi_env env, napi_callback_info info, int cmd) {
  napi_value a[4];
  int32_t fd;
  uint32_t flags = 0;
  void *key, *value = NULL;
  size_t key_len, value_len = 0;
  int nargs = cmd == BPF_MAP_UPDATE_ELEM ? 4 : cmd == BPF_MAP_DELETE_ELEM ? 2 : 3;
  int key_nullable = cmd == BPF_MAP_GET_NEXT_KEY;
  if (get_args(env, info, (size_t)nargs, a) || arg_i32(env, a[0], "fd", &fd) ||
      arg_typed(env, a[1], "key", napi_uint8_array, key_nullable, &key, &key_len))
    return NULL;
  if (nargs >= 3 && arg_typed(env, a[2], cmd == BPF_MAP_GET_NEXT_KEY ? "next" : "value", napi_uint8_array, 0,
                              &value, &value_len))
    return NULL;
  if (nargs == 4 && arg_u32(env, a[3], "flags", &flags)) return NULL;
  int chk;
  if (cmd == BPF_MAP_GET_NEXT_KEY) {
    /* Both buffers hold a key. */
    chk = check_map_buffers(fd, key ? key_len : SIZE_MAX, 1, 0, 0);
    if (!chk) chk = check_map_buffers(fd, value_len, 1, 0, 0);
  } else {
    chk = check_map_buffers(fd, key_len, 1, value_len, nargs >= 3);
  }
  if (chk) return ret_i32(env, chk);
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_fd = (__u32)fd;
  attr.key = ptr(key);
  if (cmd == BPF_MAP_GET_NEXT_KEY)
    attr.next_key = ptr(value);
  else
    attr.value = ptr(value);
  attr.flags = flags;
  long r = sys_bpf(cmd, &attr);
  return ret_i32(env, r < 0 ? (int32_t)r : 0);
}

/* bpfMapLookup(fd, key, value): 0 or -errno (-ENOENT: no such key). */
static napi_value bpf_map_lookup(napi_env env, napi_callback_info info) {
  return map_elem(env, info, BPF_MAP_LOOKUP_ELEM);
}
/* bpfMapUpdate(fd, key, value, flags): 0 or -errno. */
static napi_value bpf_map_update(napi_env env, napi_callback_info info) {
  return map_elem(env, info, BPF_MAP_UPDATE_ELEM);
}
/* bpfMapDelete(fd, key): 0 or -errno. */
static napi_value bpf_map_delete(napi_env env, napi_callback_info info) {
  return map_elem(env, info, BPF_MAP_DELETE_ELEM);
}
/* bpfMapGetNextKey(fd, key | null, next): 0 or -errno (-ENOENT after the last key). */
static napi_value bpf_map_get_next_key(napi_env env, napi_callback_info info) {
  return map_elem(env, info, BPF_MAP_GET_NEXT_KEY);
}

napi_value init_bpf(napi_env env, napi_value exports) {
  static const addon_fn fns[] = {
      {"bpfProgLoad", bpf_prog_load},       {"bpfProgTestRun", bpf_prog_test_run},
      {"bpfMapCreate", bpf_map_create},     {"bpfMapLookup", bpf_map_lookup},
      {"bpfMapUpdate", bpf_map_update},     {"bpfMapDelete", bpf_map_delete},
      {"bpfMapGetNextKey", bpf_map_get_next_key},
  };
  return define_fns(env, exports, fns, NFNS(fns)) ? NULL : exports;
}
