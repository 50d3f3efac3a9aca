/**
 * @module ebpf/maps/percpu
 * Layout of per-CPU values, shared by PERCPU_ARRAY, PERCPU_HASH and LRU_PERCPU_HASH.
 *
 * An element's values sit side by side, one 8-byte-aligned slot per possible CPU, which is
 * also the layout bpf(2) uses for per-CPU lookups and updates from user space:
 *
 *   | cpu 0 value | pad | cpu 1 value | pad | ... | cpu N-1 value | pad |
 *   <- round_up(value_size, 8) ->
 */
import { round8 } from './validate.js';

export class PerCpuLayout {
  /** Bytes per CPU slot. */
  readonly slot: number;
  /** Bytes of one element (all CPUs): also the bpf(2) user-space value size. */
  readonly elemSize: number;

  constructor(
    readonly valueSize: number,
    readonly cpus: number,
  ) {
    this.slot = round8(valueSize);
    this.elemSize = this.slot * cpus;
  }

  /** View of `cpu`'s value of the element stored at `base`. */
  cpuView(store: Uint8Array, base: number, cpu: number): Uint8Array {
    const off = base + cpu * this.slot;
    return store.subarray(off, off + this.valueSize);
  }

  /** A program's update: writes `cpu`'s value; a new element gets zeros on the other CPUs
   *  (as pcpu_init_value does). */
  writeOne(store: Uint8Array, base: number, cpu: number, value: Uint8Array, isNew: boolean): void {
    if (isNew) store.fill(0, base, base + this.elemSize);
    store.set(value, base + cpu * this.slot);
  }

  /** A bpf(2) update: `value` holds every CPU's slot (padding included, as the kernel copies). */
  writeAll(store: Uint8Array, base: number, value: Uint8Array): void {
    store.set(value, base);
  }

  /** A bpf(2) lookup: a copy of every CPU's slot. Like the kernel (bpf_long_memcpy of
   *  round_up(value_size, 8)), the padding bytes are copied too: they hold whatever the last
   *  bpf(2) update wrote there. */
  readAll(store: Uint8Array, base: number): Uint8Array {
    return store.slice(base, base + this.elemSize);
  }
}
