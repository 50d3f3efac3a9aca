/* Argument conversion and result construction (see args.h). */
#include "args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int type_error(napi_env env, const char *name, const char *expected) {
  char msg[160];
  snprintf(msg, sizeof msg, "seccomp_ebpf addon: argument '%s' must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return -1;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  return t == napi_null || t == napi_undefined;
}

static int is_type(napi_env env, napi_value v, napi_valuetype want) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == want;
}

int get_args(napi_env env, napi_callback_info info, size_t n, napi_value *out) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, out, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "seccomp_ebpf addon: cannot read arguments");
    return -1;
  }
  return 0;
}

int arg_i32(napi_env env, napi_value v, const char *name, int32_t *out) {
  if (!is_type(env, v, napi_number) || napi_get_value_int32(env, v, out) != napi_ok)
    return type_error(env, name, "a number");
  return 0;
}

int arg_u32(napi_env env, napi_value v, const char *name, uint32_t *out) {
  if (!is_type(env, v, napi_number) || napi_get_value_uint32(env, v, out) != napi_ok)
    return type_error(env, name, "a number");
  return 0;
}

int arg_u64(napi_env env, napi_value v, const char *name, uint64_t *out) {
  bool lossless = false;
  if (is_type(env, v, napi_bigint)) {
    if (napi_get_value_bigint_uint64(env, v, out, &lossless) != napi_ok || !lossless)
      return type_error(env, name, "a bigint in [0, 2^64)");
    return 0;
  }
  int64_t n;
  if (is_type(env, v, napi_number) && napi_get_value_int64(env, v, &n) == napi_ok && n >= 0) {
    *out = (uint64_t)n;
    return 0;
  }
  return type_error(env, name, "a bigint in [0, 2^64)");
}

int arg_i64(napi_env env, napi_value v, const char *name, int64_t *out) {
  bool lossless = false;
  if (is_type(env, v, napi_bigint)) {
    if (napi_get_value_bigint_int64(env, v, out, &lossless) != napi_ok || !lossless)
      return type_error(env, name, "a bigint in [-2^63, 2^63)");
    return 0;
  }
  if (is_type(env, v, napi_number) && napi_get_value_int64(env, v, out) == napi_ok) return 0;
  return type_error(env, name, "a bigint in [-2^63, 2^63)");
}

static const char *typed_name(napi_typedarray_type t) {
  switch (t) {
    case napi_uint8_array: return "a Uint8Array";
    case napi_int16_array: return "an Int16Array";
    case napi_int32_array: return "an Int32Array";
    default: return "a typed array";
  }
}

int arg_typed(napi_env env, napi_value v, const char *name, napi_typedarray_type type, int nullable,
              void **data, size_t *count) {
  *data = NULL;
  *count = 0;
  if (nullable && is_nullish(env, v)) return 0;
  bool ok = false;
  napi_typedarray_type t;
  if (napi_is_typedarray(env, v, &ok) != napi_ok || !ok ||
      napi_get_typedarray_info(env, v, &t, count, data, NULL, NULL) != napi_ok || t != type) {
    char expected[64];
    snprintf(expected, sizeof expected, "%s%s", typed_name(type), nullable ? " or null" : "");
    return type_error(env, name, expected);
  }
  /* A zero-length view may report a NULL data pointer; the kernel accepts NULL with length 0. */
  return 0;
}

int arg_string(napi_env env, napi_value v, const char *name, int nullable, char **out) {
  *out = NULL;
  if (nullable && is_nullish(env, v)) return 0;
  size_t len = 0;
  if (!is_type(env, v, napi_string) || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok)
    return type_error(env, name, nullable ? "a string or null" : "a string");
  char *s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, "ERR_NATIVE_NOMEM", "seccomp_ebpf addon: out of memory");
    return -1;
  }
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return type_error(env, name, "a string");
  }
  *out = s;
  return 0;
}

void free_strv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

int arg_strv(napi_env env, napi_value v, const char *name, char ***out) {
  *out = NULL;
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, v, &n) != napi_ok)
    return type_error(env, name, "an array of strings");
  char **vec = calloc((size_t)n + 1, sizeof(char *));
  if (!vec) {
    napi_throw_error(env, "ERR_NATIVE_NOMEM", "seccomp_ebpf addon: out of memory");
    return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    if (napi_get_element(env, v, i, &item) != napi_ok || arg_string(env, item, name, 0, &vec[i]) != 0) {
      free_strv(vec);
      return -1;
    }
  }
  *out = vec;
  return 0;
}

napi_value ret_i32(napi_env env, int32_t v) {
  napi_value r = NULL;
  napi_create_int32(env, v, &r);
  return r;
}

napi_value ret_i64(napi_env env, int64_t v) {
  napi_value r = NULL;
  napi_create_int64(env, v, &r);
  return r;
}

napi_value ret_u64_bigint(napi_env env, uint64_t v) {
  napi_value r = NULL;
  napi_create_bigint_uint64(env, v, &r);
  return r;
}

napi_value ret_i64_bigint(napi_env env, int64_t v) {
  napi_value r = NULL;
  napi_create_bigint_int64(env, v, &r);
  return r;
}

napi_value ret_i32_array(napi_env env, const int32_t *vals, size_t n) {
  napi_value ab, arr;
  void *data = NULL;
  if (napi_create_arraybuffer(env, n * sizeof(int32_t), &data, &ab) != napi_ok) return NULL;
  memcpy(data, vals, n * sizeof(int32_t));
  if (napi_create_typedarray(env, napi_int32_array, n, ab, 0, &arr) != napi_ok) return NULL;
  return arr;
}

int define_fns(napi_env env, napi_value exports, const addon_fn *fns, size_t n) {
  for (size_t i = 0; i < n; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
      return -1;
  }
  return 0;
}

int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
