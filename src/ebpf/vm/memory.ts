/**
 * @module ebpf/vm/memory
 * The VM's address space: a set of regions (the seccomp_data context, one 512-byte stack per
 * call frame, map values and ring-buffer records handed out through `pointerTo`), each with its
 * own base address. Every access is bounds-, liveness- and permission-checked.
 *
 * Address layout (a pointer is an ordinary u64, so pointer arithmetic just works):
 *
 *    63                      32 31                 0
 *   +--------------------------+--------------------+
 *   |  REGION_TAG + id * 16    |  offset in region  |
 *   +--------------------------+--------------------+
 *
 * REGION_TAG (0x10000) keeps every valid address far away from 0, small integers, negative
 * numbers and the map-handle range (MAP_HANDLE_BASE). Regions are smaller than 4 GiB and ids
 * are 16 apart in the high word, so an address that strays out of its region (even by
 * multiples of 4 GiB) lands past the region's end or between ids: both fault. Released ids
 * are reused only after the id space (~2^28) has wrapped, so a pointer kept after
 * bpf_ringbuf_submit faults ("use after release").
 */
import type { VmMemory } from './types.js';
import { VmMemoryFault, type AccessKind } from './faults.js';
import { BPF_MAX_STACK, MAX_CALL_FRAMES } from '../../abi/bpf.js';

/** High-word tag of every region address. */
export const REGION_TAG = 0x1_0000;
const CTX_ID = 1;
const STACK_ID0 = 2; // stacks of frames 0..7 are ids 2..9
const FIRST_DYNAMIC_ID = 16;
const ID_STRIDE = 16;
/** Largest id: keeps REGION_TAG + id * ID_STRIDE below 2^32 and the map-handle range. */
const MAX_ID = 0x0ff0_0000;
/** When more dynamic regions than this exist, unpinned ones are forgotten at the next run. */
const DYNAMIC_SOFT_LIMIT = 1 << 16;
const RELEASED_MEMORY = 1024;

/** Base address of region `id`. */
export const regionBase = (id: number): bigint => BigInt(REGION_TAG + id * ID_STRIDE) << 32n;

/** Region id of `addr`'s high word, or -1 if it falls between ids (or below the tag). */
function idOf(hi: number): number {
  const rel = hi - REGION_TAG;
  return rel >= 0 && rel % ID_STRIDE === 0 ? rel / ID_STRIDE : -1;
}

export interface Region {
  readonly id: number;
  bytes: Uint8Array;
  dv: DataView;
  writable: boolean;
  desc: string;
  pinned: boolean;
}

/** Implementation of VmMemory used by the interpreter (one per VM). */
export class Memory implements VmMemory {
  /** Offset inside the region returned by the last successful `resolve`. */
  offset = 0;
  /** Instruction being executed, for faults raised inside helpers (set by the interpreter). */
  currentInsn: number | undefined;
  /** r10 of each frame: the end of its stack. */
  readonly framePointers: readonly bigint[];
  readonly ctxAddr = regionBase(CTX_ID);

  private readonly statics: (Region | undefined)[] = new Array(FIRST_DYNAMIC_ID).fill(undefined);
  private readonly dynamic = new Map<number, Region>();
  private byView = new WeakMap<ArrayBufferLike, Map<string, number>>();
  private readonly released = new Map<number, string>();
  private nextId = FIRST_DYNAMIC_ID;
  private lastCtx: Uint8Array | undefined;

  constructor() {
    const fps: bigint[] = [];
    for (let f = 0; f < MAX_CALL_FRAMES; f++) {
      const bytes = new Uint8Array(BPF_MAX_STACK);
      const id = STACK_ID0 + f;
      this.statics[id] = { id, bytes, dv: new DataView(bytes.buffer), writable: true, desc: `stack of frame ${f} (${BPF_MAX_STACK} bytes)`, pinned: true };
      fps.push(regionBase(id) + BigInt(BPF_MAX_STACK));
    }
    this.framePointers = fps;
    const empty = new Uint8Array(0);
    this.statics[CTX_ID] = { id: CTX_ID, bytes: empty, dv: new DataView(empty.buffer), writable: false, desc: 'context', pinned: true };
  }

  /** Prepares a run: installs `ctx` as the read-only context region and forgets stale regions. */
  beginRun(ctx: Uint8Array): void {
    if (ctx !== this.lastCtx) {
      const r = this.statics[CTX_ID]!;
      r.bytes = ctx;
      r.dv = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
      r.desc = `context (struct seccomp_data, ${ctx.byteLength} bytes, read-only)`;
      this.lastCtx = ctx;
    }
    if (this.dynamic.size > DYNAMIC_SOFT_LIMIT) this.forgetUnpinned();
    this.currentInsn = undefined;
  }

  /** Zeroes the stack of `frame` (entering a frame: reads of unwritten slots return zeros). */
  clearStack(frame: number): void {
    this.statics[STACK_ID0 + frame]!.bytes.fill(0);
  }

  /**
   * Checks an access of `size` bytes at `addr` and returns its region; the offset is left in
   * `this.offset`. Atomic accesses must be naturally aligned (the kernel enforces it).
   */
  resolve(addr: bigint, size: number, access: AccessKind, insn: number | undefined): Region {
    const hi = Number(addr >> 32n);
    const off = Number(addr & 0xffff_ffffn);
    const r = this.regionById(idOf(hi));
    if (r === undefined) throw this.noRegion(addr, size, access, hi, off, insn);
    if (off + size > r.bytes.length) {
      throw new VmMemoryFault(`out of bounds of ${r.desc} (offset ${off})`, addr, size, access, r.desc, insn);
    }
    if (access !== 'read' && !r.writable) throw new VmMemoryFault(`${r.desc} is read-only`, addr, size, access, r.desc, insn);
    if (access === 'atomic' && off % size !== 0) {
      throw new VmMemoryFault(`misaligned atomic access to ${r.desc} (offset ${off})`, addr, size, access, r.desc, insn);
    }
    this.offset = off;
    return r;
  }

  /**
   * `resolve` for an address given as two u32 halves (lo, hi), for the JIT (./jit): no BigInt
   * on the success path. Any failed check is handed to `resolve`, which throws the very same
   * fault the BigInt path gives.
   */
  resolveLoHi(lo: number, hi: number, size: number, access: AccessKind, insn: number | undefined): Region {
    const rel = hi - REGION_TAG;
    if (rel >= 0 && (rel & (ID_STRIDE - 1)) === 0) {
      const id = rel >>> 4; // ID_STRIDE = 16
      const r = id < FIRST_DYNAMIC_ID ? this.statics[id] : this.dynamic.get(id);
      if (r !== undefined && lo + size <= r.bytes.length && (access === 'read' || r.writable)
        && (access !== 'atomic' || lo % size === 0)) {
        this.offset = lo;
        return r;
      }
    }
    return this.resolve((BigInt(hi) << 32n) | BigInt(lo), size, access, insn);
  }

  // --- VmMemory -------------------------------------------------------------------------

  slice(addr: bigint, len: number, write: boolean): Uint8Array {
    if (!Number.isSafeInteger(len) || len < 0 || len > 0xffff_ffff) {
      throw new VmMemoryFault(`invalid length ${len}`, addr, 0, write ? 'write' : 'read', undefined, this.currentInsn);
    }
    if (len === 0) return new Uint8Array(0);
    if (typeof addr !== 'bigint' || addr < 0n || addr >= 1n << 64n) {
      throw new VmMemoryFault('not a u64 address', 0n, len, write ? 'write' : 'read', undefined, this.currentInsn);
    }
    const r = this.resolve(addr, len, write ? 'write' : 'read', this.currentInsn);
    return r.bytes.subarray(this.offset, this.offset + len);
  }

  pointerTo(view: Uint8Array, writable: boolean): bigint {
    return this.pointerToRegion(view, writable, false, 'map value');
  }

  /**
   * Like pointerTo, with a description for faults; `pinned` regions survive the periodic
   * forgetting of dynamic regions (used for addresses the VM caches, e.g. lddw map values).
   */
  pointerToRegion(view: Uint8Array, writable: boolean, pinned: boolean, what: string): bigint {
    let perBuffer = this.byView.get(view.buffer);
    if (perBuffer === undefined) this.byView.set(view.buffer, perBuffer = new Map());
    const key = `${view.byteOffset}:${view.byteLength}`;
    const known = perBuffer.get(key);
    if (known !== undefined) {
      const r = this.dynamic.get(known)!;
      if (r.writable !== writable) {
        r.writable = writable;
        r.desc = r.desc.replace(writable ? ', read-only)' : ')', writable ? ')' : ', read-only)');
      }
      r.pinned ||= pinned;
      return regionBase(known);
    }
    const id = this.allocId();
    const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
    this.dynamic.set(id, { id, bytes: view, dv, writable, pinned, desc: `${what} #${id} (${view.byteLength} bytes${writable ? '' : ', read-only'})` });
    perBuffer.set(key, id);
    return regionBase(id);
  }

  release(addr: bigint): void {
    const hi = Number(addr >> 32n);
    const id = idOf(hi);
    const r = id >= FIRST_DYNAMIC_ID ? this.dynamic.get(id) : undefined;
    if (r === undefined || (addr & 0xffff_ffffn) !== 0n) {
      throw this.noRegion(addr, 0, 'release', hi, Number(addr & 0xffff_ffffn), this.currentInsn);
    }
    this.dynamic.delete(id);
    this.byView.get(r.bytes.buffer)?.delete(`${r.bytes.byteOffset}:${r.bytes.byteLength}`);
    if (this.released.size >= RELEASED_MEMORY) this.released.clear();
    this.released.set(id, r.desc);
  }

  // --- internals ------------------------------------------------------------------------

  private regionById(id: number): Region | undefined {
    return id < 0 ? undefined : id < FIRST_DYNAMIC_ID ? this.statics[id] : this.dynamic.get(id);
  }

  private allocId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= MAX_ID ? FIRST_DYNAMIC_ID : id + 1;
      if (!this.dynamic.has(id)) {
        this.released.delete(id);
        return id;
      }
    }
  }

  private noRegion(addr: bigint, size: number, access: AccessKind, hi: number, off: number, insn: number | undefined): VmMemoryFault {
    const gone = this.released.get(idOf(hi));
    if (gone !== undefined) return new VmMemoryFault(`use after release of ${gone}`, addr, size, access, gone, insn);
    const next = off >= 0x8000_0000 ? this.regionById(idOf(hi + 1)) : undefined;
    if (next) return new VmMemoryFault(`${0x1_0000_0000 - off} bytes before the start of ${next.desc}`, addr, size, access, next.desc, insn);
    if (access === 'release') return new VmMemoryFault('not a live pointer returned by pointerTo', addr, size, access, undefined, insn);
    return new VmMemoryFault('no region at this address (not a valid pointer)', addr, size, access, undefined, insn);
  }

  private forgetUnpinned(): void {
    this.byView = new WeakMap();
    for (const [id, r] of this.dynamic) {
      if (!r.pinned) { this.dynamic.delete(id); continue; }
      let perBuffer = this.byView.get(r.bytes.buffer);
      if (perBuffer === undefined) this.byView.set(r.bytes.buffer, perBuffer = new Map());
      perBuffer.set(`${r.bytes.byteOffset}:${r.bytes.byteLength}`, id);
    }
  }
}
