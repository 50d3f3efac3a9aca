/**
 * @module ebpf/verifier/load
 * BPF_PROG_LOAD for seccomp programs under the series' privilege model (spec.md 3.1-3.7), and
 * the attach-time checks of seccomp() (3.2).
 *
 * loadProgram takes every decision in the loader's context, once: the load gate, the
 * instruction limit, the LSM hook (restricted mode), the helper table, pointer-leak permission
 * and the probe_read_user variant. It then runs the verifier and returns a VerifiedProgram, the
 * only thing the VM and the supervisor accept. Only this module creates them: each one is
 * registered in a module-private WeakMap, so a look-alike object is never taken for one.
 */
import { BPF_CALL, BPF_FUNC, BPF_JMP } from '../../abi/bpf.js';
import { SeccompEbpfError } from '../../errors.js';
import { createHelpers } from '../helpers/index.js';
import type { Insn } from '../insn.js';
import type { MapSpec } from '../maps/types.js';
import type { HelperDef, HelperFn, TaskContext } from '../vm/types.js';
import { permitAll } from './lsm.js';
import {
  CAP_SYS_ADMIN, allowPtrLeaks, assertCredentials, bpfCapable, checkPrivOnly, checkUnprivDisabled,
  helperTable, insnLimit, probeReadVariant, type Lockdown, type PrivilegeVariant,
} from './privilege.js';
import type { HelperProto, LoaderCredentials, SeccompExtendedHook, VerifiedProgram, VerifierOptions } from './types.js';
import { verify } from './verifier.js';

export interface LoadProgramOptions {
  maps: readonly MapSpec[];
  /** The program's license string (GPL-only helpers need a GPL-compatible one). */
  license: string;
  cred: LoaderCredentials;
  /** The seccomp_extended LSM hook (default: none implements it → permit). */
  lsm?: SeccompExtendedHook;
  /** Default 'rfc' (with REPO's security fixes, see privilege.ts). */
  variant?: PrivilegeVariant;
  /** REPO's kernel.seccomp_ebpf_priv_only (default 0; 'repo' only). */
  seccompEbpfPrivOnly?: number;
  /** Kernel lockdown level (default 'none'). */
  lockdown?: Lockdown;
  /** Verifier log level: 0 none, 1 the failing path, 2 every instruction. */
  logLevel?: number;
  /** File name for error locations. */
  file?: string;
}

const BPF_FUNC_GET_CURRENT_PID_TGID = BPF_FUNC.get_current_pid_tgid;
const OPTION_KEYS = new Set(['maps', 'license', 'cred', 'lsm', 'variant', 'seccompEbpfPrivOnly', 'lockdown', 'logLevel', 'file']);

interface Private {
  table: ReadonlyMap<number, HelperProto>;
}
/** The brand: every VerifiedProgram this module made, with what it needs privately. */
const REGISTRY = new WeakMap<object, Private>();

function optionError(m: string): never {
  throw new SeccompEbpfError('ERR_LOAD_OPTIONS', `loadProgram: ${m}`);
}

function checkOptions(insns: unknown, opts: LoadProgramOptions): void {
  if (!Array.isArray(insns)) optionError('instructions must be an array');
  if (typeof opts !== 'object' || opts === null) optionError('options must be an object');
  for (const k of Object.keys(opts)) if (!OPTION_KEYS.has(k)) optionError(`unknown option "${k}"`);
  if (!Array.isArray(opts.maps)) optionError('maps must be an array of MapSpecs');
  if (typeof opts.license !== 'string') optionError('license must be a string');
  assertCredentials(opts.cred, 'loadProgram: cred');
  if (opts.lsm !== undefined && typeof opts.lsm !== 'function') optionError('lsm must be a function (cred) => number');
  if (opts.variant !== undefined && opts.variant !== 'rfc' && opts.variant !== 'repo') optionError(`variant must be 'rfc' or 'repo', got ${String(opts.variant)}`);
  const p = opts.seccompEbpfPrivOnly;
  if (p !== undefined && !Number.isSafeInteger(p)) optionError('seccompEbpfPrivOnly must be an integer');
  const l = opts.lockdown;
  if (l !== undefined && l !== 'none' && l !== 'integrity' && l !== 'confidentiality') optionError(`lockdown must be 'none', 'integrity' or 'confidentiality', got ${String(l)}`);
  const g = opts.logLevel;
  if (g !== undefined && g !== 0 && g !== 1 && g !== 2) optionError(`logLevel must be 0, 1 or 2, got ${String(g)}`);
  if (opts.file !== undefined && typeof opts.file !== 'string') optionError('file must be a string');
}

/** Asks the hook; anything but an integer is a broken policy, not a decision. */
function askHook(hook: SeccompExtendedHook, cred: LoaderCredentials): boolean {
  let r: unknown;
  try {
    r = hook(cred);
  } catch (e) {
    if (e instanceof SeccompEbpfError) throw e;
    throw new SeccompEbpfError('ERR_LSM_HOOK', `seccomp_extended hook threw: ${(e as Error)?.message ?? String(e)}`, undefined, { cause: e });
  }
  if (typeof r !== 'number' || !Number.isInteger(r)) {
    throw new SeccompEbpfError('ERR_LSM_HOOK', `seccomp_extended hook must return an integer (0 permits), got ${String(r)}`);
  }
  return r !== 0;
}

/**
 * Loads `insns` for the loader `opts.cred`. In the kernel's order: the unprivileged_bpf_disabled
 * gate (ERR_LOAD_UNPRIV_DISABLED, EPERM), the instruction count (ERR_LOAD_EMPTY /
 * ERR_VERIFY_TOO_LARGE, E2BIG: 4096 unless bpf_capable, else 1M), REPO's seccomp_ebpf_priv_only
 * gate (ERR_LOAD_PRIV_ONLY, EPERM), then the LSM hook (asked once) and the verifier (its
 * ERR_VERIFY_* errors). Bad options: ERR_LOAD_OPTIONS, ERR_CRED_INVALID; a broken hook: ERR_LSM_HOOK.
 */
export function loadProgram(insns: readonly Insn[], opts: LoadProgramOptions): VerifiedProgram {
  checkOptions(insns, opts);
  const { cred, file } = opts;
  const variant = opts.variant ?? 'rfc';
  checkUnprivDisabled(cred);
  if (insns.length === 0) {
    throw new SeccompEbpfError('ERR_LOAD_EMPTY', 'load refused (E2BIG): the program has no instructions', file !== undefined ? { file } : undefined);
  }
  const limit = insnLimit(cred);
  if (insns.length > limit) {
    throw new SeccompEbpfError('ERR_VERIFY_TOO_LARGE',
      `load refused (E2BIG): ${insns.length} instructions, the limit is ${limit} for this loader${bpfCapable(cred) ? '' : ' (1000000 with CAP_BPF or CAP_SYS_ADMIN)'}`,
      file !== undefined ? { file } : undefined);
  }
  checkPrivOnly(cred, { variant, seccompEbpfPrivOnly: opts.seccompEbpfPrivOnly });
  const restricted = askHook(opts.lsm ?? permitAll, cred);
  const table = helperTable(cred, { restricted, variant, lockdown: opts.lockdown });
  const vopts: VerifierOptions = {
    maps: opts.maps,
    license: opts.license,
    helpers: table,
    bpfCapable: bpfCapable(cred),
    allowPtrLeaks: allowPtrLeaks(cred),
    restricted,
  };
  if (opts.logLevel !== undefined) vopts.logLevel = opts.logLevel;
  if (file !== undefined) vopts.file = file;
  const { stats, log } = verify(insns, vopts);

  const prog = {
    insns: Object.freeze(insns.map((i) => Object.freeze({ code: i.code, dst: i.dst, src: i.src, off: i.off, imm: i.imm }))),
    maps: Object.freeze(opts.maps.map(freezeSpec)),
    helperIds: new ReadonlyIdSet(table.keys()),
    probeReadUser: probeReadVariant(cred),
    restricted,
    userNs: cred.userNs,
    pidNs: cred.pidNs,
    stats: Object.freeze({ ...stats }),
    log,
  };
  Object.freeze(prog);
  REGISTRY.set(prog, { table });
  return prog as unknown as VerifiedProgram;
}

function freezeSpec(m: MapSpec): MapSpec {
  const copy: MapSpec = { ...m };
  if (m.initialValue) copy.initialValue = m.initialValue.slice();
  return Object.freeze(copy);
}

/** A Set that cannot be changed after construction. */
class ReadonlyIdSet extends Set<number> {
  private sealed = false;
  constructor(ids: Iterable<number>) {
    super(ids);
    this.sealed = true;
  }
  override add(v: number): this {
    if (this.sealed) throw new SeccompEbpfError('ERR_PROG_READONLY', 'helperIds of a VerifiedProgram is read-only');
    return super.add(v);
  }
  override delete(): boolean {
    throw new SeccompEbpfError('ERR_PROG_READONLY', 'helperIds of a VerifiedProgram is read-only');
  }
  override clear(): void {
    throw new SeccompEbpfError('ERR_PROG_READONLY', 'helperIds of a VerifiedProgram is read-only');
  }
}

/** True when `x` was returned by loadProgram (and not forged or copied). */
export function isVerifiedProgram(x: unknown): x is VerifiedProgram {
  return typeof x === 'object' && x !== null && REGISTRY.has(x);
}

function privateOf(prog: unknown, what: string): Private {
  const p = typeof prog === 'object' && prog !== null ? REGISTRY.get(prog) : undefined;
  if (!p) throw new SeccompEbpfError('ERR_PROG_NOT_VERIFIED', `${what}: not a program returned by loadProgram`);
  return p;
}

/** Helper ids the program calls (call instructions with src 0), in order of first use. */
export function calledHelpers(insns: readonly Insn[]): number[] {
  const ids = new Set<number>();
  for (const i of insns) if (i.code === (BPF_JMP | BPF_CALL) && i.src === 0) ids.add(i.imm);
  return [...ids];
}

/** A TaskContext that knows its ids as another pid namespace sees them. */
export interface PidNsTask extends TaskContext {
  /** tgid and thread id as seen in pid namespace `pidNs` (a /proc/<pid>/ns/pid link such as
   *  "pid:[4026531836]"), or undefined when the task is not visible there. */
  idsInPidNs(pidNs: string): { tgid: number; pid: number } | undefined;
}

/**
 * REPO's namespace-aware bpf_get_current_pid_tgid (a fix the runtime adopts): the ids of the
 * filtered task in the program's load-time pid namespace, 0 when it is not visible there. A
 * task without idsInPidNs gets `stock` (ids in the supervisor's namespace, which is the
 * loader's whenever the supervisor loaded the program itself).
 */
function pidTgidInNs(pidNs: string, stock: HelperFn): HelperFn {
  return (env, r1, r2, r3, r4, r5) => {
    const task = env.task as Partial<PidNsTask>;
    if (typeof task.idsInPidNs !== 'function') return stock(env, r1, r2, r3, r4, r5);
    const ids = task.idsInPidNs(pidNs);
    return ids ? (BigInt(ids.tgid >>> 0) << 32n) | BigInt(ids.pid >>> 0) : 0n;
  };
}

/**
 * The helper implementations a verified program runs with: the granted table only, with the
 * probe_read_user variant chosen at load and get_current_pid_tgid answering in the load-time
 * pid namespace (see PidNsTask). Throws ERR_HELPER_UNSUPPORTED when the program calls a
 * helper the verifier granted but this runtime does not implement (e.g. get_current_task,
 * jiffies64, tail_call), ERR_PROG_NOT_VERIFIED for anything loadProgram did not return.
 */
export function helpersFor(prog: VerifiedProgram): ReadonlyMap<number, HelperDef> {
  return helpersFromGrant(helperGrant(prog));
}

/**
 * The helper decisions of a verified program as plain data, for a supervisor that builds the
 * VM in another thread (a VerifiedProgram's brand does not survive postMessage). Throws like
 * helpersFor.
 */
export interface HelperGrant {
  ids: number[];
  probeReadUser: 'stock' | 'dumpable';
  pidNs: string;
}

export function helperGrant(prog: VerifiedProgram): HelperGrant {
  const { table } = privateOf(prog, 'helpersFor');
  const missing = calledHelpers(prog.insns)
    .map((id) => table.get(id) ?? { id, name: `helper #${id}`, implemented: false })
    .filter((h) => h.implemented === false);
  if (missing.length > 0) {
    throw new SeccompEbpfError('ERR_HELPER_UNSUPPORTED',
      `the program calls ${missing.map((h) => `${h.name} (${h.id})`).join(', ')}, which the verifier allows but this runtime does not implement`);
  }
  return { ids: [...table.keys()], probeReadUser: prog.probeReadUser, pidNs: prog.pidNs };
}

/** The helper implementations of a grant (see helperGrant). */
export function helpersFromGrant(grant: HelperGrant): ReadonlyMap<number, HelperDef> {
  const allowed = new Set(grant.ids);
  const granted = new Map<number, HelperDef>();
  for (const [id, def] of createHelpers({ probeReadUser: grant.probeReadUser })) if (allowed.has(id)) granted.set(id, def);
  const pid = granted.get(BPF_FUNC_GET_CURRENT_PID_TGID);
  if (pid) granted.set(pid.id, { ...pid, fn: pidTgidInNs(grant.pidNs, pid.fn) });
  return granted;
}

export interface AttachOptions {
  /** REPO's check that the attacher is in the user namespace the program was loaded in
   *  (default true: the runtime adopts this fix; false reproduces the RFC, spec.md 4.3). */
  userNsCheck?: boolean;
}

/**
 * seccomp(SET_MODE_FILTER, EXTENDED) permission checks, in the kernel's order (3.2): the
 * load-time user namespace must be the attacher's (ERR_ATTACH_USERNS, EPERM); then the attacher
 * needs no_new_privs or CAP_SYS_ADMIN in its own user namespace (ERR_ATTACH_EACCES, EACCES).
 */
export function checkAttach(prog: VerifiedProgram, attacher: LoaderCredentials, opts: AttachOptions = {}): void {
  privateOf(prog, 'checkAttach');
  assertCredentials(attacher, 'checkAttach: attacher');
  if (typeof opts !== 'object' || opts === null) throw new SeccompEbpfError('ERR_LOAD_OPTIONS', 'checkAttach: options must be an object');
  if ((opts.userNsCheck ?? true) && prog.userNs !== attacher.userNs) {
    throw new SeccompEbpfError('ERR_ATTACH_USERNS',
      `attach refused (EPERM): the program was loaded in user namespace ${prog.userNs}, the attaching task is in ${attacher.userNs}`);
  }
  if (!attacher.noNewPrivs && !attacher.caps.has(CAP_SYS_ADMIN)) {
    throw new SeccompEbpfError('ERR_ATTACH_EACCES', 'attach refused (EACCES): the attaching task needs no_new_privs or CAP_SYS_ADMIN');
  }
}
