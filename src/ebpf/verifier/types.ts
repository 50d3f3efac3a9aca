/**
 * @module ebpf/verifier/types
 * Contracts of the verifier and the series' privilege model (spec.md section 3).
 * Pure: no node:* imports. Credentials are read from the running system elsewhere (src/sys).
 */
import type { Insn } from '../insn.js';
import type { MapSpec } from '../maps/types.js';

/** Who loads the program: decides helpers, limits and restricted mode (spec.md 3.1-3.6). */
export interface LoaderCredentials {
  /** Effective capabilities in the loader's user namespace, by name: 'CAP_BPF', 'CAP_PERFMON',
   *  'CAP_SYS_PTRACE', 'CAP_SYS_ADMIN'. */
  caps: ReadonlySet<string>;
  /** CAP_SYS_PTRACE in the initial user namespace (REPO's Yama check). */
  initNsSysPtrace: boolean;
  /** Identifies the loader's user namespace (e.g. the inode of /proc/self/ns/user). */
  userNs: string;
  /** Identifies the loader's pid namespace. */
  pidNs: string;
  noNewPrivs: boolean;
  /** kernel.unprivileged_bpf_disabled (0 when absent). */
  unprivilegedBpfDisabled: number;
  /** True when userNs is the initial user namespace. The kernel's capable() checks (bpf_capable,
   *  perfmon_capable, probe_write_user's CAP_SYS_ADMIN) need `caps` there; caps held only in a
   *  child user namespace do not count. Undefined counts as true (simulated credentials). */
  initUserNs?: boolean;
}

/** The `seccomp_extended` LSM hook: 0 permits extended features; non-zero restricts. */
export type SeccompExtendedHook = (cred: LoaderCredentials) => number;

/** Argument types of helper prototypes (a subset of the kernel's enum bpf_arg_type). */
export type ArgType =
  | 'anything'              // any initialised scalar (or pointer, for privileged loaders)
  | 'const_map_ptr'         // a map handle (lddw src=1)
  | 'ptr_to_map_key'        // readable memory of map.keySize bytes
  | 'ptr_to_map_value'      // readable memory of map.valueSize bytes
  | 'ptr_to_map_value_or_null'
  | 'ptr_to_mem'            // readable memory, size given by the next 'const_size*' argument
  | 'ptr_to_uninit_mem'     // writable memory (may be uninitialised), size in the next argument
  | 'const_size'            // constant or bounded scalar > 0 (size of the preceding memory arg)
  | 'const_size_or_zero'
  | 'ptr_to_const_str'      // read-only map value holding a NUL-terminated string
  | 'ptr_to_alloc_mem'      // ring buffer record from ringbuf_reserve
  | 'const_alloc_size_or_zero'
  | 'ptr_to_btf_id_or_null' // task pointer or NULL (patch 11); only NULL reachable here
  | 'ptr_to_ctx'
  // Kernel argument types of helpers that are in a table but that this runtime does not run
  // (HelperProto.implemented === false). A verifier may refuse any call using one it does not
  // model (stricter than the kernel, never looser).
  | 'ptr_to_btf_id'         // non-NULL struct task_struct pointer (get_task_stack, task_pt_regs)
  | 'ptr_to_mem_or_null'    // like ptr_to_mem, or NULL with a zero size (snprintf, trace_vprintk)
  | 'ptr_to_stack_or_null'  // for_each_map_elem's callback context
  | 'ptr_to_func'           // a callback (lddw src=4): for_each_map_elem, timer_set_callback
  | 'ptr_to_spin_lock'      // a struct bpf_spin_lock inside a map value (needs map BTF)
  | 'ptr_to_timer'          // a struct bpf_timer inside a map value (needs map BTF)
  | 'ptr_to_percpu_btf_id'; // a per-CPU kernel variable (lddw src=3)

export type RetType =
  | 'integer'
  | 'void'
  | 'ptr_to_map_value_or_null'
  | 'ptr_to_alloc_mem_or_null'   // ringbuf_reserve
  | 'ptr_to_btf_id'               // struct task_struct (get_current_task_btf)
  // Returns of helpers this runtime does not run (see the note on ArgType):
  | 'ptr_to_pt_regs'              // task_pt_regs: BTF pointer to struct pt_regs
  | 'ptr_to_mem_or_btf_id'        // this_cpu_ptr (read-only)
  | 'ptr_to_mem_or_btf_id_or_null'; // per_cpu_ptr (read-only)

export interface HelperProto {
  id: number;
  name: string;
  ret: RetType;
  args: ArgType[];
  gplOnly: boolean;
  /** For ringbuf_reserve/submit/discard: releases (submit/discard) or acquires (reserve) a reference. */
  acquires?: boolean;
  releases?: boolean;
  /** Map types the helper accepts in its const_map_ptr argument (undefined: any). */
  mapTypes?: readonly number[];
  /** false: in a table (so the verifier decides on it as the kernel would) but not run by this
   *  runtime; the run path refuses programs that call it (ERR_HELPER_UNSUPPORTED). Default true.
   *  Arguments past `args.length` are not checked (the kernel's ARG_DONTCARE). */
  implemented?: boolean;
}

/** What the verifier needs to know about the environment of a load. */
export interface VerifierOptions {
  maps: readonly MapSpec[];
  license: string;
  /** Helper id -> prototype: the table the privilege model grants this loader. */
  helpers: ReadonlyMap<number, HelperProto>;
  /** bpf_capable(): bounded loops, 1M instruction limit, bpf-to-bpf calls, pointer comparisons. */
  bpfCapable: boolean;
  /** May the program leak pointers (return them, store them in maps)? (perfmon/CAP_SYS_ADMIN) */
  allowPtrLeaks: boolean;
  /** Restricted mode (LSM hook denied): no helpers, no map-value access. */
  restricted: boolean;
  /** Log level: 0 none, 1 the failing path, 2 every instruction. */
  logLevel?: number;
  file?: string;
}

export interface VerifierStats {
  insnsProcessed: number;
  states: number;
  peakStates: number;
  maxStackDepth: number;
}

declare const verified: unique symbol;
/** A program the verifier accepted, with the decisions that were taken at load time. Only the
 *  verifier creates these; the VM and the supervisor accept nothing else. */
export interface VerifiedProgram {
  readonly [verified]: true;
  readonly insns: readonly Insn[];
  readonly maps: readonly MapSpec[];
  /** Helper table granted at load (ids only; implementations are chosen from it). */
  readonly helperIds: ReadonlySet<number>;
  /** 'stock' when the loader had CAP_SYS_PTRACE at load, else 'dumpable' (spec.md 3.7). */
  readonly probeReadUser: 'stock' | 'dumpable';
  readonly restricted: boolean;
  /** Loader namespaces recorded at load (REPO's attach-time check). */
  readonly userNs: string;
  readonly pidNs: string;
  readonly stats: VerifierStats;
  readonly log: string;
}
