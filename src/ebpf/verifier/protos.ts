/**
 * @module ebpf/verifier/protos
 * Helper prototypes (the kernel's struct bpf_func_proto: return type, argument types, gpl_only)
 * for every helper that appears in one of the series' helper tables (spec.md 3.5): the base
 * table, its CAP_BPF additions, the tracing table and the seccomp overrides.
 *
 * Ids use the stock UAPI numbering (enum bpf_func_id). Facts are the kernel's
 * (kernel/bpf/helpers.c, kernel/trace/bpf_trace.c, kernel/bpf/ringbuf.c,
 * kernel/bpf/bpf_task_storage.c); the seccomp task storage prototypes are the series'
 * "default leader" variants (patches 11, 12) whose task argument may be NULL.
 *
 * Helpers this runtime does not run (tail_call, get_current_task, jiffies64, timers, ...) have a
 * prototype too, with `implemented: false`: the verifier accepts or rejects them exactly as the
 * kernel would, and the run path refuses a program that calls one (ERR_HELPER_UNSUPPORTED).
 */
import {
  BPF_FUNC,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_TASK_STORAGE,
} from '../../abi/bpf.js';
import type { ArgType, HelperProto, RetType } from './types.js';

/** Helper ids (stock enum bpf_func_id values) of every helper named in spec.md 3.5: abi/bpf's table. */
export const HELPER = BPF_FUNC;
export type HelperKey = keyof typeof HELPER;

// Map types other than the ones the runtime creates, for the kernel's map/helper compatibility.
const PROG_ARRAY = 3;
const PERF_EVENT_ARRAY = 4;
const CGROUP_ARRAY = 8;
const LPM_TRIE = 11;
const ARRAY_OF_MAPS = 12;
const HASH_OF_MAPS = 13;
const QUEUE = 22;
const STACK = 23;

/** Maps whose elements the generic map helpers reach (not ring buffers, task storage, prog or
 *  perf-event arrays, queues: those have their own helpers only). */
const DATA_MAPS: readonly number[] = [
  BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH, LPM_TRIE, ARRAY_OF_MAPS, HASH_OF_MAPS,
];
/** Maps for_each_map_elem iterates. */
const ITERABLE_MAPS: readonly number[] = [
  BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
];

interface Extra {
  gpl?: boolean;
  mapTypes?: readonly number[];
  acquires?: boolean;
  releases?: boolean;
  /** false: this runtime has no implementation. */
  impl?: boolean;
}

function p(name: HelperKey, ret: RetType, args: ArgType[], x: Extra = {}): HelperProto {
  const proto: HelperProto = { id: HELPER[name], name: `bpf_${name}`, ret, args, gplOnly: x.gpl ?? false };
  if (x.mapTypes) proto.mapTypes = x.mapTypes;
  if (x.acquires) proto.acquires = true;
  if (x.releases) proto.releases = true;
  if (x.impl === false) proto.implemented = false;
  return Object.freeze(proto);
}

const NO = { impl: false } as const;
const GPL = { gpl: true } as const;
const GPL_NO = { gpl: true, impl: false } as const;
const RINGBUF = [BPF_MAP_TYPE_RINGBUF] as const;
const PROBE: ArgType[] = ['ptr_to_uninit_mem', 'const_size_or_zero', 'anything'];

const ALL: readonly HelperProto[] = [
  // Map helpers (kernel/bpf/helpers.c).
  p('map_lookup_elem', 'ptr_to_map_value_or_null', ['const_map_ptr', 'ptr_to_map_key'], { mapTypes: DATA_MAPS }),
  p('map_update_elem', 'integer', ['const_map_ptr', 'ptr_to_map_key', 'ptr_to_map_value', 'anything'], { mapTypes: DATA_MAPS }),
  p('map_delete_elem', 'integer', ['const_map_ptr', 'ptr_to_map_key'], { mapTypes: DATA_MAPS }),
  p('map_push_elem', 'integer', ['const_map_ptr', 'ptr_to_map_value', 'anything'], { mapTypes: [QUEUE, STACK], impl: false }),
  // The kernel's pop/peek value argument is ARG_PTR_TO_MAP_VALUE | MEM_UNINIT; no queue or stack
  // map can exist here, so the difference is never observable.
  p('map_pop_elem', 'integer', ['const_map_ptr', 'ptr_to_map_value'], { mapTypes: [QUEUE, STACK], impl: false }),
  p('map_peek_elem', 'integer', ['const_map_ptr', 'ptr_to_map_value'], { mapTypes: [QUEUE, STACK], impl: false }),
  p('for_each_map_elem', 'integer', ['const_map_ptr', 'ptr_to_func', 'ptr_to_stack_or_null', 'anything'], { mapTypes: ITERABLE_MAPS, impl: false }),
  p('tail_call', 'void', ['ptr_to_ctx', 'const_map_ptr', 'anything'], { mapTypes: [PROG_ARRAY], impl: false }),
  // Scalars.
  p('get_prandom_u32', 'integer', []),
  p('get_smp_processor_id', 'integer', []),
  p('get_numa_node_id', 'integer', []),
  p('ktime_get_ns', 'integer', []),
  p('ktime_get_boot_ns', 'integer', []),
  p('ktime_get_coarse_ns', 'integer', []),
  p('jiffies64', 'integer', [], NO),
  // Ring buffer (kernel/bpf/ringbuf.c).
  p('ringbuf_output', 'integer', ['const_map_ptr', 'ptr_to_mem', 'const_size_or_zero', 'anything'], { mapTypes: RINGBUF }),
  p('ringbuf_reserve', 'ptr_to_alloc_mem_or_null', ['const_map_ptr', 'const_alloc_size_or_zero', 'anything'], { mapTypes: RINGBUF, acquires: true }),
  p('ringbuf_submit', 'void', ['ptr_to_alloc_mem', 'anything'], { releases: true }),
  p('ringbuf_discard', 'void', ['ptr_to_alloc_mem', 'anything'], { releases: true }),
  p('ringbuf_query', 'integer', ['const_map_ptr', 'anything'], { mapTypes: RINGBUF }),
  // CAP_BPF additions of the base table.
  p('spin_lock', 'void', ['ptr_to_spin_lock'], NO),
  p('spin_unlock', 'void', ['ptr_to_spin_lock'], NO),
  p('per_cpu_ptr', 'ptr_to_mem_or_btf_id_or_null', ['ptr_to_percpu_btf_id', 'anything'], NO),
  p('this_cpu_ptr', 'ptr_to_mem_or_btf_id', ['ptr_to_percpu_btf_id'], NO),
  p('timer_init', 'integer', ['ptr_to_timer', 'const_map_ptr', 'anything'], NO),
  p('timer_set_callback', 'integer', ['ptr_to_timer', 'ptr_to_func'], NO),
  p('timer_start', 'integer', ['ptr_to_timer', 'anything', 'anything'], NO),
  p('timer_cancel', 'integer', ['ptr_to_timer'], NO),
  // The current task (kernel/bpf/helpers.c, kernel/trace/bpf_trace.c).
  p('get_current_pid_tgid', 'integer', []),
  p('get_current_uid_gid', 'integer', []),
  p('get_current_comm', 'integer', ['ptr_to_uninit_mem', 'const_size']),
  p('get_current_task', 'integer', [], GPL_NO),
  p('get_current_task_btf', 'ptr_to_btf_id', [], GPL_NO),
  p('task_pt_regs', 'ptr_to_pt_regs', ['ptr_to_btf_id'], GPL_NO),
  p('get_task_stack', 'integer', ['ptr_to_btf_id', 'ptr_to_uninit_mem', 'const_size_or_zero', 'anything'], NO),
  p('get_current_cgroup_id', 'integer', [], NO),
  p('get_current_ancestor_cgroup_id', 'integer', ['anything'], NO),
  p('current_task_under_cgroup', 'integer', ['const_map_ptr', 'anything'], { mapTypes: [CGROUP_ARRAY], impl: false }),
  p('get_ns_current_pid_tgid', 'integer', ['anything', 'anything', 'ptr_to_uninit_mem', 'const_size'], NO),
  p('send_signal', 'integer', ['anything'], NO),
  p('send_signal_thread', 'integer', ['anything'], NO),
  // Memory reads and writes (kernel/trace/bpf_trace.c). probe_read_user(_str) are also the
  // seccomp overrides: same prototype, variant chosen at load (spec.md 3.7).
  p('probe_read_user', 'integer', PROBE, GPL),
  p('probe_read_user_str', 'integer', PROBE, GPL),
  p('probe_read_kernel', 'integer', PROBE, GPL),
  p('probe_read_kernel_str', 'integer', PROBE, GPL),
  p('probe_read', 'integer', PROBE, GPL),
  p('probe_read_str', 'integer', PROBE, GPL),
  p('probe_write_user', 'integer', ['anything', 'ptr_to_mem', 'const_size'], GPL_NO),
  // Output. trace_printk's arguments 3-5 are not checked (ARG_DONTCARE).
  p('trace_printk', 'integer', ['ptr_to_mem', 'const_size'], GPL),
  p('trace_vprintk', 'integer', ['ptr_to_mem', 'const_size', 'ptr_to_mem_or_null', 'const_size_or_zero'], GPL_NO),
  p('snprintf', 'integer', ['ptr_to_mem_or_null', 'const_size_or_zero', 'ptr_to_const_str', 'ptr_to_mem_or_null', 'const_size_or_zero'], GPL_NO),
  p('snprintf_btf', 'integer', ['ptr_to_mem', 'const_size', 'ptr_to_mem', 'const_size', 'anything'], NO),
  // Perf and tracing context.
  p('perf_event_read', 'integer', ['const_map_ptr', 'anything'], { mapTypes: [PERF_EVENT_ARRAY], impl: false }),
  p('perf_event_read_value', 'integer', ['const_map_ptr', 'anything', 'ptr_to_uninit_mem', 'const_size'], { gpl: true, mapTypes: [PERF_EVENT_ARRAY], impl: false }),
  p('get_func_ip', 'integer', ['ptr_to_ctx'], GPL_NO),
  p('get_branch_snapshot', 'integer', ['ptr_to_uninit_mem', 'const_size_or_zero', 'anything'], GPL_NO),
  // Task storage: the series' "default leader" variants (task may be NULL → the group leader).
  p('task_storage_get', 'ptr_to_map_value_or_null', ['const_map_ptr', 'ptr_to_btf_id_or_null', 'ptr_to_map_value_or_null', 'anything'],
    { mapTypes: [BPF_MAP_TYPE_TASK_STORAGE] }),
  p('task_storage_delete', 'integer', ['const_map_ptr', 'ptr_to_btf_id_or_null'], { mapTypes: [BPF_MAP_TYPE_TASK_STORAGE] }),
];

/** Every prototype, by id. */
export const HELPER_PROTOS: ReadonlyMap<number, HelperProto> = new Map(ALL.map((h) => [h.id, h]));

/** The prototype of `name`. */
export function proto(name: HelperKey): HelperProto {
  return HELPER_PROTOS.get(HELPER[name])!;
}

/** True unless the runtime lacks an implementation (HelperProto.implemented === false). */
export const isImplemented = (h: HelperProto): boolean => h.implemented !== false;
