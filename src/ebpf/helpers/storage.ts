/**
 * @module ebpf/helpers/storage
 * The seccomp series' "default leader" bpf_task_storage_get / bpf_task_storage_delete: a NULL
 * task means the calling thread's group leader (TaskContext.leaderKey()), so all threads of a
 * process share one value and a forked child starts without one.
 *
 * This runtime has no task pointers (no bpf_get_current_task_btf), so a non-NULL task can
 * only be a forged value: get returns NULL and delete -EINVAL. The kernel's -EBUSY/NULL on
 * recursion cannot occur (no program runs inside another).
 */
import { BPF_LOCAL_STORAGE_GET_F_CREATE } from '../../abi/bpf.js';
import { EINVAL } from '../maps/errno.js';
import { TaskStorageMap } from '../maps/task-storage.js';
import type { HelperEnv } from '../vm/types.js';
import { ret, mapOfKind } from './util.js';

/** bpf_task_storage_get(map, task, value, flags): pointer to the value, or NULL. */
export function taskStorageGet(env: HelperEnv, r1: bigint, r2: bigint, r3: bigint, r4: bigint): bigint {
  const map = mapOfKind(env, r1, TaskStorageMap, 'bpf_task_storage_get');
  const init = r3 !== 0n ? env.mem.slice(r3, map.spec.valueSize, false) : undefined;
  if ((r4 & ~BigInt(BPF_LOCAL_STORAGE_GET_F_CREATE)) !== 0n) return 0n;
  if (r2 !== 0n) return 0n;
  const create = (r4 & BigInt(BPF_LOCAL_STORAGE_GET_F_CREATE)) !== 0n;
  const view = map.getForLeader(env.task.leaderKey(), create, init?.slice());
  return view ? env.mem.pointerTo(view, true) : 0n;
}

/** bpf_task_storage_delete(map, task): 0 or -ENOENT. */
export function taskStorageDelete(env: HelperEnv, r1: bigint, r2: bigint): bigint {
  const map = mapOfKind(env, r1, TaskStorageMap, 'bpf_task_storage_delete');
  if (r2 !== 0n) return ret(-EINVAL);
  return ret(map.deleteForLeader(env.task.leaderKey()));
}
