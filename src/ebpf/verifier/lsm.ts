/**
 * @module ebpf/verifier/lsm
 * Policies for the series' `seccomp_extended` LSM hook (spec.md 3.3, 3.6). The hook is asked once,
 * at load time, with the loader's credentials: 0 permits the extended features, non-zero
 * (a negative errno, never shown to user space) selects the restricted "almost cBPF" mode.
 *
 * Yama's policy (patch 9) reads kernel.yama.ptrace_scope when the hook is called, so a later
 * change of the sysctl affects later loads only, never a program already loaded.
 */
import { SeccompEbpfError } from '../../errors.js';
import { CAP_SYS_PTRACE, type PrivilegeVariant } from './privilege.js';
import type { LoaderCredentials, SeccompExtendedHook } from './types.js';

const EPERM = 1;

/** No LSM implements the hook: security_seccomp_extended() returns 0 (behaviour 21). */
export const permitAll: SeccompExtendedHook = () => 0;

/** An LSM that restricts every loader. */
export const denyAll: SeccompExtendedHook = () => -EPERM;

/** Yama's ptrace_scope values. */
export const YAMA_SCOPE_DISABLED = 0;
export const YAMA_SCOPE_RELATIONAL = 1;
export const YAMA_SCOPE_CAPABILITY = 2;
export const YAMA_SCOPE_NO_ATTACH = 3;

/**
 * Patch 9's Yama policy (3.6): scope 0 and 1 permit; 2 permits only a loader with CAP_SYS_PTRACE
 * (RFC: in its own user namespace; REPO: in the initial one); 3 and any other value restrict
 * everyone, root included. `scope` is a value or a function read at each load (the live sysctl);
 * a function returning undefined means Yama is not there, and the hook permits.
 */
export function yamaPolicy(scope: number | (() => number | undefined), variant: PrivilegeVariant = 'rfc'): SeccompExtendedHook {
  if (variant !== 'rfc' && variant !== 'repo') {
    throw new SeccompEbpfError('ERR_LSM_OPTION', `Yama policy variant must be 'rfc' or 'repo', got ${String(variant)}`);
  }
  if (typeof scope === 'number' && !Number.isInteger(scope)) {
    throw new SeccompEbpfError('ERR_LSM_OPTION', `ptrace_scope must be an integer, got ${scope}`);
  }
  const read = typeof scope === 'function' ? scope : () => scope;
  return (cred: LoaderCredentials): number => {
    const s = read();
    if (s === undefined) return 0;
    switch (s) {
      case YAMA_SCOPE_DISABLED:
      case YAMA_SCOPE_RELATIONAL:
        return 0;
      case YAMA_SCOPE_CAPABILITY: {
        const ptrace = variant === 'repo' ? cred.initNsSysPtrace : cred.caps.has(CAP_SYS_PTRACE);
        return ptrace ? 0 : -EPERM;
      }
      default:
        return -EPERM;
    }
  };
}

/** Several LSMs stacked: the first non-zero answer wins (call_int_hook); none → 0. */
export function composeHooks(...hooks: SeccompExtendedHook[]): SeccompExtendedHook {
  return (cred) => {
    for (const h of hooks) {
      const r = h(cred);
      if (r !== 0) return r;
    }
    return 0;
  };
}
