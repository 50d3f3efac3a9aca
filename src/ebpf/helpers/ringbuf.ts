/**
 * @module ebpf/helpers/ringbuf
 * bpf_ringbuf_output, bpf_ringbuf_reserve, bpf_ringbuf_submit, bpf_ringbuf_discard,
 * bpf_ringbuf_query (kernel/bpf/ringbuf.c).
 *
 * reserve returns a VM pointer (env.mem.pointerTo) to the record; submit and discard take that
 * pointer back, commit the record and release the pointer. Reserved records are remembered
 * per VmMemory. The kernel's verifier guarantees that submit/discard get a live reserved
 * pointer; here anything else throws ERR_HELPER_INVALID_ARG.
 *
 * The kernel's verifier also guarantees that every reservation is submitted or discarded on
 * every path. A run that ends otherwise here (a fault, an unverified program) would leave a
 * record reserved forever and block the ring's consumer: whoever runs programs calls
 * discardOutstandingRecords(mem) after each run.
 */
import { BPF_RB_NO_WAKEUP } from '../../abi/bpf.js';
import { SeccompEbpfError } from '../../errors.js';
import { EINVAL } from '../maps/errno.js';
import { RINGBUF_MAX_RECORD_SZ, RingBufMap } from '../maps/ringbuf.js';
import type { HelperEnv, VmMemory } from '../vm/types.js';
import { flags32, ret, u32, mapOfKind } from './util.js';

interface Reserved {
  ring: RingBufMap;
  view: Uint8Array;
}

const reservations = new WeakMap<VmMemory, Map<bigint, Reserved>>();

export function ringbufOutput(env: HelperEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint): bigint {
  const ring = mapOfKind(env, r1, RingBufMap, 'bpf_ringbuf_output');
  const data = env.mem.slice(r2, u32(r3), false);
  const flags = flags32(r4);
  if (flags === undefined) return ret(-EINVAL);
  return ret(ring.output(data, flags));
}

export function ringbufReserve(env: HelperEnv, r1: bigint, r2: bigint, r3: bigint): bigint {
  const ring = mapOfKind(env, r1, RingBufMap, 'bpf_ringbuf_reserve');
  if (r3 !== 0n || r2 > BigInt(RINGBUF_MAX_RECORD_SZ)) return 0n;
  const view = ring.reserve(Number(r2));
  if (!view) return 0n;
  const addr = env.mem.pointerTo(view, true);
  let table = reservations.get(env.mem);
  if (!table) reservations.set(env.mem, (table = new Map()));
  table.set(addr, { ring, view });
  return addr;
}

function commit(env: HelperEnv, addr: bigint, r2: bigint, discard: boolean): bigint {
  const name = discard ? 'bpf_ringbuf_discard' : 'bpf_ringbuf_submit';
  const table = reservations.get(env.mem);
  const rec = table?.get(addr);
  if (!rec || !rec.ring.isReserved(rec.view)) {
    throw new SeccompEbpfError('ERR_HELPER_INVALID_ARG', `${name}: 0x${addr.toString(16)} is not a reserved ring buffer record`);
  }
  table!.delete(addr);
  const flags = Number(r2 & 0xffff_ffffn);
  if (discard) rec.ring.discard(rec.view, flags);
  else rec.ring.submit(rec.view, flags);
  env.mem.release(addr);
  return 0n;
}

export const ringbufSubmit = (env: HelperEnv, r1: bigint, r2: bigint): bigint => commit(env, r1, r2, false);
export const ringbufDiscard = (env: HelperEnv, r1: bigint, r2: bigint): bigint => commit(env, r1, r2, true);

export function ringbufQuery(env: HelperEnv, r1: bigint, r2: bigint): bigint {
  const ring = mapOfKind(env, r1, RingBufMap, 'bpf_ringbuf_query');
  return r2 > 3n ? 0n : ret(ring.query(Number(r2)));
}

/**
 * Discards every record reserved through `mem` and not yet submitted or discarded (after a
 * run that faulted or returned early). Returns how many there were.
 */
export function discardOutstandingRecords(mem: VmMemory): number {
  const table = reservations.get(mem);
  if (!table) return 0;
  let n = 0;
  for (const [addr, rec] of table) {
    if (rec.ring.isReserved(rec.view)) {
      rec.ring.discard(rec.view, BPF_RB_NO_WAKEUP);
      n++;
    }
    try {
      mem.release(addr);
    } catch {
      // The VM may already have forgotten the region (after a run): nothing to release.
    }
  }
  table.clear();
  return n;
}
