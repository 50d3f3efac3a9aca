/**
 * @module ebpf/maps
 * Live BPF maps in shared memory: re-exports.
 */
export type { BpfMap, MapSpec, SharedMapState } from './types.js';
export { createMap, openSharedMap, lookupAll, isRingBufMap, isTaskStorageMap } from './create.js';
export type { CreateMapOptions, LiveMap } from './create.js';
export { MapBase } from './base.js';
export { ArrayMap } from './array.js';
export { HashMap } from './hash.js';
export { RingBufMap, BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS } from './ringbuf.js';
export { TaskStorageMap, LEADER_KEY_MAX, DEFAULT_TASK_STORAGE_CAPACITY } from './task-storage.js';
export { mapTypeName, validateMapSpec, isReadOnlyForProgram, MAX_MAP_BYTES } from './validate.js';
