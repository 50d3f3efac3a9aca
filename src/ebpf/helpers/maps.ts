/**
 * @module ebpf/helpers/maps
 * bpf_map_lookup_elem, bpf_map_update_elem, bpf_map_delete_elem (kernel/bpf/helpers.c) on
 * the element maps (arrays and hashes, per-CPU and LRU variants).
 *
 * Every map call gets a `cpu` argument: the running CPU for per-CPU maps, which then use that
 * CPU's value; for all maps it marks the access as the program's (LRU refresh; frozen maps
 * stay writable). A map that
 * is read-only for programs (.rodata, BPF_F_RDONLY_PROG) yields read-only pointers, and
 * update/delete on it return -EPERM (the kernel's verifier refuses such programs outright).
 */
import { MapBase } from '../maps/base.js';
import { EINVAL, EPERM } from '../maps/errno.js';
import { RingBufMap } from '../maps/ringbuf.js';
import { TaskStorageMap } from '../maps/task-storage.js';
import type { BpfMap } from '../maps/types.js';
import { isPerCpuType, isReadOnlyForProgram } from '../maps/validate.js';
import type { HelperEnv } from '../vm/types.js';
import { flags32, ret, wrongMap } from './util.js';

/**
 * The `cpu` argument for map calls: the running CPU for per-CPU maps (TaskContext.cpu() may
 * read /proc, so only then), 0 otherwise (it only marks the access as the program's).
 */
const programCpu = (env: HelperEnv, map: BpfMap): number => (isPerCpuType(map.spec.type) ? env.task.cpu() : 0);

function elementMap(env: HelperEnv, handle: bigint, helper: string): BpfMap {
  const map = env.map(handle);
  if (map instanceof RingBufMap || map instanceof TaskStorageMap) wrongMap(helper, map);
  return map;
}

export function mapLookupElem(env: HelperEnv, r1: bigint, r2: bigint): bigint {
  const map = elementMap(env, r1, 'bpf_map_lookup_elem');
  const key = env.mem.slice(r2, map.spec.keySize, false);
  const value = map.lookup(key, programCpu(env, map));
  if (!value) return 0n;
  return env.mem.pointerTo(value, !isReadOnlyForProgram(map.spec));
}

export function mapUpdateElem(env: HelperEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint): bigint {
  const map = elementMap(env, r1, 'bpf_map_update_elem');
  const key = env.mem.slice(r2, map.spec.keySize, false);
  const value = env.mem.slice(r3, map.spec.valueSize, false);
  if (isReadOnlyForProgram(map.spec)) return ret(-EPERM);
  const flags = flags32(r4);
  if (flags === undefined) return ret(-EINVAL);
  return ret(map.update(key, value, flags, programCpu(env, map)));
}

export function mapDeleteElem(env: HelperEnv, r1: bigint, r2: bigint): bigint {
  const map = elementMap(env, r1, 'bpf_map_delete_elem');
  const key = env.mem.slice(r2, map.spec.keySize, false);
  if (isReadOnlyForProgram(map.spec)) return ret(-EPERM);
  return ret(map instanceof MapBase ? map.deleteElem(key, true) : map.delete(key));
}
