/**
 * @module ebpf/verifier/privilege
 * The series' privilege model as pure decisions on LoaderCredentials (spec.md 3.1, 3.5, 3.7):
 * capability predicates, the load gate, the instruction limit, pointer-leak permission, the
 * probe_read_user variant and the helper table a loader is granted.
 *
 * Two variants: 'rfc' (the patch series, the default) and 'repo' (the later repository). The
 * runtime's default is 'rfc' plus REPO's two security fixes, which live where they act (the
 * attach-time user-namespace check in load.ts; the loader's pid namespace is recorded at load).
 */
import { SeccompEbpfError } from '../../errors.js';
import { HELPER, HELPER_PROTOS, type HelperKey } from './protos.js';
import type { HelperProto, LoaderCredentials } from './types.js';

export type PrivilegeVariant = 'rfc' | 'repo';
/** Kernel lockdown level (security/lockdown): it hides probe_read_kernel and probe_write_user. */
export type Lockdown = 'none' | 'integrity' | 'confidentiality';

export const CAP_SYS_PTRACE = 'CAP_SYS_PTRACE';
export const CAP_SYS_ADMIN = 'CAP_SYS_ADMIN';
export const CAP_PERFMON = 'CAP_PERFMON';
export const CAP_BPF = 'CAP_BPF';

/** BPF_MAXINSNS: the instruction limit of loaders that are not bpf_capable. */
export const BPF_MAXINSNS = 4096;
/** BPF_COMPLEXITY_LIMIT_INSNS: the instruction limit of bpf_capable loaders. */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

/** Throws ERR_CRED_INVALID unless `cred` has the shape of LoaderCredentials (it may come from
 *  JavaScript callers or configuration). */
export function assertCredentials(cred: unknown, what = 'credentials'): asserts cred is LoaderCredentials {
  const bad = (m: string): never => {
    throw new SeccompEbpfError('ERR_CRED_INVALID', `${what}: ${m}`);
  };
  if (typeof cred !== 'object' || cred === null) bad('must be an object');
  const c = cred as Record<string, unknown>;
  const caps = c.caps as { has?: unknown; [Symbol.iterator]?: unknown } | undefined;
  if (typeof caps !== 'object' || caps === null || typeof caps.has !== 'function' || typeof caps[Symbol.iterator] !== 'function') {
    bad('caps must be a Set of capability names');
  }
  for (const k of caps as Iterable<unknown>) if (typeof k !== 'string') bad('caps must hold strings');
  for (const k of ['userNs', 'pidNs'] as const) if (typeof c[k] !== 'string') bad(`${k} must be a string`);
  for (const k of ['initNsSysPtrace', 'noNewPrivs'] as const) if (typeof c[k] !== 'boolean') bad(`${k} must be a boolean`);
  if (c.initUserNs !== undefined && typeof c.initUserNs !== 'boolean') bad('initUserNs must be a boolean');
  if (!Number.isSafeInteger(c.unprivilegedBpfDisabled)) bad('unprivilegedBpfDisabled must be an integer');
}

/** capable(cap): the capability in the initial user namespace. */
function capable(cred: LoaderCredentials, cap: string): boolean {
  return cred.initUserNs !== false && cred.caps.has(cap);
}

/** bpf_capable(): CAP_BPF or CAP_SYS_ADMIN (initial user namespace). */
export function bpfCapable(cred: LoaderCredentials): boolean {
  return capable(cred, CAP_BPF) || capable(cred, CAP_SYS_ADMIN);
}

/** perfmon_capable(): CAP_PERFMON or CAP_SYS_ADMIN (initial user namespace). */
export function perfmonCapable(cred: LoaderCredentials): boolean {
  return capable(cred, CAP_PERFMON) || capable(cred, CAP_SYS_ADMIN);
}

/** The bpf_probe_read_user(_str) variant (3.7): 'stock' with CAP_SYS_PTRACE in the loader's
 *  own user namespace, else 'dumpable'. */
export function probeReadVariant(cred: LoaderCredentials): 'stock' | 'dumpable' {
  return cred.caps.has(CAP_SYS_PTRACE) ? 'stock' : 'dumpable';
}

/** Maximum program length in instructions (3.1). */
export function insnLimit(cred: LoaderCredentials): number {
  return bpfCapable(cred) ? BPF_COMPLEXITY_LIMIT_INSNS : BPF_MAXINSNS;
}

/** env->allow_ptr_leaks = bpf_allow_ptr_leaks() = perfmon_capable(). */
export function allowPtrLeaks(cred: LoaderCredentials): boolean {
  return perfmonCapable(cred);
}

export interface LoadGateOptions {
  variant?: PrivilegeVariant;
  /** REPO's kernel.seccomp_ebpf_priv_only (default 0; only consulted by the 'repo' variant). */
  seccompEbpfPrivOnly?: number;
}

/**
 * The load gate (3.1). Throws ERR_LOAD_UNPRIV_DISABLED (EPERM) when
 * kernel.unprivileged_bpf_disabled is non-zero and the loader is not bpf_capable (every bpf()
 * command fails), and, for 'repo', ERR_LOAD_PRIV_ONLY (EPERM) when seccomp_ebpf_priv_only is
 * non-zero and the loader is not both bpf_capable and perfmon_capable. The kernel checks the
 * instruction count (E2BIG) between the two; loadProgram keeps that order.
 */
export function checkUnprivDisabled(cred: LoaderCredentials): void {
  if (cred.unprivilegedBpfDisabled !== 0 && !bpfCapable(cred)) {
    throw new SeccompEbpfError('ERR_LOAD_UNPRIV_DISABLED',
      `load refused (EPERM): kernel.unprivileged_bpf_disabled = ${cred.unprivilegedBpfDisabled} and the loader has neither CAP_BPF nor CAP_SYS_ADMIN`);
  }
}

/** The REPO-only half of the load gate; see checkUnprivDisabled. */
export function checkPrivOnly(cred: LoaderCredentials, opts: LoadGateOptions = {}): void {
  if ((opts.variant ?? 'rfc') !== 'repo') return;
  const v = opts.seccompEbpfPrivOnly ?? 0;
  if (v !== 0 && !(bpfCapable(cred) && perfmonCapable(cred))) {
    throw new SeccompEbpfError('ERR_LOAD_PRIV_ONLY',
      `load refused (EPERM): kernel.seccomp_ebpf_priv_only = ${v} requires CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)`);
  }
}

/** Both halves of the load gate, without the instruction count. */
export function checkLoadGate(cred: LoaderCredentials, opts: LoadGateOptions = {}): void {
  assertCredentials(cred);
  checkUnprivDisabled(cred);
  checkPrivOnly(cred, opts);
}

export interface HelperTableOptions {
  /** The LSM hook denied at load: no helper at all (3.4). */
  restricted: boolean;
  variant?: PrivilegeVariant;
  /** Kernel lockdown (default 'none'). */
  lockdown?: Lockdown;
}

/** Step 2 of 3.5: for every loader, whatever its capabilities. */
const SECCOMP_OVERRIDES: readonly HelperKey[] = [
  'get_current_uid_gid', 'get_current_pid_tgid', 'probe_read_user', 'probe_read_user_str',
  'task_storage_get', 'task_storage_delete',
];

/** bpf_base_func_proto, unconditional part. */
const BASE: readonly HelperKey[] = [
  'map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'map_push_elem', 'map_pop_elem',
  'map_peek_elem', 'get_prandom_u32', 'get_smp_processor_id', 'get_numa_node_id', 'tail_call',
  'ktime_get_ns', 'ktime_get_boot_ns', 'ktime_get_coarse_ns', 'ringbuf_output', 'ringbuf_reserve',
  'ringbuf_submit', 'ringbuf_discard', 'ringbuf_query', 'for_each_map_elem',
];
/** bpf_base_func_proto, if bpf_capable(). */
const BASE_BPF: readonly HelperKey[] = [
  'spin_lock', 'spin_unlock', 'jiffies64', 'per_cpu_ptr', 'this_cpu_ptr',
  'timer_init', 'timer_set_callback', 'timer_start', 'timer_cancel',
];
/** bpf_base_func_proto, if also perfmon_capable() (unreachable for seccomp: step 3 comes first). */
const BASE_PERFMON: readonly HelperKey[] = [
  'trace_printk', 'get_current_task', 'get_current_task_btf', 'probe_read_user', 'probe_read_user_str',
  'probe_read_kernel', 'probe_read_kernel_str', 'snprintf_btf', 'snprintf', 'task_pt_regs', 'trace_vprintk',
];
/** bpf_tracing_func_proto's own entries (REPO's kernel/trace/bpf_trace.c); the base table is
 *  its fallback. probe_write_user and the kernel reads have extra conditions (below); the
 *  sleepable-only copy_from_user is never available to seccomp programs. */
const TRACING: readonly HelperKey[] = [
  'map_lookup_elem', 'map_update_elem', 'map_delete_elem', 'map_push_elem', 'map_pop_elem',
  'map_peek_elem', 'ktime_get_ns', 'ktime_get_boot_ns', 'ktime_get_coarse_ns', 'tail_call',
  'get_current_pid_tgid', 'get_current_task', 'get_current_task_btf', 'task_pt_regs',
  'get_current_uid_gid', 'get_current_comm', 'trace_printk', 'get_smp_processor_id',
  'get_numa_node_id', 'perf_event_read', 'current_task_under_cgroup', 'get_prandom_u32',
  'probe_read_user', 'probe_read_user_str', 'get_current_cgroup_id',
  'get_current_ancestor_cgroup_id', 'send_signal', 'send_signal_thread', 'perf_event_read_value',
  'get_ns_current_pid_tgid', 'ringbuf_output', 'ringbuf_reserve', 'ringbuf_submit',
  'ringbuf_discard', 'ringbuf_query', 'jiffies64', 'get_task_stack', 'snprintf_btf', 'per_cpu_ptr',
  'this_cpu_ptr', 'task_storage_get', 'task_storage_delete', 'for_each_map_elem', 'snprintf',
  'get_func_ip', 'get_branch_snapshot', 'trace_vprintk',
];
/** Lockdown-gated kernel reads of the tracing table (LOCKDOWN_BPF_READ_KERNEL). */
const KERNEL_READS: readonly HelperKey[] = ['probe_read_kernel', 'probe_read_kernel_str', 'probe_read', 'probe_read_str'];
/** Absent from the RFC's ~v5.13 kernel: spec.md 3.5 names the timers, task_pt_regs and
 *  trace_vprintk for the base table; get_func_ip (v5.15) and get_branch_snapshot (v5.16) are
 *  inferred from the kernel's history for the tracing table. */
const NOT_IN_RFC = new Set<HelperKey>([
  'timer_init', 'timer_set_callback', 'timer_start', 'timer_cancel', 'task_pt_regs', 'trace_vprintk',
  'get_func_ip', 'get_branch_snapshot',
]);

/**
 * The helpers granted to `cred` (seccomp_func_proto, spec.md 3.5): nothing when restricted;
 * otherwise the seccomp overrides for everyone, plus the tracing table for loaders that are
 * bpf_capable and perfmon_capable, else the base table with its capability-gated parts.
 */
export function helperTable(cred: LoaderCredentials, opts: HelperTableOptions): Map<number, HelperProto> {
  assertCredentials(cred);
  const variant = opts.variant ?? 'rfc';
  if (variant !== 'rfc' && variant !== 'repo') {
    throw new SeccompEbpfError('ERR_LOAD_OPTIONS', `variant must be 'rfc' or 'repo', got ${String(variant)}`);
  }
  const lockdown = opts.lockdown ?? 'none';
  const table = new Map<number, HelperProto>();
  if (opts.restricted) return table;
  const add = (names: readonly HelperKey[]): void => {
    for (const n of names) {
      if (variant === 'rfc' && NOT_IN_RFC.has(n)) continue;
      table.set(HELPER[n], HELPER_PROTOS.get(HELPER[n])!);
    }
  };
  add(SECCOMP_OVERRIDES);
  const bpf = bpfCapable(cred);
  const perfmon = perfmonCapable(cred);
  if (bpf && perfmon) {
    add(TRACING);
    // bpf_get_probe_write_proto: capable(CAP_SYS_ADMIN) and not locked down for integrity.
    if (capable(cred, CAP_SYS_ADMIN) && lockdown === 'none') add(['probe_write_user']);
    if (lockdown !== 'confidentiality') add(KERNEL_READS);
  }
  add(BASE);
  if (bpf) add(BASE_BPF);
  if (bpf && perfmon) {
    add(BASE_PERFMON.filter((n) => lockdown !== 'confidentiality' || !KERNEL_READS.includes(n)));
  }
  return table;
}
