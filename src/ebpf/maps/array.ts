/**
 * @module ebpf/maps/array
 * BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY (kernel/bpf/arraymap.c): max_entries
 * preallocated, zero-initialised values indexed by a u32 key; elements always exist, so
 * delete is -EINVAL and BPF_NOEXIST is -EEXIST. Global-variable sections (.data, .bss,
 * .rodata) are one-element arrays initialised from MapSpec.initialValue.
 *
 * Buffers: [control header, values]. Values are 8-byte aligned slots (round_up(value_size, 8),
 * times possible CPUs for the per-CPU type).
 */
import { BPF_EXIST, BPF_F_LOCK, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_NOEXIST } from '../../abi/bpf.js';
import { allocControl, allocShared, checkShared, checkUpdateFlags, MapBase } from './base.js';
import { E2BIG, EEXIST, EINVAL } from './errno.js';
import { PerCpuLayout } from './percpu.js';
import type { MapSpec } from './types.js';
import { round8 } from './validate.js';

export class ArrayMap extends MapBase {
  readonly perCpu: boolean;
  private readonly values: Uint8Array;
  private readonly layout: PerCpuLayout;
  /** Bytes per element (all CPUs for the per-CPU type). */
  private readonly stride: number;

  /** Creates the storage; the spec must have passed validateMapSpec. */
  static create(spec: MapSpec, possibleCpus: number): ArrayMap {
    const perCpu = spec.type === BPF_MAP_TYPE_PERCPU_ARRAY;
    const stride = round8(spec.valueSize) * (perCpu ? possibleCpus : 1);
    const ctl = allocControl(spec, possibleCpus, 0);
    const data = allocShared(spec, spec.maxEntries * stride);
    if (spec.initialValue) new Uint8Array(data).set(spec.initialValue, 0);
    return new ArrayMap(spec, [ctl, data]);
  }

  /** Re-opens shared storage (see openSharedMap). */
  static open(spec: MapSpec, buffers: SharedArrayBuffer[]): ArrayMap {
    return new ArrayMap(spec, buffers);
  }

  private constructor(spec: MapSpec, buffers: SharedArrayBuffer[]) {
    super(spec, buffers);
    this.perCpu = spec.type === BPF_MAP_TYPE_PERCPU_ARRAY;
    this.layout = new PerCpuLayout(spec.valueSize, this.possibleCpus);
    this.stride = this.perCpu ? this.layout.elemSize : round8(spec.valueSize);
    checkShared(buffers.length === 2, spec, `expected 2 buffers, got ${buffers.length}`);
    checkShared(buffers[1]!.byteLength === spec.maxEntries * this.stride, spec, 'value buffer size');
    this.values = new Uint8Array(buffers[1]!);
  }

  private index(key: Uint8Array): number {
    this.checkKey(key);
    return (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
  }

  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined {
    const i = this.index(key);
    if (i >= this.spec.maxEntries) return undefined;
    const base = i * this.stride;
    if (this.perCpu) {
      const c = cpu ?? 0;
      this.checkCpu(c);
      return this.layout.cpuView(this.values, base, c);
    }
    return this.values.subarray(base, base + this.spec.valueSize);
  }

  /** All CPUs' values of a per-CPU element (bpf(2) layout), or a copy of the value. */
  lookupAll(key: Uint8Array): Uint8Array | undefined {
    const i = this.index(key);
    if (i >= this.spec.maxEntries) return undefined;
    const base = i * this.stride;
    if (this.perCpu) return this.layout.readAll(this.values, base);
    return this.values.slice(base, base + this.spec.valueSize);
  }

  update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): number {
    const i = this.index(key);
    const fromProgram = cpu !== undefined;
    if (this.perCpu && !fromProgram) this.checkValue(value, this.layout.elemSize);
    else this.checkValue(value, this.spec.valueSize);
    if (fromProgram && this.perCpu) this.checkCpu(cpu);
    // bpf(2) checks write permission (frozen) and rejects BPF_F_LOCK before the map sees
    // the call; array_map_update_elem itself checks the index and BPF_NOEXIST first.
    const frozen = this.frozenCheck(fromProgram);
    if (frozen) return frozen;
    if (!fromProgram && (flags & BPF_F_LOCK)) return -EINVAL;
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff_ffff || (flags & ~BPF_F_LOCK) > BPF_EXIST) return -EINVAL;
    if (i >= this.spec.maxEntries) return -E2BIG;
    if (flags & BPF_NOEXIST) return -EEXIST;
    const flagErr = checkUpdateFlags(flags);
    if (flagErr) return flagErr;
    const base = i * this.stride;
    if (this.perCpu) {
      if (fromProgram) this.layout.writeOne(this.values, base, cpu, value, false);
      else this.layout.writeAll(this.values, base, value);
    } else {
      this.values.set(value, base);
    }
    return 0;
  }

  deleteElem(key: Uint8Array): number {
    this.index(key);
    return -EINVAL;
  }

  keys(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.spec.maxEntries; i++) {
      out.push(new Uint8Array([i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24]));
    }
    return out;
  }
}
