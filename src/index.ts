/**
 * @module seccomp-ebpf
 * The public API. Load a seccomp-eBPF filter (a clang-built `SEC("seccomp")` object, eBPF
 * assembly text or raw instructions), set its globals and maps, and run commands under it:
 *
 * ```ts
 * import { loadFilter } from 'seccomp-ebpf';
 * const filter = await loadFilter('examples/getpid-half.bpf.o', { globals: { HALF: 500n } });
 * const child = filter.spawn('/bin/sh', ['-c', 'echo hi'], { stdio: 'inherit' });
 * const { code, signal } = await child.exited;
 * console.log(filter.map('.bss').entries(), filter.getGlobal('count'));
 * ```
 *
 * What is not exported here is internal. See docs/library.md for the enforcement semantics on a
 * stock kernel (how each verdict is carried out, and where that differs from the series).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeccompEbpfError } from './errors.js';
import { Filter, type MapScalar } from './filter.js';
import type { LoaderCredentials, SeccompExtendedHook } from './ebpf/verifier/types.js';
import type { PrivilegeVariant } from './ebpf/verifier/privilege.js';
import { parseFilterSource, readFilterSource } from './loader.js';

export interface LoadFilterOptions {
  /** Program to run: function or section name; default the SEC("seccomp") program. */
  program?: string;
  /** Globals to set before anything runs (see Filter.setGlobal). */
  globals?: Record<string, MapScalar>;
  /** Name for messages when `source` is bytes. */
  file?: string;
  /** Size of per-CPU maps (default: this machine's possible CPUs). */
  possibleCpus?: number;
  /** The loader's credentials (default: this process's; see credentialsFor for simulating
   *  another loader). What the program may use depends on them (spec.md section 3). */
  cred?: LoaderCredentials;
  /** The seccomp_extended LSM hook (default: the system's: Yama's policy when Yama is present,
   *  else permit); see parseLsmOption, permitAll, denyAll, yamaPolicy. */
  lsm?: SeccompExtendedHook;
  /** 'rfc' (default) or 'repo' semantics where the series' two versions differ. */
  variant?: PrivilegeVariant;
  /** Verifier log level kept in `filter.verified.log` (default 1). */
  logLevel?: number;
}

const LOAD_KEYS = new Set(['program', 'globals', 'file', 'possibleCpus', 'cred', 'lsm', 'variant', 'logLevel']);

/**
 * Loads a filter from a file path or bytes: parses it (ELF object, assembly text or raw
 * instructions), picks the program, creates its maps and sets `globals`. Throws
 * SeccompEbpfError (ERR_LOAD_READ, ERR_ELF_*, ERR_BTF_*, ERR_ASM_*, ERR_MAP_*, ERR_GLOBAL_*...).
 */
export async function loadFilter(source: string | Uint8Array, opts: LoadFilterOptions = {}): Promise<Filter> {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('loadFilter options must be an object');
  for (const k of Object.keys(opts)) if (!LOAD_KEYS.has(k)) throw new TypeError(`unknown loadFilter option "${k}"`);
  const sel = opts.program !== undefined ? { program: opts.program } : {};
  let loaded;
  if (typeof source === 'string') loaded = await readFilterSource(source, sel);
  else if (source instanceof Uint8Array) loaded = parseFilterSource(source, { ...sel, ...(opts.file !== undefined ? { file: opts.file } : {}) });
  else throw new TypeError('loadFilter source must be a path or a Uint8Array');
  const { possibleCpus, cred, lsm, variant, logLevel } = opts;
  const filter = new Filter(loaded.spec, loaded.program, Object.fromEntries(
    Object.entries({ possibleCpus, cred, lsm, variant, logLevel }).filter(([, v]) => v !== undefined)));
  for (const [name, value] of Object.entries(opts.globals ?? {})) filter.setGlobal(name, value);
  return filter;
}

/** Path of the bundled default policy (policies/default.bpf.o in the package). */
export function defaultPolicyPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'policies', 'default.bpf.o');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new SeccompEbpfError('ERR_LOAD_READ', 'the bundled default policy (policies/default.bpf.o) is missing from the package');
    dir = parent;
  }
}

export { Filter, FilterMap, encodeScalar, decodeScalar } from './filter.js';
export type { FilterOptions } from './filter.js';
export { loadProgram, checkAttach, isVerifiedProgram, helpersFor } from './ebpf/verifier/load.js';
export { verify } from './ebpf/verifier/verifier.js';
export { VerifierError } from './ebpf/verifier/errors.js';
export { permitAll, denyAll, yamaPolicy, composeHooks } from './ebpf/verifier/lsm.js';
export { helperTable } from './ebpf/verifier/privilege.js';
export type { PrivilegeVariant } from './ebpf/verifier/privilege.js';
export type { LoaderCredentials, SeccompExtendedHook, VerifiedProgram, VerifierOptions, VerifierStats, HelperProto } from './ebpf/verifier/types.js';
export { currentCredentials, credentialsFor, parseLsmOption, yamaPtraceScope } from './sys/credentials.js';
export type { MapScalar, MapValue, MapEntry, GlobalInfo } from './filter.js';
export { parseFilterSource, readFilterSource, sourceKind } from './loader.js';
export type { LoadedSource, SourceKind, SourceOptions } from './loader.js';
export { spawnUnderFilter, resolveCommand } from './spawn.js';
export type { SpawnOptions, FilteredProcess, StdioEntry, RunnableProgram } from './spawn.js';
export type { ExitStatus, UserNotification, UserNotifResponse, UserNotifHandler } from './supervisor/supervisor.js';
export type { LogRecord, DecisionRecord, TraceRecord } from './supervisor/log.js';
export { formatRecord } from './supervisor/log.js';
export { decide } from './supervisor/decision.js';
export type { Decision, ActionName } from './supervisor/decision.js';

export { splitProgram, formatTree, formatVerdict } from './split/index.js';
export type { SplitInput, SplitOptions, SplitResult } from './split/index.js';
export { disassembleClassic, assembleClassic, runClassic, checkClassic, classicToEbpf, encodeClassic, decodeClassic } from './cbpf/index.js';
export { disassemble } from './ebpf/disasm.js';
export type { DisasmOptions } from './ebpf/disasm.js';
export { assemble } from './ebpf/asm.js';
export type { AsmOptions } from './ebpf/asm.js';
export { decodeInsns, encodeInsns } from './ebpf/codec.js';
export { parseBpfObject, findProgram } from './ebpf/elf/index.js';
export type { Insn } from './ebpf/insn.js';
export type { ObjectSpec, ProgramSpec, GlobalVariable } from './ebpf/object.js';
export type { MapSpec } from './ebpf/maps/types.js';
export { mapTypeName } from './ebpf/maps/validate.js';
export { syscallName, syscallNumber } from './abi/syscalls-x86_64.js';
export { actionName } from './abi/seccomp.js';

export { SeccompEbpfError, hasCode } from './errors.js';
export type { ErrorLocation } from './errors.js';
export { SyscallError } from './native/syscalls.js';
