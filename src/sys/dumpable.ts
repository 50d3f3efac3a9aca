/**
 * @module sys/dumpable
 * get_dumpable() of another process's mm, as far as user space can see it: the input of the
 * series' "dumpable" bpf_probe_read_user variants (spec.md 3.7), which fail with -EPERM when
 * the filtered task is not dumpable (0).
 *
 * The kernel does not publish the flag (PR_GET_DUMPABLE is for the caller only), but procfs
 * shows it through ownership (fs/proc/base.c, task_dump_owner): the /proc/<pid> directory is
 * always owned by the task's euid/egid, while the files inside it (status, ...) are owned by the
 * root of the mm's user namespace whenever the flag is not SUID_DUMP_USER (1). So:
 *
 * - status owner != directory owner → not 1: 0 (see below for 2);
 * - same owner, and that owner is not root → 1;
 * - same owner and it is root (euid and egid 0 of the task's user namespace): undecidable from
 *   procfs (both cases give root). An optional `rootProbe` may answer; otherwise undefined, and
 *   withDumpable() treats that as 0 (fail closed: the read is refused).
 *
 * Value 2 (SUID_DUMP_ROOT) only arises with fs.suid_dumpable = 2 after a credential change and
 * also shows as root ownership: it is reported as 0, i.e. reads the kernel would allow are
 * refused (never the other way round).
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { SeccompEbpfError } from '../errors.js';
import type { DumpableTask } from '../ebpf/helpers/index.js';
import type { TaskContext } from '../ebpf/vm/types.js';

/** SUID_DUMP_DISABLE, SUID_DUMP_USER, SUID_DUMP_ROOT. */
export const SUID_DUMP_DISABLE = 0;
export const SUID_DUMP_USER = 1;
export const SUID_DUMP_ROOT = 2;

export interface DumpableOptions {
  /** Decides the root case (see the module comment); undefined = cannot tell. */
  rootProbe?: (pid: number) => number | undefined;
}

function stat(path: string, pid: number): Stats {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new SeccompEbpfError('ERR_TASK_GONE', `task ${pid}: cannot stat ${path} (${code}); the task has probably exited`, undefined, { cause: e });
  }
}

/** The id that `inside` maps to in an id map text (/proc/<pid>/uid_map), or undefined. */
export function mapId(idMap: string, inside: number): number | undefined {
  for (const line of idMap.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length !== 3 || f.some((n) => !Number.isSafeInteger(n))) continue;
    const [first, lower, count] = f as [number, number, number];
    if (inside >= first && inside < first + count) return lower + (inside - first);
  }
  return undefined;
}

function rootOf(pid: number, which: 'uid' | 'gid'): number {
  try {
    return mapId(readFileSync(`/proc/${pid}/${which}_map`, 'latin1'), 0) ?? 0;
  } catch {
    return 0;
  }
}

/**
 * get_dumpable() of process (or thread) `pid`: 0 or 1, or undefined when procfs cannot tell
 * (a task running as root of its user namespace, with no `rootProbe`). Throws ERR_TASK_GONE
 * when the task does not exist.
 */
export function procDumpable(pid: number, opts: DumpableOptions = {}): number | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new SeccompEbpfError('ERR_NATIVE_ARG', `pid must be a positive integer, got ${String(pid)}`);
  const dir = stat(`/proc/${pid}`, pid);
  const file = stat(`/proc/${pid}/status`, pid);
  if (file.uid !== dir.uid || file.gid !== dir.gid) return SUID_DUMP_DISABLE;
  const rootUid = rootOf(pid, 'uid');
  const rootGid = rootOf(pid, 'gid');
  if (dir.uid === rootUid && dir.gid === rootGid) return opts.rootProbe?.(pid);
  return SUID_DUMP_USER;
}

/**
 * `task` with a dumpable() method (the DumpableTask the dumpable probe_read_user variants need),
 * read from procfs at each call; undecidable counts as 0 (fail closed).
 */
export function withDumpable(task: TaskContext, opts: DumpableOptions = {}): DumpableTask {
  return {
    get tid() {
      return task.tid;
    },
    tgid: () => task.tgid(),
    uid: () => task.uid(),
    gid: () => task.gid(),
    comm: () => task.comm(),
    cpu: () => task.cpu(),
    leaderKey: () => task.leaderKey(),
    readMemory: (addr, len) => task.readMemory(addr, len),
    dumpable: () => procDumpable(task.tid, opts) ?? SUID_DUMP_DISABLE,
  };
}
