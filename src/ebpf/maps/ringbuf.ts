/**
 * @module ebpf/maps/ringbuf
 * BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): a multi-producer, single-consumer byte ring
 * of max_entries bytes (a power of two, page aligned). Each record is an 8-byte header
 * followed by the data, padded to 8 bytes:
 *
 *   +--------------------------------+----------------+---------------------+
 *   | len: u32 (bit 31 BUSY,         | pg_off: u32    | data (len bytes),   |
 *   |           bit 30 DISCARD)      | (0 here)       | padded to 8         |
 *   +--------------------------------+----------------+---------------------+
 *
 * Positions (consumer, producer, pending) are 64-bit byte counters; a record lives at
 * `pos % size`. The kernel maps the data pages twice so a record that wraps around the end
 * stays contiguous; here the data buffer is 2 x size and a wrapping record simply continues
 * into the second half, which only ever holds the tail of such a record. The space checks are
 * the kernel's (__bpf_ringbuf_reserve), so usable space is size - 8 and a reserved but
 * uncommitted record blocks the consumer and, once the ring has gone round, new reservations.
 *
 * Buffers: [control header + wake-up sequence + positions, data].
 */
import { BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP } from '../../abi/bpf.js';
import { SeccompEbpfError } from '../../errors.js';
import { allocControl, allocShared, C_HEADER, checkShared, MapBase } from './base.js';
import { EAGAIN, EINVAL, ENOTSUPP } from './errno.js';
import type { MapSpec } from './types.js';

export const BPF_RINGBUF_BUSY_BIT = 0x8000_0000;
export const BPF_RINGBUF_DISCARD_BIT = 0x4000_0000;
export const BPF_RINGBUF_HDR_SZ = 8;
/** RINGBUF_MAX_RECORD_SZ (UINT_MAX / 4). */
export const RINGBUF_MAX_RECORD_SZ = 0x3fff_ffff;
// bpf_ringbuf_query flags.
export const BPF_RB_AVAIL_DATA = 0;
export const BPF_RB_RING_SIZE = 1;
export const BPF_RB_CONS_POS = 2;
export const BPF_RB_PROD_POS = 3;

const W_SEQ = C_HEADER; // wake-up sequence, bumped (and notified) on wake-ups
const P_CONS = (C_HEADER + 2) / 2; // BigInt64 indexes (byte offset 40, 48, 56)
const P_PROD = P_CONS + 1;
const P_PEND = P_CONS + 2;
const CTL_EXTRA_WORDS = 8;

const roundLen = (len: number): number => Math.ceil((len + BPF_RINGBUF_HDR_SZ) / 8) * 8;

export class RingBufMap extends MapBase {
  /** Data size in bytes (max_entries). */
  readonly size: number;
  private readonly data: Uint8Array;
  private readonly words: Int32Array;
  private readonly pos: BigInt64Array;

  /** Creates the storage; the spec must have passed validateMapSpec. */
  static create(spec: MapSpec, possibleCpus: number): RingBufMap {
    const ctl = allocControl(spec, possibleCpus, CTL_EXTRA_WORDS);
    const data = allocShared(spec, 2 * spec.maxEntries);
    return new RingBufMap(spec, [ctl, data]);
  }

  /** Re-opens shared storage (see openSharedMap). */
  static open(spec: MapSpec, buffers: SharedArrayBuffer[]): RingBufMap {
    return new RingBufMap(spec, buffers);
  }

  private constructor(spec: MapSpec, buffers: SharedArrayBuffer[]) {
    super(spec, buffers);
    checkShared(buffers.length === 2, spec, `expected 2 buffers, got ${buffers.length}`);
    checkShared(buffers[0]!.byteLength === (C_HEADER + CTL_EXTRA_WORDS) * 4, spec, 'control buffer size');
    checkShared(buffers[1]!.byteLength === 2 * spec.maxEntries, spec, 'data buffer size');
    this.size = spec.maxEntries;
    this.data = new Uint8Array(buffers[1]!);
    this.words = new Int32Array(buffers[1]!);
    this.pos = new BigInt64Array(buffers[0]!);
  }

  private load(p: number): number {
    return Number(Atomics.load(this.pos, p));
  }

  private store(p: number, v: number): void {
    Atomics.store(this.pos, p, BigInt(v));
  }

  private header(off: number): number {
    return Atomics.load(this.words, off / 4) >>> 0;
  }

  /**
   * bpf_ringbuf_reserve: a view of `size` writable bytes in the ring, or undefined when the
   * size is too big, `flags` is not 0, or there is not enough free space.
   */
  reserve(size: number, flags = 0): Uint8Array | undefined {
    if (flags !== 0) return undefined;
    if (!Number.isInteger(size) || size < 0 || size > RINGBUF_MAX_RECORD_SZ) return undefined;
    const len = roundLen(size);
    if (len > this.size) return undefined;
    const mask = this.size - 1;
    return this.mutex.with(() => {
      const cons = this.load(P_CONS);
      const prod = this.load(P_PROD);
      let pend = this.load(P_PEND);
      // Advance past records committed since the last reservation.
      while (pend < prod) {
        const h = this.header(pend % this.size);
        if (h & BPF_RINGBUF_BUSY_BIT) break;
        pend += roundLen(h & ~BPF_RINGBUF_DISCARD_BIT);
      }
      this.store(P_PEND, pend);
      const next = prod + len;
      if (next - cons > mask || next - pend > mask) return undefined;
      const off = prod % this.size;
      Atomics.store(this.words, off / 4, (size | BPF_RINGBUF_BUSY_BIT) | 0);
      Atomics.store(this.words, off / 4 + 1, 0);
      this.store(P_PROD, next);
      return this.data.subarray(off + BPF_RINGBUF_HDR_SZ, off + BPF_RINGBUF_HDR_SZ + size);
    });
  }

  /** bpf_ringbuf_submit: commits a record returned by reserve(). */
  submit(record: Uint8Array, flags = 0): void {
    this.commit(record, flags, false);
  }

  /** bpf_ringbuf_discard: releases a reserved record; the consumer skips it. */
  discard(record: Uint8Array, flags = 0): void {
    this.commit(record, flags, true);
  }

  /** True if `view` is exactly a record reserved from this ring and not yet committed. */
  isReserved(view: Uint8Array): boolean {
    return this.recordHeader(view) >= 0;
  }

  private recordHeader(view: Uint8Array): number {
    if (!(view instanceof Uint8Array) || view.buffer !== this.data.buffer) return -1;
    const off = view.byteOffset - BPF_RINGBUF_HDR_SZ;
    if (off < 0 || off >= this.size || off % 8 !== 0) return -1;
    const h = this.header(off);
    if (!(h & BPF_RINGBUF_BUSY_BIT) || (h & RINGBUF_MAX_RECORD_SZ) !== view.length) return -1;
    return off;
  }

  private commit(record: Uint8Array, flags: number, discard: boolean): void {
    const off = this.recordHeader(record);
    if (off < 0) {
      throw new SeccompEbpfError('ERR_MAP_RINGBUF_RECORD', `map "${this.spec.name}": not a reserved, uncommitted record of this ring buffer`);
    }
    const h = this.header(off);
    const len = (h ^ BPF_RINGBUF_BUSY_BIT) | (discard ? BPF_RINGBUF_DISCARD_BIT : 0);
    Atomics.store(this.words, off / 4, len | 0);
    // Wake the consumer if it has caught up with this record (or if forced), as the kernel does.
    const cons = this.load(P_CONS) % this.size;
    if ((flags & BPF_RB_FORCE_WAKEUP) || (cons === off && !(flags & BPF_RB_NO_WAKEUP))) {
      Atomics.add(this.ctl, W_SEQ, 1);
      Atomics.notify(this.ctl, W_SEQ);
    }
  }

  /** bpf_ringbuf_output: copies `data` into a new record. Returns 0, -EINVAL (flags) or -EAGAIN. */
  output(data: Uint8Array, flags = 0): number {
    if (!(data instanceof Uint8Array)) {
      throw new SeccompEbpfError('ERR_MAP_VALUE_SIZE', `map "${this.spec.name}": ring buffer data must be a Uint8Array`);
    }
    if (!Number.isInteger(flags) || flags < 0 || (flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) !== 0) return -EINVAL;
    const rec = this.reserve(data.length);
    if (!rec) return -EAGAIN;
    rec.set(data);
    this.submit(rec, flags);
    return 0;
  }

  /** bpf_ringbuf_query: available data, ring size, consumer or producer position; 0 otherwise. */
  query(flags: number): bigint {
    switch (flags) {
      case BPF_RB_AVAIL_DATA:
        return BigInt(this.load(P_PROD) - this.load(P_CONS));
      case BPF_RB_RING_SIZE:
        return BigInt(this.size);
      case BPF_RB_CONS_POS:
        return BigInt(this.load(P_CONS));
      case BPF_RB_PROD_POS:
        return BigInt(this.load(P_PROD));
      default:
        return 0n;
    }
  }

  /**
   * The consumer side (like libbpf's ring_buffer__consume): returns copies of the committed
   * records in order, skipping discarded ones, and stops at the first record still reserved.
   * One consumer at a time (as with the kernel's ring buffer).
   */
  consume(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let cons = this.load(P_CONS);
    for (;;) {
      const prod = this.load(P_PROD);
      if (cons >= prod) break;
      const off = cons % this.size;
      const h = this.header(off);
      if (h & BPF_RINGBUF_BUSY_BIT) break;
      const len = h & RINGBUF_MAX_RECORD_SZ;
      cons += roundLen(len);
      if (!(h & BPF_RINGBUF_DISCARD_BIT)) {
        out.push(this.data.slice(off + BPF_RINGBUF_HDR_SZ, off + BPF_RINGBUF_HDR_SZ + len));
      }
      this.store(P_CONS, cons);
    }
    return out;
  }

  /** True if a committed (or discarded) record is waiting at the consumer position. */
  hasData(): boolean {
    const cons = this.load(P_CONS);
    if (cons >= this.load(P_PROD)) return false;
    return !(this.header(cons % this.size) & BPF_RINGBUF_BUSY_BIT);
  }

  /**
   * Blocks (Atomics.wait) until a record can be consumed or `timeoutMs` passes. Returns
   * whether data is available. Wake-ups follow the kernel's rules (BPF_RB_NO_WAKEUP is
   * honoured), so a short timeout is the safe way to poll.
   */
  waitForData(timeoutMs: number): boolean {
    const seq = Atomics.load(this.ctl, W_SEQ);
    if (this.hasData()) return true;
    Atomics.wait(this.ctl, W_SEQ, seq, timeoutMs);
    return this.hasData();
  }

  lookup(): undefined {
    return undefined;
  }

  /** Ring buffers have no elements: -ENOTSUPP, as bpf(2) returns. */
  update(): number {
    return -ENOTSUPP;
  }

  deleteElem(): number {
    return -ENOTSUPP;
  }

  keys(): Uint8Array[] {
    return [];
  }
}
