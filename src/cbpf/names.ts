/**
 * @module cbpf/names
 * Seccomp names used by the classic-BPF disassembler and assembler: return actions spelled the
 * way seccomp-tools spells them (`ALLOW`, `ERRNO(1)`, `KILL`...), AUDIT_ARCH names, and the
 * fields of struct seccomp_data by offset.
 */
import {
  AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW,
  SECCOMP_RET_DATA, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE, SECCOMP_RET_TRAP, SECCOMP_RET_USER_NOTIF,
} from '../abi/seccomp.js';

/** Actions by name; those marked `data` take an optional `(n)` (the low 16 bits). */
export const ACTIONS: ReadonlyMap<string, { value: number; data: boolean }> = new Map([
  ['KILL', { value: SECCOMP_RET_KILL_THREAD, data: false }],
  ['KILL_THREAD', { value: SECCOMP_RET_KILL_THREAD, data: false }],
  ['KILL_PROCESS', { value: SECCOMP_RET_KILL_PROCESS, data: false }],
  ['TRAP', { value: SECCOMP_RET_TRAP, data: true }],
  ['ERRNO', { value: SECCOMP_RET_ERRNO, data: true }],
  ['USER_NOTIF', { value: SECCOMP_RET_USER_NOTIF, data: false }],
  ['TRACE', { value: SECCOMP_RET_TRACE, data: true }],
  ['LOG', { value: SECCOMP_RET_LOG, data: false }],
  ['ALLOW', { value: SECCOMP_RET_ALLOW, data: false }],
]);

/** Name of a filter return value (`ALLOW`, `ERRNO(13)`, `KILL_PROCESS`...), or undefined when it has data bits an action ignores or an unknown action. */
export function actionText(ret: number): string | undefined {
  const action = (ret & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = ret & SECCOMP_RET_DATA;
  for (const [name, a] of ACTIONS) {
    if (a.value !== action || name === 'KILL') continue;
    if (a.data) return data === 0 && name !== 'ERRNO' ? name : `${name}(${data})`;
    return data === 0 ? name : undefined;
  }
  return undefined;
}

export const ARCHES: ReadonlyMap<string, number> = new Map([
  ['ARCH_X86_64', AUDIT_ARCH_X86_64],
  ['ARCH_I386', AUDIT_ARCH_I386],
  ['ARCH_AARCH64', AUDIT_ARCH_AARCH64],
]);

export function archText(value: number): string | undefined {
  for (const [name, v] of ARCHES) if (v === value >>> 0) return name;
  return undefined;
}

/**
 * The seccomp_data field a 32-bit load at `off` reads, seccomp-tools style: `sys_number`,
 * `arch`, `instruction_pointer`, `args[2]`, with ` >> 32` for the upper half of a 64-bit field.
 */
export function dataFieldText(off: number): string | undefined {
  if (off === 0) return 'sys_number';
  if (off === 4) return 'arch';
  if (off === 8) return 'instruction_pointer';
  if (off === 12) return 'instruction_pointer >> 32';
  if (off >= 16 && off < 64 && off % 4 === 0) {
    const i = (off - 16) >> 3;
    return off % 8 === 0 ? `args[${i}]` : `args[${i}] >> 32`;
  }
  return undefined;
}
