/**
 * @module supervisor/stub
 * The classic-BPF filter installed in the kernel for a supervised process. By default it is the
 * split's filter (src/split): every syscall whose verdict does not depend on state is decided
 * there, the rest is sent to the supervisor with SECCOMP_RET_USER_NOTIF and the eBPF program
 * decides. The notify-everything stub (every system call, whatever its arch, x32 numbers
 * included, goes to the supervisor) remains for debugging, complete decision logs and
 * benchmarks.
 *
 *   struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }   (8 bytes, native endian)
 */
import { SECCOMP_RET_USER_NOTIF } from '../abi/seccomp.js';
import type { Insn } from '../ebpf/insn.js';
import { openSharedMap } from '../ebpf/maps/create.js';
import type { SharedMapState } from '../ebpf/maps/types.js';
import { splitProgram } from '../split/split.js';

const BPF_RET_K = 0x06; // BPF_RET | BPF_K

export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The stub program: `ret #SECCOMP_RET_USER_NOTIF`. */
export function notifyAllStub(): SockFilter[] {
  return [{ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_USER_NOTIF }];
}

/** Encodes sock_filter entries as the bytes of a struct sock_filter array (little endian). */
export function encodeSockFilters(prog: readonly SockFilter[]): Uint8Array {
  const out = new Uint8Array(prog.length * 8);
  const dv = new DataView(out.buffer);
  prog.forEach((f, i) => {
    dv.setUint16(i * 8, f.code, true);
    dv.setUint8(i * 8 + 2, f.jt);
    dv.setUint8(i * 8 + 3, f.jf);
    dv.setUint32(i * 8 + 4, f.k >>> 0, true);
  });
  return out;
}

/** The kernel filter chosen for a program, and what the user should know about it. */
export interface KernelFilter {
  filter: SockFilter[];
  /** True for the split's filter, false for the notify-everything stub. */
  split: boolean;
  /** Syscalls sent to the supervisor only because the filter would be too large, or why the
   *  split could not be used. */
  warnings: string[];
}

/**
 * The filter for `program`: the split's (read-only maps, i.e. .rodata, are read now: they must
 * be frozen from now on, as Filter.spawn does) or, with `split` false, the notify-everything
 * stub. If the split fails (it should not), the stub is used and a warning says why.
 */
export function kernelFilterFor(program: { insns: readonly Insn[]; maps: readonly SharedMapState[] }, split: boolean): KernelFilter {
  if (!split) return { filter: notifyAllStub(), split: false, warnings: [] };
  try {
    const key0 = new Uint8Array(4);
    const r = splitProgram({
      insns: program.insns,
      maps: program.maps.map((m) => m.spec),
      readOnlyValue: (i) => {
        const state = program.maps[i];
        return state ? openSharedMap(state).lookup(key0)?.slice() : undefined;
      },
    });
    return { filter: r.filter, split: true, warnings: r.warnings };
  } catch (e) {
    return { filter: notifyAllStub(), split: false, warnings: [`the split failed (${(e as Error)?.message ?? String(e)}): every syscall goes to the supervisor`] };
  }
}
