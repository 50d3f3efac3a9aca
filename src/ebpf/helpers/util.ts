/**
 * @module ebpf/helpers/util
 * Register conversions and argument checks shared by the helpers.
 */
import { SeccompEbpfError } from '../../errors.js';
import type { BpfMap } from '../maps/types.js';
import type { HelperEnv, VmMemory } from '../vm/types.js';

/** r0 from a number or bigint (negative errnos become two's complement u64). */
export const ret = (v: number | bigint): bigint => BigInt.asUintN(64, BigInt(v));

/** A u32 argument: the low 32 bits of the register, as the kernel's BPF_CALL casts do. */
export const u32 = (r: bigint): number => Number(r & 0xffff_ffffn);

/** A flags argument as a number, or undefined when bits above 31 are set. */
export const flags32 = (r: bigint): number | undefined => (r > 0xffff_ffffn ? undefined : Number(r));

/** Throws ERR_HELPER_MAP_TYPE: the kernel's verifier refuses such a call
 *  (check_map_func_compatibility), so it cannot happen to a verified program. */
export function wrongMap(helper: string, map: BpfMap): never {
  throw new SeccompEbpfError('ERR_HELPER_MAP_TYPE', `${helper}: map "${map.spec.name}" (type ${map.spec.type}) cannot be used with this helper`);
}

/** The map behind `handle`, which `helper` accepts only of class `kind` (ERR_HELPER_MAP_TYPE). */
export function mapOfKind<M extends BpfMap>(env: HelperEnv, handle: bigint, kind: { prototype: M } & Function, helper: string): M {
  const map = env.map(handle);
  if (!(map instanceof kind)) wrongMap(helper, map);
  return map as M;
}

/**
 * Reads a NUL-terminated string from VM memory without faulting, like
 * strncpy_from_kernel_nofault(dst, addr, count): the bytes before the NUL (at most count - 1
 * of them when there is no NUL in the first count bytes), or undefined if a byte that had to
 * be read is not addressable.
 */
export function readVmString(mem: VmMemory, addr: bigint, count: number): Uint8Array | undefined {
  if (count <= 0) return new Uint8Array(0);
  // Regions are contiguous, so readability is monotonic in the length: find the longest
  // readable prefix (at most `count`) by bisection, then look for the NUL in it.
  const readable = (n: number): Uint8Array | undefined => {
    try {
      return mem.slice(addr, n, false);
    } catch {
      return undefined;
    }
  };
  let window = readable(count);
  if (!window) {
    let lo = 0; // readable
    let hi = count; // not readable
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (readable(mid)) lo = mid;
      else hi = mid;
    }
    window = lo > 0 ? readable(lo)! : new Uint8Array(0);
  }
  const nul = window.indexOf(0);
  if (nul >= 0) return window.slice(0, nul);
  // No NUL in what is readable: a fault, unless all `count` bytes were read.
  return window.length === count ? window.slice(0, count - 1) : undefined;
}
