/**
 * @module sys/bpf
 * The kernel's own eBPF, as a second implementation for differential tests: load a program
 * (BPF_PROG_LOAD), run it (BPF_PROG_TEST_RUN), create and access maps. The bpf_attr packing
 * happens in the addon (native/bpf.c); this layer works on instruction arrays, owns fds
 * (close()), keeps the full verifier log of a rejected program, and reports whether bpf(2)
 * is usable at all (for tests that must skip with a reason).
 *
 * Needs CAP_BPF (or root) for most program types; cpu-v4 instructions need Linux >= 6.6.
 */
import { encodeInsns } from '../ebpf/codec.js';
import type { Insn } from '../ebpf/insn.js';
import { BPF_PROG_TYPE_SOCKET_FILTER } from '../abi/bpf.js';
import { addonAvailable } from '../native/addon.js';
import * as sc from '../native/syscalls.js';

/** BPF_PROG_LOAD failed; `log` holds the whole verifier log (may be empty). Code ERR_SYSCALL. */
export class ProgLoadError extends sc.SyscallError {
  readonly log: string;
  constructor(errno: number, log: string) {
    const tail = log.trim().split('\n').slice(-12).join('\n');
    super('bpf(BPF_PROG_LOAD)', errno, tail ? `verifier log:\n${tail}` : undefined);
    this.name = 'ProgLoadError';
    this.log = log;
  }
}

export interface LoadOptions {
  /** BPF_PROG_TYPE_* (default BPF_PROG_TYPE_SOCKET_FILTER). */
  progType?: number;
  /** Default "GPL". */
  license?: string;
  /** Verifier log buffer size in bytes (default 1 MiB); 0 disables the log. */
  logSize?: number;
}

/** A loaded kernel program. */
export interface KernelProgram {
  readonly fd: number;
  /** BPF_PROG_TEST_RUN with `dataIn` as the packet: the low 32 bits of r0 and the duration (ns). */
  testRun(dataIn: Uint8Array, repeat?: number): { retval: number; duration: number };
  close(): void;
}

/**
 * Loads `insns` into the kernel. Throws ProgLoadError (ERR_SYSCALL, with the verifier log) when
 * the kernel refuses the program, ERR_NATIVE_MISSING when the addon is not built.
 */
export function loadProgram(insns: readonly Insn[], opts: LoadOptions = {}): KernelProgram {
  const logSize = opts.logSize ?? 1 << 20;
  const code = encodeInsns(insns);
  const tryLoad = (log: Uint8Array | null): number => {
    try {
      return sc.bpfProgLoad(opts.progType ?? BPF_PROG_TYPE_SOCKET_FILTER, code, opts.license ?? 'GPL', log ? 1 : 0, log);
    } catch (e) {
      if (e instanceof sc.SyscallError && e.call === 'bpf(BPF_PROG_LOAD)') {
        const text = log ? new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))) : '';
        throw new ProgLoadError(e.errno, text);
      }
      throw e;
    }
  };
  // Load without a log first (fast path); on failure, load again with one to explain why.
  let fd: number;
  try {
    fd = tryLoad(null);
  } catch (e) {
    if (!(e instanceof ProgLoadError) || logSize === 0) throw e;
    fd = tryLoad(new Uint8Array(logSize)); // throws again, now with the log
  }
  let open = true;
  return {
    fd,
    testRun: (dataIn, repeat = 1) => sc.bpfProgTestRun(fd, dataIn, repeat),
    close: () => { if (open) { open = false; sc.close(fd); } },
  };
}

/** A kernel map. */
export interface KernelMap {
  readonly fd: number;
  /** Copies the value of `key` into `value`; false if absent. */
  lookup(key: Uint8Array, value: Uint8Array): boolean;
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  close(): void;
}

/** BPF_MAP_CREATE. Throws SyscallError (ERR_SYSCALL) on failure. */
export function createMap(type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0): KernelMap {
  const fd = sc.bpfMapCreate(type, keySize, valueSize, maxEntries, flags);
  let open = true;
  return {
    fd,
    lookup: (key, value) => sc.bpfMapLookup(fd, key, value),
    update: (key, value, f = 0) => sc.bpfMapUpdate(fd, key, value, f),
    close: () => { if (open) { open = false; sc.close(fd); } },
  };
}

/**
 * Why the kernel's eBPF cannot be used here, or undefined if it can: the addon must load, and
 * a trivial socket filter must load and test-run. Never throws.
 */
export function bpfUnavailableReason(): string | undefined {
  if (!addonAvailable()) return 'native addon not built (build/Release/seccomp_ebpf.node)';
  try {
    const p = loadProgram([{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }], { logSize: 0 });
    try { p.testRun(new Uint8Array(64)); } finally { p.close(); }
    return undefined;
  } catch (e) {
    return `bpf(2) not usable: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** True when the kernel accepts the cpu-v4 instruction `insns` (e.g. sdiv, movsx, gotol). */
export function kernelAccepts(insns: readonly Insn[]): boolean {
  try {
    loadProgram(insns, { logSize: 0 }).close();
    return true;
  } catch (e) {
    if (e instanceof ProgLoadError) return false;
    throw e;
  }
}
