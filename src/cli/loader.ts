/**
 * @module cli/loader
 * The loader options shared by `verify`, `run` and `explain`: who loads the filter decides what
 * it may use (spec.md section 3). By default the loader is this process, with its real
 * capabilities and the system's LSM policy (Yama when present).
 *
 *   --as-unprivileged   no capabilities
 *   --caps LIST         exactly these capabilities (e.g. bpf,perfmon or CAP_SYS_PTRACE)
 *   --lsm POLICY        the seccomp_extended hook: permit, deny or yama:N (ptrace_scope N)
 *
 * A simulated loader (--as-unprivileged / --caps) is judged on a system where unprivileged
 * loads are allowed (kernel.unprivileged_bpf_disabled = 0), so that the command shows what the
 * filter may do; when this machine's sysctl would refuse such a loader, a note says so.
 */
import {
  credentialsFor, currentCredentials, parseLsmOption,
  type LoaderCredentials, type LoadFilterOptions, type SeccompExtendedHook,
} from '../index.js';
import { usageError } from './errors.js';

export interface LoaderCliOptions {
  asUnprivileged?: boolean;
  caps?: string;
  lsm?: string;
}

export interface LoaderChoice {
  options: Pick<LoadFilterOptions, 'cred' | 'lsm'>;
  /** How to name the loader in messages. */
  describe: string;
  notes: string[];
}

export function loaderChoice(opts: LoaderCliOptions): LoaderChoice {
  if (opts.asUnprivileged && opts.caps !== undefined) throw usageError('--as-unprivileged and --caps exclude each other');
  const notes: string[] = [];
  let cred: LoaderCredentials | undefined;
  const simulated = opts.asUnprivileged || opts.caps !== undefined;
  if (simulated) {
    const real = currentCredentials();
    const caps = opts.caps !== undefined ? opts.caps.split(',').map((c) => c.trim()).filter((c) => c !== '') : [];
    cred = credentialsFor({ unprivileged: true, caps, unprivilegedBpfDisabled: 0 }, real);
    if (real.unprivilegedBpfDisabled !== 0 && !cred.caps.has('CAP_BPF') && !cred.caps.has('CAP_SYS_ADMIN')) {
      notes.push(`kernel.unprivileged_bpf_disabled is ${real.unprivilegedBpfDisabled} on this machine: it would refuse this loader any bpf() use (spec.md 3.1); shown as if it were 0`);
    }
  }
  const lsm: SeccompExtendedHook | undefined = opts.lsm !== undefined ? parseLsmOption(opts.lsm) : undefined;
  const who = !simulated ? 'this process' : cred!.caps.size === 0 ? 'an unprivileged loader' : `a loader with ${[...cred!.caps].sort().join(', ')}`;
  return {
    options: { ...(cred ? { cred } : {}), ...(lsm ? { lsm } : {}) },
    describe: `${who}${opts.lsm !== undefined ? `, LSM ${opts.lsm}` : ''}`,
    notes,
  };
}
