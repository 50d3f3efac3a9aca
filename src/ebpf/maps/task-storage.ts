/**
 * @module ebpf/maps/task-storage
 * BPF_MAP_TYPE_TASK_STORAGE (kernel/bpf/bpf_task_storage.c) as the seccomp series uses it:
 * one value per thread group, keyed by its leader (TaskContext.leaderKey(), a string stable
 * across pid reuse). The kernel hangs storage off the task; here it is a shared hash table of
 * leader keys, so the capacity is fixed at creation (CreateMapOptions.taskStorageCapacity)
 * and creating storage for one more process fails like a failed allocation (NULL / -ENOMEM).
 *
 * From user space the key is the leader key's UTF-8 bytes (at most 128, no NUL), instead of
 * the kernel's pidfd. Storage is not freed when a process exits: whoever tracks the task's
 * life (the supervisor) calls deleteForLeader.
 */
import { BPF_EXIST, BPF_NOEXIST } from '../../abi/bpf.js';
import { SeccompEbpfError } from '../../errors.js';
import { allocControl, allocShared, checkShared, checkUpdateFlags, MapBase } from './base.js';
import { EEXIST, ENOENT, ENOMEM } from './errno.js';
import { HashTable, tableWords } from './hash-table.js';
import type { MapSpec } from './types.js';
import { round8 } from './validate.js';

/** Longest leader key, in UTF-8 bytes. */
export const LEADER_KEY_MAX = 128;
/** Default number of thread groups a task storage map can hold. */
export const DEFAULT_TASK_STORAGE_CAPACITY = 4096;

const utf8 = new TextEncoder();

export class TaskStorageMap extends MapBase {
  readonly capacity: number;
  private readonly table: HashTable;
  private readonly values: Uint8Array;
  private readonly stride: number;

  /** Creates the storage; the spec must have passed validateMapSpec. */
  static create(spec: MapSpec, possibleCpus: number, capacity: number): TaskStorageMap {
    const ctl = allocControl(spec, possibleCpus, tableWords(capacity));
    const keys = allocShared(spec, capacity * LEADER_KEY_MAX);
    const values = allocShared(spec, capacity * round8(spec.valueSize));
    const map = new TaskStorageMap(spec, [ctl, keys, values]);
    map.table.initialise();
    return map;
  }

  /** Re-opens shared storage (see openSharedMap). */
  static open(spec: MapSpec, buffers: SharedArrayBuffer[]): TaskStorageMap {
    const map = new TaskStorageMap(spec, buffers);
    checkShared(map.table.matches(), spec, 'control buffer geometry');
    return map;
  }

  private constructor(spec: MapSpec, buffers: SharedArrayBuffer[]) {
    super(spec, buffers);
    checkShared(buffers.length === 3, spec, `expected 3 buffers, got ${buffers.length}`);
    this.stride = round8(spec.valueSize);
    this.capacity = buffers[1]!.byteLength / LEADER_KEY_MAX;
    checkShared(Number.isInteger(this.capacity) && this.capacity > 0, spec, 'key buffer size');
    checkShared(buffers[2]!.byteLength === this.capacity * this.stride, spec, 'value buffer size');
    this.table = new HashTable(this.ctl, this.capacity, LEADER_KEY_MAX, new Uint8Array(buffers[1]!));
    this.values = new Uint8Array(buffers[2]!);
  }

  /** Number of thread groups with storage. */
  get size(): number {
    return this.mutex.with(() => this.table.count);
  }

  private slot(key: Uint8Array): Uint8Array {
    if (!(key instanceof Uint8Array) || key.length === 0 || key.length > LEADER_KEY_MAX || key.includes(0)) {
      throw new SeccompEbpfError(
        'ERR_MAP_KEY_SIZE',
        `map "${this.spec.name}": a task storage key is a leader key of 1..${LEADER_KEY_MAX} UTF-8 bytes without NUL`,
      );
    }
    const padded = new Uint8Array(LEADER_KEY_MAX);
    padded.set(key);
    return padded;
  }

  private view(i: number): Uint8Array {
    return this.values.subarray(i * this.stride, i * this.stride + this.spec.valueSize);
  }

  /**
   * bpf_task_storage_get for the thread group `leaderKey`: its value view; with `create`, a
   * missing one is created from `init` (zeros when undefined). undefined when absent and not
   * created, or when the map is full.
   */
  getForLeader(leaderKey: string, create: boolean, init?: Uint8Array): Uint8Array | undefined {
    const key = this.slot(utf8.encode(leaderKey));
    if (init !== undefined) this.checkValue(init, this.spec.valueSize);
    const i = this.mutex.with(() => {
      const found = this.table.find(key);
      if (found >= 0 || !create) return found;
      const n = this.table.insert(key);
      if (n >= 0) {
        const v = this.view(n);
        if (init) v.set(init);
        else v.fill(0);
      }
      return n;
    });
    return i >= 0 ? this.view(i) : undefined;
  }

  /** bpf_task_storage_delete for the thread group `leaderKey`: 0 or -ENOENT. */
  deleteForLeader(leaderKey: string): number {
    return this.deleteElem(utf8.encode(leaderKey), true);
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    const k = this.slot(key);
    const i = this.mutex.with(() => this.table.find(k));
    return i >= 0 ? this.view(i) : undefined;
  }

  /** bpf(2) update by leader key: flags as for hash maps; a full map gives -ENOMEM. */
  update(key: Uint8Array, value: Uint8Array, flags: number, cpu?: number): number {
    const k = this.slot(key);
    this.checkValue(value, this.spec.valueSize);
    const err = this.frozenCheck(cpu !== undefined) || checkUpdateFlags(flags);
    if (err) return err;
    return this.mutex.with(() => {
      let i = this.table.find(k);
      if (i >= 0 && flags === BPF_NOEXIST) return -EEXIST;
      if (i < 0 && flags === BPF_EXIST) return -ENOENT;
      if (i < 0) {
        i = this.table.insert(k);
        if (i < 0) return -ENOMEM;
      }
      this.view(i).set(value);
      return 0;
    });
  }

  deleteElem(key: Uint8Array, fromProgram: boolean): number {
    const k = this.slot(key);
    const err = this.frozenCheck(fromProgram);
    if (err) return err;
    return this.mutex.with(() => {
      const i = this.table.find(k);
      if (i < 0) return -ENOENT;
      this.table.remove(i);
      return 0;
    });
  }

  /** Leader keys (UTF-8 bytes) of every thread group with storage. */
  keys(): Uint8Array[] {
    return this.mutex.with(() =>
      this.table.used().map((i) => {
        const k = this.table.keyOf(i);
        const end = k.indexOf(0);
        return end < 0 ? k : k.slice(0, end);
      }),
    );
  }
}
