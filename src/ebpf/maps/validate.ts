/**
 * @module ebpf/maps/validate
 * Checks a MapSpec against the kernel's map_alloc_check rules for the map types this runtime
 * implements (kernel/bpf/arraymap.c, hashtab.c, ringbuf.c, bpf_local_storage.c), so that a
 * map the kernel would refuse to create is refused here too, with a message naming the rule.
 */
import {
  BPF_F_MMAPABLE,
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_RINGBUF,
  BPF_MAP_TYPE_TASK_STORAGE,
} from '../../abi/bpf.js';
import { SeccompEbpfError } from '../../errors.js';
import type { MapSpec } from './types.js';

// Map creation flags not in abi/bpf.ts (include/uapi/linux/bpf.h).
export const BPF_F_NO_COMMON_LRU = 1 << 1;
export const BPF_F_NUMA_NODE = 1 << 2;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;
export const BPF_F_ZERO_SEED = 1 << 6;
export const BPF_F_WRONLY_PROG = 1 << 8;
export const BPF_F_CLONE = 1 << 9;
export const BPF_F_INNER_MAP = 1 << 12;
const ACCESS_MASK = BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;

/** Upper bound on one map's storage (all its SharedArrayBuffers). */
export const MAX_MAP_BYTES = 256 * 1024 * 1024;
/** PCPU_MIN_UNIT_SIZE: the largest (8-rounded) value of a per-CPU map. */
export const PCPU_MAX_VALUE = 32 * 1024;
/** Hash elements must stay kmalloc-able: key_size + value_size below KMALLOC_MAX_SIZE
 *  (4 MiB on x86-64) minus the element header (htab_map_alloc_check). */
export const MAX_HASH_ELEM = 4 * 1024 * 1024 - 64;
/** About BPF_LOCAL_STORAGE_MAX_VALUE_SIZE (U16_MAX minus the kernel's element header). */
export const TASK_STORAGE_MAX_VALUE = 0xffff - 128;
/** Largest possibleCpus accepted (the kernel's NR_CPUS upper bound). */
export const MAX_CPUS = 8192;

const TYPE_NAMES = [
  'UNSPEC', 'HASH', 'ARRAY', 'PROG_ARRAY', 'PERF_EVENT_ARRAY', 'PERCPU_HASH', 'PERCPU_ARRAY',
  'STACK_TRACE', 'CGROUP_ARRAY', 'LRU_HASH', 'LRU_PERCPU_HASH', 'LPM_TRIE', 'ARRAY_OF_MAPS',
  'HASH_OF_MAPS', 'DEVMAP', 'SOCKMAP', 'CPUMAP', 'XSKMAP', 'SOCKHASH', 'CGROUP_STORAGE',
  'REUSEPORT_SOCKARRAY', 'PERCPU_CGROUP_STORAGE', 'QUEUE', 'STACK', 'SK_STORAGE', 'DEVMAP_HASH',
  'STRUCT_OPS', 'RINGBUF', 'INODE_STORAGE', 'TASK_STORAGE', 'BLOOM_FILTER', 'USER_RINGBUF',
  'CGRP_STORAGE', 'ARENA',
];

/** "BPF_MAP_TYPE_HASH (1)", or "map type 99" for numbers the kernel does not know. */
export function mapTypeName(type: number): string {
  const n = TYPE_NAMES[type];
  return n !== undefined ? `BPF_MAP_TYPE_${n} (${type})` : `map type ${type}`;
}

export const isPerCpuType = (t: number): boolean =>
  t === BPF_MAP_TYPE_PERCPU_ARRAY || t === BPF_MAP_TYPE_PERCPU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
export const isHashType = (t: number): boolean =>
  t === BPF_MAP_TYPE_HASH || t === BPF_MAP_TYPE_PERCPU_HASH || t === BPF_MAP_TYPE_LRU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
export const isLruType = (t: number): boolean => t === BPF_MAP_TYPE_LRU_HASH || t === BPF_MAP_TYPE_LRU_PERCPU_HASH;
export const isArrayType = (t: number): boolean => t === BPF_MAP_TYPE_ARRAY || t === BPF_MAP_TYPE_PERCPU_ARRAY;

/** Value slot size: the kernel keeps map values 8-byte aligned (round_up(value_size, 8)). */
export const round8 = (n: number): number => Math.ceil(n / 8) * 8;

/** True when the program may not write the map's values (.rodata, BPF_F_RDONLY_PROG). */
export const isReadOnlyForProgram = (spec: MapSpec): boolean =>
  spec.readOnly === true || (spec.flags & BPF_F_RDONLY_PROG) !== 0;

function fail(spec: { name?: unknown }, why: string, code = 'ERR_MAP_INVALID'): never {
  const name = typeof spec.name === 'string' ? spec.name : '?';
  throw new SeccompEbpfError(code, `map "${name}": ${why}`);
}

const isU32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;

/**
 * Throws ERR_MAP_INVALID when the kernel would refuse the map (EINVAL at BPF_MAP_CREATE) or
 * this runtime does not implement its type, and ERR_MAP_TOO_LARGE when it exceeds a size
 * limit (the kernel's E2BIG limits, or MAX_MAP_BYTES of storage).
 */
export function validateMapSpec(spec: MapSpec, possibleCpus: number): void {
  if (typeof spec !== 'object' || spec === null) fail({}, 'spec is not an object');
  if (typeof spec.name !== 'string') fail(spec, 'name is not a string');
  for (const f of ['type', 'keySize', 'valueSize', 'maxEntries', 'flags'] as const) {
    if (!isU32(spec[f])) fail(spec, `${f} must be an integer in [0, 2^32), got ${String(spec[f])}`);
  }
  if (!Number.isInteger(possibleCpus) || possibleCpus < 1 || possibleCpus > MAX_CPUS) {
    fail(spec, `possibleCpus must be an integer in [1, ${MAX_CPUS}], got ${String(possibleCpus)}`);
  }
  if (spec.initialValue !== undefined && !(spec.initialValue instanceof Uint8Array)) {
    fail(spec, 'initialValue is not a Uint8Array');
  }
  const { type, keySize, valueSize, maxEntries, flags } = spec;
  if ((flags & BPF_F_RDONLY_PROG) && (flags & BPF_F_WRONLY_PROG)) fail(spec, 'BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together');
  if ((flags & BPF_F_RDONLY) && (flags & BPF_F_WRONLY)) fail(spec, 'BPF_F_RDONLY and BPF_F_WRONLY together');
  const badFlags = (allowed: number): void => {
    const extra = flags & ~allowed;
    if (extra !== 0) fail(spec, `flags 0x${(extra >>> 0).toString(16)} not allowed for ${mapTypeName(type)}`);
  };
  if (spec.initialValue !== undefined && type !== BPF_MAP_TYPE_ARRAY) fail(spec, `initialValue is only for BPF_MAP_TYPE_ARRAY, not ${mapTypeName(type)}`);

  let bytes: number;
  if (isArrayType(type)) {
    const percpu = type === BPF_MAP_TYPE_PERCPU_ARRAY;
    badFlags(BPF_F_NUMA_NODE | ACCESS_MASK | (percpu ? 0 : BPF_F_MMAPABLE | BPF_F_INNER_MAP));
    if (maxEntries === 0) fail(spec, 'max_entries is 0');
    if (keySize !== 4) fail(spec, `key size must be 4 for ${mapTypeName(type)}, got ${keySize}`);
    if (valueSize === 0) fail(spec, 'value size is 0');
    if (percpu && round8(valueSize) > PCPU_MAX_VALUE) fail(spec, `per-CPU value size ${valueSize} exceeds ${PCPU_MAX_VALUE}`, 'ERR_MAP_TOO_LARGE');
    if (spec.initialValue !== undefined && spec.initialValue.length > valueSize) {
      fail(spec, `initialValue has ${spec.initialValue.length} bytes, more than the value size ${valueSize}`);
    }
    bytes = maxEntries * round8(valueSize) * (percpu ? possibleCpus : 1);
  } else if (isHashType(type)) {
    const lru = isLruType(type);
    const percpu = isPerCpuType(type);
    badFlags(BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | ACCESS_MASK | (lru ? BPF_F_NO_COMMON_LRU : 0));
    if (lru && (flags & BPF_F_NO_PREALLOC)) fail(spec, 'LRU maps cannot use BPF_F_NO_PREALLOC');
    if (maxEntries === 0) fail(spec, 'max_entries is 0');
    if (keySize === 0) fail(spec, 'key size is 0');
    if (valueSize === 0) fail(spec, 'value size is 0');
    if (keySize + valueSize >= MAX_HASH_ELEM) fail(spec, `key size + value size ${keySize + valueSize} exceeds ${MAX_HASH_ELEM}`, 'ERR_MAP_TOO_LARGE');
    if (percpu && round8(valueSize) > PCPU_MAX_VALUE) fail(spec, `per-CPU value size ${valueSize} exceeds ${PCPU_MAX_VALUE}`, 'ERR_MAP_TOO_LARGE');
    if (maxEntries > 2 ** 31) fail(spec, `max_entries ${maxEntries} exceeds 2^31`, 'ERR_MAP_TOO_LARGE');
    bytes = maxEntries * (keySize + 24 + round8(valueSize) * (percpu ? possibleCpus : 1));
  } else if (type === BPF_MAP_TYPE_RINGBUF) {
    badFlags(BPF_F_NUMA_NODE);
    if (keySize !== 0 || valueSize !== 0) fail(spec, `ring buffer key and value sizes must be 0, got ${keySize}/${valueSize}`);
    if (maxEntries === 0 || (maxEntries & (maxEntries - 1)) !== 0 || maxEntries % 4096 !== 0) {
      fail(spec, `ring buffer size (max_entries) must be a power of 2 and a multiple of 4096, got ${maxEntries}`);
    }
    bytes = 2 * maxEntries;
  } else if (type === BPF_MAP_TYPE_TASK_STORAGE) {
    badFlags(BPF_F_NO_PREALLOC | BPF_F_CLONE);
    if (!(flags & BPF_F_NO_PREALLOC)) fail(spec, 'task storage requires BPF_F_NO_PREALLOC');
    if (maxEntries !== 0) fail(spec, `task storage max_entries must be 0, got ${maxEntries}`);
    if (keySize !== 4) fail(spec, `task storage key size must be 4, got ${keySize}`);
    if (valueSize === 0) fail(spec, 'value size is 0');
    if (valueSize > TASK_STORAGE_MAX_VALUE) fail(spec, `task storage value size ${valueSize} exceeds ${TASK_STORAGE_MAX_VALUE}`, 'ERR_MAP_TOO_LARGE');
    bytes = 0; // checked against the chosen capacity by the task storage map
  } else {
    fail(spec, `unsupported map type ${mapTypeName(type)}`);
  }
  if (bytes > MAX_MAP_BYTES) fail(spec, `needs ${bytes} bytes of storage, more than ${MAX_MAP_BYTES}`, 'ERR_MAP_TOO_LARGE');
}
