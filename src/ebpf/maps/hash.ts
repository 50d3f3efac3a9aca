/**
 * @module ebpf/maps/hash
 * BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH (kernel/bpf/hashtab.c), all
 * preallocated with max_entries elements like the kernel's default.
 *
 * Update rules (htab_map_update_elem): flags other than ANY/NOEXIST/EXIST → -EINVAL; NOEXIST
 * on a present key → -EEXIST; EXIST on a missing key → -ENOENT; a new key in a full map →
 * -E2BIG, except LRU maps, which evict their least recently used element instead. Delete of a
 * missing key → -ENOENT.
 *
 * Differences from the kernel, by design:
 * - LRU is exact (a recency list; program lookups and updates refresh, bpf(2) lookups do not).
 *   The kernel's LRU is approximate: per-CPU free lists, reference bits, and batch shrinking
 *   that may evict several elements at once, or evict before the map is full when free nodes
 *   sit on another CPU's list. BPF_F_NO_COMMON_LRU is accepted and behaves as a common LRU.
 *   Here eviction happens only when the map is full, and only after the flags were checked
 *   (the kernel takes a free node, possibly evicting, before it checks BPF_NOEXIST/BPF_EXIST).
 * - An update of a present key writes the value in place; the kernel's non-per-CPU hash
 *   swaps in a new element, so a pointer a program obtained earlier keeps the old value.
 */
import { BPF_EXIST, BPF_NOEXIST } from '../../abi/bpf.js';
import { allocControl, allocShared, checkShared, checkUpdateFlags, MapBase } from './base.js';
import { E2BIG, EEXIST, ENOENT } from './errno.js';
import { HashTable, tableWords } from './hash-table.js';
import { PerCpuLayout } from './percpu.js';
import type { MapSpec } from './types.js';
import { isLruType, isPerCpuType, round8 } from './validate.js';

export class HashMap extends MapBase {
  readonly perCpu: boolean;
  readonly lru: boolean;
  private readonly table: HashTable;
  private readonly values: Uint8Array;
  private readonly layout: PerCpuLayout;
  private readonly stride: number;

  /** Creates the storage; the spec must have passed validateMapSpec. */
  static create(spec: MapSpec, possibleCpus: number): HashMap {
    const perCpu = isPerCpuType(spec.type);
    const stride = round8(spec.valueSize) * (perCpu ? possibleCpus : 1);
    const ctl = allocControl(spec, possibleCpus, tableWords(spec.maxEntries));
    const keys = allocShared(spec, spec.maxEntries * spec.keySize);
    const values = allocShared(spec, spec.maxEntries * stride);
    const map = new HashMap(spec, [ctl, keys, values]);
    map.table.initialise();
    return map;
  }

  /** Re-opens shared storage (see openSharedMap). */
  static open(spec: MapSpec, buffers: SharedArrayBuffer[]): HashMap {
    const map = new HashMap(spec, buffers);
    checkShared(map.table.matches(), spec, 'control buffer geometry');
    return map;
  }

  private constructor(spec: MapSpec, buffers: SharedArrayBuffer[]) {
    super(spec, buffers);
    checkShared(buffers.length === 3, spec, `expected 3 buffers, got ${buffers.length}`);
    this.perCpu = isPerCpuType(spec.type);
    this.lru = isLruType(spec.type);
    this.layout = new PerCpuLayout(spec.valueSize, this.possibleCpus);
    this.stride = this.perCpu ? this.layout.elemSize : round8(spec.valueSize);
    checkShared(buffers[1]!.byteLength === spec.maxEntries * spec.keySize, spec, 'key buffer size');
    checkShared(buffers[2]!.byteLength === spec.maxEntries * this.stride, spec, 'value buffer size');
    this.table = new HashTable(this.ctl, spec.maxEntries, spec.keySize, new Uint8Array(buffers[1]!));
    this.values = new Uint8Array(buffers[2]!);
  }

  /** Number of elements present. */
  get size(): number {
    return this.mutex.with(() => this.table.count);
  }

  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined {
    this.checkKey(key);
    if (cpu !== undefined && this.perCpu) this.checkCpu(cpu);
    const i = this.mutex.with(() => {
      const found = this.table.find(key);
      if (found >= 0 && this.lru && cpu !== undefined) this.table.touch(found);
      return found;
    });
    if (i < 0) return undefined;
    const base = i * this.stride;
    if (this.perCpu) return this.layout.cpuView(this.values, base, cpu ?? 0);
    return this.values.subarray(base, base + this.spec.valueSize);
  }

  /** All CPUs' values of a per-CPU element (bpf(2) layout), or a copy of the value. */
  lookupAll(key: Uint8Array): Uint8Array | undefined {
    this.checkKey(key);
    return this.mutex.with(() => {
      const i = this.table.find(key);
      if (i < 0) return undefined;
      const base = i * this.stride;
      if (this.perCpu) return this.layout.readAll(this.values, base);
      return this.values.slice(base, base + this.spec.valueSize);
    });
  }

  update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): number {
    this.checkKey(key);
    const fromProgram = cpu !== undefined;
    if (this.perCpu && !fromProgram) this.checkValue(value, this.layout.elemSize);
    else this.checkValue(value, this.spec.valueSize);
    if (fromProgram && this.perCpu) this.checkCpu(cpu);
    const err = this.frozenCheck(fromProgram) || checkUpdateFlags(flags);
    if (err) return err;
    return this.mutex.with(() => {
      let i = this.table.find(key);
      const isNew = i < 0;
      if (!isNew && flags === BPF_NOEXIST) return -EEXIST;
      if (isNew && flags === BPF_EXIST) return -ENOENT;
      if (isNew) {
        if (this.table.count >= this.table.capacity) {
          if (!this.lru) return -E2BIG;
          this.table.remove(this.table.leastRecent());
        }
        i = this.table.insert(key);
      } else if (this.lru) {
        this.table.touch(i);
      }
      const base = i * this.stride;
      if (this.perCpu) {
        if (fromProgram) this.layout.writeOne(this.values, base, cpu, value, isNew);
        else this.layout.writeAll(this.values, base, value);
      } else {
        this.values.set(value, base);
      }
      return 0;
    });
  }

  deleteElem(key: Uint8Array, fromProgram: boolean): number {
    this.checkKey(key);
    const err = this.frozenCheck(fromProgram);
    if (err) return err;
    return this.mutex.with(() => {
      const i = this.table.find(key);
      if (i < 0) return -ENOENT;
      this.table.remove(i);
      return 0;
    });
  }

  keys(): Uint8Array[] {
    return this.mutex.with(() => this.table.used().map((i) => this.table.keyOf(i)));
  }
}
