/**
 * @module split/split
 * The split in one call: analyse a program (split/analyze) and lower it to the classic-BPF
 * filter the kernel runs in front of the supervisor (split/lower). Every syscall whose verdict
 * does not depend on state is decided by that filter; the rest reaches the supervisor as
 * SECCOMP_RET_USER_NOTIF, and the supervisor runs the whole eBPF program as before.
 */
import type { CInsn } from '../cbpf/insn.js';
import { SeccompEbpfError } from '../errors.js';
import { analyze, type Analysis, type AnalyzeOptions, type Region, type SplitInput } from './analyze.js';
import { lower } from './lower.js';

export interface SplitOptions extends AnalyzeOptions {
  /** Largest filter in instructions (default 4096, the kernel's BPF_MAXINSNS). */
  maxInsns?: number;
}

export interface SplitResult {
  /** The filter to install (passes the kernel's seccomp checker). */
  filter: CInsn[];
  /** Regions as the filter decides them: index = x86_64 syscall number 0..maxNr. */
  syscalls: Region[];
  /** Arch x86_64, nr above the table (x32 numbers, -1, unassigned numbers). */
  other: Region;
  /** Any arch but x86_64. */
  foreign: Region;
  /** Syscalls sent to the supervisor only because the filter would be too large. */
  warnings: string[];
  /** The analysis before lowering. */
  analysis: Analysis;
}

const KEYS = new Set(['maxNr', 'budget', 'totalBudget', 'maxInsns']);

/**
 * Splits `input` into a kernel filter and the supervisor's share. Throws ERR_SPLIT_OPTIONS for
 * bad options and ERR_VM_BAD_INSN for an invalid program.
 */
export function splitProgram(input: SplitInput, opts: SplitOptions = {}): SplitResult {
  if (typeof opts !== 'object' || opts === null) throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', 'split options must be an object');
  for (const k of Object.keys(opts)) if (!KEYS.has(k)) throw new SeccompEbpfError('ERR_SPLIT_OPTIONS', `unknown split option "${k}"`);
  const { maxInsns, ...analyzeOpts } = opts;
  const analysis = analyze(input, analyzeOpts);
  const low = lower(analysis, maxInsns !== undefined ? { maxInsns } : {});
  return { filter: low.filter, syscalls: low.syscalls, other: low.other, foreign: low.foreign, warnings: low.warnings, analysis };
}
