/**
 * @module ebpf/maps/base
 * What every live map shares: the control buffer header (lock, possible CPUs, type, frozen),
 * shared-buffer allocation, argument checks and the update-flag rules.
 *
 * Convention used by all maps: the helpers always pass `cpu` (the CPU the program runs on)
 * and user space omits it. A map tells program accesses from bpf(2) ones by that argument:
 * it selects the per-CPU value layout, whether an LRU lookup refreshes recency (program
 * lookups do, bpf(2) lookups do not, as in the kernel), and whether a frozen map refuses the
 * write (freeze blocks bpf(2) writes only). A per-CPU lookup without `cpu` returns CPU 0's
 * value; lookupAll returns every CPU's.
 */
import { BPF_EXIST, BPF_F_LOCK } from '../../abi/bpf.js';
import { SeccompEbpfError } from '../../errors.js';
import { EINVAL, EPERM } from './errno.js';
import { SharedLock } from './lock.js';
import type { BpfMap, MapSpec, SharedMapState } from './types.js';
import { MAX_MAP_BYTES } from './validate.js';

// Int32 words of the control header (buffers[0]); map types append their own words.
export const C_LOCK = 0;
export const C_CPUS = 1;
export const C_TYPE = 2;
export const C_FROZEN = 3;
export const C_HEADER = 8;

/** Allocates a SharedArrayBuffer, turning allocation failures into ERR_MAP_TOO_LARGE. */
export function allocShared(spec: MapSpec, bytes: number): SharedArrayBuffer {
  if (bytes > MAX_MAP_BYTES) {
    throw new SeccompEbpfError('ERR_MAP_TOO_LARGE', `map "${spec.name}": needs ${bytes} bytes of storage, more than ${MAX_MAP_BYTES}`);
  }
  try {
    return new SharedArrayBuffer(bytes);
  } catch (e) {
    throw new SeccompEbpfError('ERR_MAP_TOO_LARGE', `map "${spec.name}": cannot allocate ${bytes} bytes`, undefined, { cause: e });
  }
}

/** A new control buffer with the common header filled in. */
export function allocControl(spec: MapSpec, possibleCpus: number, extraWords: number): SharedArrayBuffer {
  const sab = allocShared(spec, (C_HEADER + extraWords) * 4);
  const c = new Int32Array(sab);
  c[C_CPUS] = possibleCpus;
  c[C_TYPE] = spec.type;
  return sab;
}

/** Throws ERR_MAP_SHARED_STATE unless `cond`. */
export function checkShared(cond: boolean, spec: MapSpec, why: string): asserts cond {
  if (!cond) throw new SeccompEbpfError('ERR_MAP_SHARED_STATE', `map "${spec.name}": shared state does not match its spec: ${why}`);
}

/**
 * Checks the update flags as the kernel's update paths do: only BPF_ANY, BPF_NOEXIST or
 * BPF_EXIST, optionally with BPF_F_LOCK; BPF_F_LOCK needs a bpf_spin_lock in the value, which
 * this runtime's maps never have, so it is EINVAL too. Returns 0 or -EINVAL.
 */
export function checkUpdateFlags(flags: number): number {
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff_ffff) return -EINVAL;
  if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -EINVAL;
  if (flags & BPF_F_LOCK) return -EINVAL;
  return 0;
}

export abstract class MapBase implements BpfMap {
  readonly spec: MapSpec;
  readonly buffers: SharedArrayBuffer[];
  /** Number of possible CPUs (slots of a per-CPU value). */
  readonly possibleCpus: number;
  protected readonly ctl: Int32Array;
  protected readonly mutex: SharedLock;

  protected constructor(spec: MapSpec, buffers: SharedArrayBuffer[]) {
    this.spec = spec;
    this.buffers = buffers;
    this.ctl = new Int32Array(buffers[0]!);
    this.possibleCpus = this.ctl[C_CPUS]!;
    this.mutex = new SharedLock(this.ctl, C_LOCK);
  }

  abstract lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined;
  abstract update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): number;
  abstract keys(): Uint8Array[];
  /** Delete; `fromProgram` is true for the map_delete_elem helper (frozen maps allow it). */
  abstract deleteElem(key: Uint8Array, fromProgram: boolean): number;

  delete(key: Uint8Array): number {
    return this.deleteElem(key, false);
  }

  share(): SharedMapState {
    return { spec: this.spec, buffers: this.buffers };
  }

  /**
   * BPF_MAP_FREEZE: from now on bpf(2) writes (update/delete without `cpu`) fail with -EPERM;
   * the program may still write unless the map is read-only for it. libbpf freezes .rodata.
   */
  freeze(): void {
    Atomics.store(this.ctl, C_FROZEN, 1);
  }

  get frozen(): boolean {
    return Atomics.load(this.ctl, C_FROZEN) !== 0;
  }

  /** -EPERM for a user-space write to a frozen map, else 0. */
  protected frozenCheck(fromProgram: boolean): number {
    return !fromProgram && this.frozen ? -EPERM : 0;
  }

  protected checkKey(key: Uint8Array): void {
    if (!(key instanceof Uint8Array) || key.length !== this.spec.keySize) {
      const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
      throw new SeccompEbpfError('ERR_MAP_KEY_SIZE', `map "${this.spec.name}": key must be ${this.spec.keySize} bytes, got ${got}`);
    }
  }

  protected checkValue(value: Uint8Array, expected: number): void {
    if (!(value instanceof Uint8Array) || value.length !== expected) {
      const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
      throw new SeccompEbpfError('ERR_MAP_VALUE_SIZE', `map "${this.spec.name}": value must be ${expected} bytes, got ${got}`);
    }
  }

  protected checkCpu(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.possibleCpus) {
      throw new SeccompEbpfError('ERR_MAP_CPU', `map "${this.spec.name}": cpu ${String(cpu)} is not in [0, ${this.possibleCpus})`);
    }
  }
}
