/**
 * @module ebpf/maps/create
 * Creating live maps from MapSpecs (BPF_MAP_CREATE) and re-opening them in another thread over
 * the same SharedArrayBuffers.
 */
import {
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_TASK_STORAGE,
} from '../../abi/bpf.js';
import { SeccompEbpfError } from '../../errors.js';
import { ArrayMap } from './array.js';
import { C_CPUS, C_HEADER, C_TYPE } from './base.js';
import { HashMap } from './hash.js';
import { RingBufMap } from './ringbuf.js';
import { DEFAULT_TASK_STORAGE_CAPACITY, TaskStorageMap } from './task-storage.js';
import type { BpfMap, MapSpec, SharedMapState } from './types.js';
import { isArrayType, isHashType, mapTypeName, validateMapSpec } from './validate.js';

/** Every live map this module creates. */
export type LiveMap = ArrayMap | HashMap | RingBufMap | TaskStorageMap;

export interface CreateMapOptions {
  /** Number of possible CPUs: the number of values of a per-CPU element (required). */
  possibleCpus: number;
  /** How many thread groups a task storage map can hold (default 4096). */
  taskStorageCapacity?: number;
}

const OPTION_KEYS = new Set(['possibleCpus', 'taskStorageCapacity']);

/**
 * BPF_MAP_CREATE: a new, empty map (arrays zeroed or set from `spec.initialValue`).
 * Throws ERR_MAP_INVALID when the kernel would refuse the spec or the type is not
 * implemented (HASH, ARRAY, PERCPU_HASH, PERCPU_ARRAY, LRU_HASH, LRU_PERCPU_HASH, RINGBUF and
 * TASK_STORAGE are), ERR_MAP_TOO_LARGE beyond the size limits.
 */
export function createMap(spec: MapSpec, opts: CreateMapOptions): LiveMap {
  if (typeof opts !== 'object' || opts === null) {
    throw new SeccompEbpfError('ERR_MAP_INVALID', 'createMap: options object with possibleCpus is required');
  }
  for (const k of Object.keys(opts)) {
    if (!OPTION_KEYS.has(k)) throw new SeccompEbpfError('ERR_MAP_INVALID', `createMap: unknown option "${k}"`);
  }
  validateMapSpec(spec, opts.possibleCpus);
  const cpus = opts.possibleCpus;
  if (isArrayType(spec.type)) return ArrayMap.create(spec, cpus);
  if (isHashType(spec.type)) return HashMap.create(spec, cpus);
  if (spec.type === BPF_MAP_TYPE_RINGBUF) return RingBufMap.create(spec, cpus);
  // validateMapSpec admits nothing else.
  const cap = opts.taskStorageCapacity ?? DEFAULT_TASK_STORAGE_CAPACITY;
  if (!Number.isInteger(cap) || cap < 1 || cap > 1 << 20) {
    throw new SeccompEbpfError('ERR_MAP_INVALID', `map "${spec.name}": taskStorageCapacity must be an integer in [1, 2^20], got ${String(cap)}`);
  }
  return TaskStorageMap.create(spec, cpus, cap);
}

/**
 * Re-creates a map from `map.share()` (typically after postMessage to another worker): both
 * objects use the same storage and see each other's updates at once. Throws
 * ERR_MAP_SHARED_STATE when the buffers do not fit the spec.
 */
export function openSharedMap(state: SharedMapState): LiveMap {
  const bad = (why: string): never => {
    throw new SeccompEbpfError('ERR_MAP_SHARED_STATE', `openSharedMap: ${why}`);
  };
  if (typeof state !== 'object' || state === null) bad('state is not an object');
  const { spec, buffers } = state;
  if (!Array.isArray(buffers) || buffers.length === 0 || !buffers.every((b) => b instanceof SharedArrayBuffer)) {
    bad('buffers must be a non-empty array of SharedArrayBuffers');
  }
  if (buffers[0]!.byteLength < C_HEADER * 4 || buffers[0]!.byteLength % 4 !== 0) bad('control buffer too small');
  const ctl = new Int32Array(buffers[0]!);
  const cpus = ctl[C_CPUS]!;
  validateMapSpec(spec, cpus);
  if (ctl[C_TYPE] !== spec.type) bad(`buffers hold a ${mapTypeName(ctl[C_TYPE]!)}, spec says ${mapTypeName(spec.type)}`);
  if (isArrayType(spec.type)) return ArrayMap.open(spec, buffers);
  if (isHashType(spec.type)) return HashMap.open(spec, buffers);
  if (spec.type === BPF_MAP_TYPE_RINGBUF) return RingBufMap.open(spec, buffers);
  if (spec.type === BPF_MAP_TYPE_TASK_STORAGE) return TaskStorageMap.open(spec, buffers);
  return bad(`unsupported ${mapTypeName(spec.type)}`);
}

/** bpf(2)-style lookup of every CPU's value (values concatenated, each rounded up to 8
 *  bytes) for per-CPU maps; a copy of the value for other element maps. */
export function lookupAll(map: BpfMap, key: Uint8Array): Uint8Array | undefined {
  if (map instanceof ArrayMap || map instanceof HashMap) return map.lookupAll(key);
  const v = map.lookup(key);
  return v ? v.slice() : undefined;
}

export const isRingBufMap = (m: BpfMap): m is RingBufMap => m instanceof RingBufMap;
export const isTaskStorageMap = (m: BpfMap): m is TaskStorageMap => m instanceof TaskStorageMap;
