/**
 * @module sys/credentials
 * The loader's credentials and the sysctls of the privilege model, read from the running system
 * (spec.md 3.1-3.6), and the CLI's ways of describing another loader (`--as-unprivileged`,
 * `--caps LIST`, `--lsm deny|permit|yama:N`).
 *
 * Sources: CapEff and NoNewPrivs in /proc/self/status; the user and pid namespaces from
 * /proc/self/ns/{user,pid}; the initial user namespace is recognised by its fixed inode number
 * (PROC_USER_INIT_INO, include/linux/proc_ns.h); kernel.unprivileged_bpf_disabled,
 * kernel.yama.ptrace_scope and /sys/kernel/security/lockdown.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { SeccompEbpfError } from '../errors.js';
import { denyAll, permitAll, yamaPolicy } from '../ebpf/verifier/lsm.js';
import { CAP_SYS_PTRACE, type Lockdown, type PrivilegeVariant } from '../ebpf/verifier/privilege.js';
import type { LoaderCredentials, SeccompExtendedHook } from '../ebpf/verifier/types.js';

/** Capability names by bit number (include/uapi/linux/capability.h). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
].map((n) => `CAP_${n}`);
const KNOWN_CAPS = new Set(CAPABILITY_NAMES);

/** Inode of the initial user namespace (PROC_USER_INIT_INO = 0xEFFFFFFD). */
export const INIT_USER_NS_INODE = 0xeffffffd;

/** Reads a file; undefined when it does not exist or cannot be read. */
export type FileReader = (path: string) => string | undefined;

const readText: FileReader = (path) => {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
};

function readLink(path: string): string {
  try {
    return readlinkSync(path);
  } catch (e) {
    throw new SeccompEbpfError('ERR_CRED_READ', `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, undefined, { cause: e });
  }
}

/** Capability names of a hex mask as in /proc/<pid>/status (unknown high bits are kept as
 *  "CAP_<bit>" so that nothing is silently dropped). */
export function parseCapMask(hex: string): Set<string> {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex.trim())) throw new SeccompEbpfError('ERR_CRED_READ', `malformed capability mask "${hex}"`);
  const mask = BigInt(`0x${hex.trim()}`);
  const caps = new Set<string>();
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) caps.add(CAPABILITY_NAMES[bit] ?? `CAP_${bit}`);
  }
  return caps;
}

function statusField(status: string, name: string): string {
  const m = new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status);
  if (!m) throw new SeccompEbpfError('ERR_CRED_READ', `/proc/self/status has no ${name} line`);
  return m[1]!;
}

function intSysctl(path: string, read: FileReader): number | undefined {
  const t = read(path);
  if (t === undefined) return undefined;
  const v = Number.parseInt(t.trim(), 10);
  if (!Number.isSafeInteger(v)) throw new SeccompEbpfError('ERR_CRED_READ', `${path}: not an integer: ${JSON.stringify(t.slice(0, 40))}`);
  return v;
}

/** True when a /proc/<pid>/ns/user link ("user:[4026531837]") names the initial user ns. */
export function isInitUserNs(link: string): boolean {
  return link === `user:[${INIT_USER_NS_INODE}]`;
}

/** The credentials of this process as a seccomp-eBPF loader. Throws ERR_CRED_READ if /proc is
 *  not usable. */
export function currentCredentials(read: FileReader = readText): LoaderCredentials {
  const status = read('/proc/self/status');
  if (status === undefined) throw new SeccompEbpfError('ERR_CRED_READ', 'cannot read /proc/self/status (is /proc mounted?)');
  const caps = parseCapMask(statusField(status, 'CapEff'));
  const userNs = readLink('/proc/self/ns/user');
  const pidNs = readLink('/proc/self/ns/pid');
  const initUserNs = isInitUserNs(userNs);
  return {
    caps,
    initNsSysPtrace: initUserNs && caps.has(CAP_SYS_PTRACE),
    initUserNs,
    userNs,
    pidNs,
    noNewPrivs: statusField(status, 'NoNewPrivs') === '1',
    unprivilegedBpfDisabled: intSysctl('/proc/sys/kernel/unprivileged_bpf_disabled', read) ?? 0,
  };
}

/** kernel.yama.ptrace_scope, or undefined when Yama is not in this kernel. */
export function yamaPtraceScope(read: FileReader = readText): number | undefined {
  return intSysctl('/proc/sys/kernel/yama/ptrace_scope', read);
}

/** The kernel's lockdown level ('none' when the lockdown LSM is absent). */
export function kernelLockdown(read: FileReader = readText): Lockdown {
  const t = read('/sys/kernel/security/lockdown');
  const m = t === undefined ? undefined : /\[(none|integrity|confidentiality)\]/.exec(t);
  return (m?.[1] as Lockdown | undefined) ?? 'none';
}

/** The hook of this system: Yama's policy reading the live sysctl at each load when Yama is
 *  present, else permit (no LSM implements seccomp_extended). */
export function systemLsm(variant: PrivilegeVariant = 'rfc', read: FileReader = readText): SeccompExtendedHook {
  return yamaPtraceScope(read) === undefined ? permitAll : yamaPolicy(() => yamaPtraceScope(read), variant);
}

/** "bpf", "CAP_BPF", "cap_bpf" → "CAP_BPF". Throws ERR_CAPS_UNKNOWN for anything else. */
export function normalizeCapName(name: string): string {
  const n = String(name).trim().toUpperCase();
  const full = n.startsWith('CAP_') ? n : `CAP_${n}`;
  if (!KNOWN_CAPS.has(full)) {
    throw new SeccompEbpfError('ERR_CAPS_UNKNOWN', `unknown capability "${name}" (expected e.g. CAP_BPF, perfmon, sys_ptrace, sys_admin)`);
  }
  return full;
}

export interface CredentialsForOptions {
  /** Drop every capability (`--as-unprivileged`). */
  unprivileged?: boolean;
  /** Exactly these capabilities (`--caps LIST`; names with or without CAP_, any case). */
  caps?: readonly string[];
  /** Override kernel.unprivileged_bpf_disabled (default: the system's value). */
  unprivilegedBpfDisabled?: number;
  /** Override no_new_privs (default: this process's). */
  noNewPrivs?: boolean;
}

/**
 * Credentials of a loader described on the command line: this process's namespaces and sysctls
 * with the given capabilities (all of this process's by default, none with `unprivileged`, the
 * listed ones with `caps`). Throws ERR_CAPS_UNKNOWN for an unknown name.
 */
export function credentialsFor(opts: CredentialsForOptions = {}, base: LoaderCredentials = currentCredentials()): LoaderCredentials {
  if (typeof opts !== 'object' || opts === null) throw new SeccompEbpfError('ERR_CRED_INVALID', 'credentialsFor: options must be an object');
  let caps: Set<string> = new Set(base.caps);
  if (opts.unprivileged) caps = new Set();
  if (opts.caps !== undefined) {
    if (!Array.isArray(opts.caps)) throw new SeccompEbpfError('ERR_CRED_INVALID', 'credentialsFor: caps must be an array of names');
    caps = new Set(opts.caps.map(normalizeCapName));
  }
  const u = opts.unprivilegedBpfDisabled;
  if (u !== undefined && !Number.isSafeInteger(u)) throw new SeccompEbpfError('ERR_CRED_INVALID', 'credentialsFor: unprivilegedBpfDisabled must be an integer');
  const initUserNs = base.initUserNs !== false;
  return {
    ...base,
    caps,
    initNsSysPtrace: initUserNs && caps.has(CAP_SYS_PTRACE),
    unprivilegedBpfDisabled: u ?? base.unprivilegedBpfDisabled,
    noNewPrivs: opts.noNewPrivs ?? base.noNewPrivs,
  };
}

/** Parses `--lsm`: "permit", "deny" or "yama:N" (N an integer ptrace_scope). Throws ERR_LSM_OPTION. */
export function parseLsmOption(text: string, variant: PrivilegeVariant = 'rfc'): SeccompExtendedHook {
  const t = String(text).trim().toLowerCase();
  if (t === 'permit') return permitAll;
  if (t === 'deny') return denyAll;
  const m = /^yama:(-?\d+)$/.exec(t);
  if (m) return yamaPolicy(Number(m[1]), variant);
  throw new SeccompEbpfError('ERR_LSM_OPTION', `--lsm must be "permit", "deny" or "yama:N" (N = kernel.yama.ptrace_scope), got "${text}"`);
}
