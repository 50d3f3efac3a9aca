/*
 * Argument and result helpers shared by the addon's source files.
 *
 * The addon is thin: it converts JS numbers, bigints, strings and typed arrays into C values,
 * makes one syscall, and returns a number (-errno on failure). A wrong argument *type* is a
 * programming error in src/native/syscalls.ts (which validates first), so it throws a
 * TypeError here instead of reaching the kernel.
 */
#ifndef SECCOMP_EBPF_ARGS_H
#define SECCOMP_EBPF_ARGS_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Fetches exactly n arguments (missing ones read as undefined). Returns 0 or -1 (exception). */
int get_args(napi_env env, napi_callback_info info, size_t n, napi_value *out);

int arg_i32(napi_env env, napi_value v, const char *name, int32_t *out);
int arg_u32(napi_env env, napi_value v, const char *name, uint32_t *out);
/* bigint (or a safe-integer number) as a 64-bit value; must fit losslessly. */
int arg_u64(napi_env env, napi_value v, const char *name, uint64_t *out);
int arg_i64(napi_env env, napi_value v, const char *name, int64_t *out);
/* Typed array of the given element type; data and count receive its elements. With nullable set,
 * null/undefined yields data NULL, count 0. */
int arg_typed(napi_env env, napi_value v, const char *name, napi_typedarray_type type, int nullable,
              void **data, size_t *count);
/* UTF-8 copy in malloc'd memory (caller frees); null/undefined gives NULL when nullable. */
int arg_string(napi_env env, napi_value v, const char *name, int nullable, char **out);
/* Array of strings as a NULL-terminated malloc'd vector (free with free_strv). */
int arg_strv(napi_env env, napi_value v, const char *name, char ***out);
void free_strv(char **v);

napi_value ret_i32(napi_env env, int32_t v);
napi_value ret_i64(napi_env env, int64_t v);
napi_value ret_u64_bigint(napi_env env, uint64_t v);
napi_value ret_i64_bigint(napi_env env, int64_t v);
napi_value ret_i32_array(napi_env env, const int32_t *vals, size_t n);

/* CLOCK_MONOTONIC in milliseconds (poll deadlines). */
int64_t monotonic_ms(void);

/* Registration of one source file's functions. */
typedef struct {
  const char *name;
  napi_callback fn;
} addon_fn;
int define_fns(napi_env env, napi_value exports, const addon_fn *fns, size_t n);

#define NFNS(a) (sizeof(a) / sizeof((a)[0]))

napi_value init_sys(napi_env env, napi_value exports);
napi_value init_notif(napi_env env, napi_value exports);
napi_value init_spawn(napi_env env, napi_value exports);
napi_value init_bpf(napi_env env, napi_value exports);
napi_value init_waiter(napi_env env, napi_value exports);

#endif
