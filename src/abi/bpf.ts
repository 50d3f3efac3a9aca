/**
 * @module abi/bpf
 * eBPF instruction encoding (include/uapi/linux/bpf.h, RFC 9669), program and map types,
 * helper ids. Numeric values only; no behaviour.
 *
 *   opcode byte:  +----------------+--------+--------------------+
 *   ALU/JMP       |  operation (4) | src(1) | instruction class  |
 *   LD/ST         |  mode (3)      | size(2)| instruction class  |
 *                 +----------------+--------+--------------------+
 *                  7              4   3    2                    0
 */

// Instruction classes (low 3 bits).
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;
export const BPF_CLASS = (code: number): number => code & 0x07;

// Source bit for ALU/JMP.
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_SRC = (code: number): number => code & 0x08;

// ALU operations (high 4 bits).
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;
export const BPF_OP = (code: number): number => code & 0xf0;
/** BPF_END source bit: TO_LE = 0 (BPF_K), TO_BE = 1 (BPF_X); in ALU64 class it is BSWAP. */
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// Jump operations.
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

// Load/store sizes and modes.
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
export const BPF_SIZE = (code: number): number => code & 0x18;
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
/** cpu v4 sign-extending load (LDX only). */
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;
export const BPF_MODE = (code: number): number => code & 0xe0;

// Atomic operations (imm field of STX|ATOMIC).
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// src_reg values of lddw (BPF_LD | BPF_IMM | BPF_DW).
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
// src_reg values of call.
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

export const BPF_MAX_STACK = 512;
export const MAX_BPF_REG = 11;
export const BPF_REG_FP = 10;
/** The kernel's limit on bpf-to-bpf call depth (MAX_CALL_FRAMES). */
export const MAX_CALL_FRAMES = 8;

// Program types (stock numbering).
export const BPF_PROG_TYPE_SOCKET_FILTER = 1;

// Map types (stock numbering).
export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_PERCPU_HASH = 5;
export const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
export const BPF_MAP_TYPE_LRU_HASH = 9;
export const BPF_MAP_TYPE_LRU_PERCPU_HASH = 10;
export const BPF_MAP_TYPE_TASK_STORAGE = 29;
export const BPF_MAP_TYPE_RINGBUF = 27;

// Map update flags.
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;
// Map creation flags.
export const BPF_F_NO_PREALLOC = 1;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;
export const BPF_LOCAL_STORAGE_GET_F_CREATE = 1;
// Ring buffer flags.
export const BPF_RB_NO_WAKEUP = 1;
export const BPF_RB_FORCE_WAKEUP = 2;

// bpf(2) commands used by the tests.
export const BPF_MAP_CREATE = 0;
export const BPF_MAP_LOOKUP_ELEM = 1;
export const BPF_MAP_UPDATE_ELEM = 2;
export const BPF_PROG_LOAD = 5;
export const BPF_PROG_TEST_RUN = 10;

/** Helper ids (enum bpf_func_id). */
export const BPF_FUNC = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  probe_read: 4,
  ktime_get_ns: 5,
  trace_printk: 6,
  get_prandom_u32: 7,
  get_smp_processor_id: 8,
  tail_call: 12,
  get_current_pid_tgid: 14,
  get_current_uid_gid: 15,
  get_current_comm: 16,
  perf_event_read: 22,
  get_current_task: 35,
  probe_write_user: 36,
  current_task_under_cgroup: 37,
  get_numa_node_id: 42,
  probe_read_str: 45,
  perf_event_read_value: 55,
  get_current_cgroup_id: 80,
  map_push_elem: 87,
  map_pop_elem: 88,
  map_peek_elem: 89,
  spin_lock: 93,
  spin_unlock: 94,
  send_signal: 109,
  probe_read_user: 112,
  probe_read_kernel: 113,
  probe_read_user_str: 114,
  probe_read_kernel_str: 115,
  send_signal_thread: 117,
  jiffies64: 118,
  get_ns_current_pid_tgid: 120,
  get_current_ancestor_cgroup_id: 123,
  ktime_get_boot_ns: 125,
  ringbuf_output: 130,
  ringbuf_reserve: 131,
  ringbuf_submit: 132,
  ringbuf_discard: 133,
  ringbuf_query: 134,
  get_task_stack: 141,
  snprintf_btf: 149,
  per_cpu_ptr: 153,
  this_cpu_ptr: 154,
  task_storage_get: 156,
  task_storage_delete: 157,
  get_current_task_btf: 158,
  ktime_get_coarse_ns: 160,
  for_each_map_elem: 164,
  snprintf: 165,
  timer_init: 169,
  timer_set_callback: 170,
  timer_start: 171,
  timer_cancel: 172,
  get_func_ip: 173,
  task_pt_regs: 175,
  get_branch_snapshot: 176,
  trace_vprintk: 177,
} as const;
export type HelperName = keyof typeof BPF_FUNC;
