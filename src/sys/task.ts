/**
 * @module sys/task
 * The real {@link TaskContext}: what helpers learn about the task whose syscall is filtered,
 * read lazily from /proc/<tid> (and cached for the lifetime of the object, i.e. one
 * notification), and its memory via process_vm_readv.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { SeccompEbpfError } from '../errors.js';
import type { TaskContext } from '../ebpf/vm/types.js';
import { loadAddon } from '../native/addon.js';

/** process_vm_readv(pid, addr, buf): bytes read or -errno (the addon's readProcessMemory). */
export type ReadMemoryFn = (pid: number, addr: bigint, buf: Uint8Array) => number;

const EFAULT = 14;
const U64_END = 1n << 64n;

function readProc(path: string, tid: number): string {
  try {
    return readFileSync(path, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new SeccompEbpfError('ERR_TASK_GONE', `task ${tid}: cannot read ${path} (${code}); the task has probably exited`, undefined, { cause: e });
  }
}

/** Fields of /proc/<pid>/stat after the comm (which may contain spaces and parentheses);
 *  index 0 is field 3 (state). */
export function statFields(stat: string): string[] {
  const close = stat.lastIndexOf(')');
  return stat.slice(close + 2).trim().split(' ');
}

/** Field n (1-based, as in proc(5)) of a stat line, as a number. */
export function statField(stat: string, n: number): number {
  const v = statFields(stat)[n - 3];
  if (v === undefined || !/^-?\d+$/.test(v)) throw new SeccompEbpfError('ERR_TASK_PROC_FORMAT', `unexpected /proc stat line (field ${n}): ${stat.slice(0, 80)}`);
  return Number(v);
}

interface Status {
  tgid: number;
  uid: number;
  gid: number;
}

/** Tgid and the real uid/gid from a /proc/<pid>/status text. */
export function parseStatus(text: string): Status {
  const field = (name: string): string => {
    const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text);
    if (!m) throw new SeccompEbpfError('ERR_TASK_PROC_FORMAT', `/proc status has no ${name} line`);
    return m[1]!;
  };
  const first = (name: string): number => Number(field(name).split(/\s+/)[0]);
  return { tgid: first('Tgid'), uid: first('Uid'), gid: first('Gid') };
}

class ProcTask implements TaskContext {
  private st: Status | undefined;
  private cpuCache: number | undefined;
  private commCache: string | undefined;
  private leader: string | undefined;

  constructor(
    readonly tid: number,
    private readonly readMem: ReadMemoryFn,
  ) {}

  private status(): Status {
    return (this.st ??= parseStatus(readProc(`/proc/${this.tid}/status`, this.tid)));
  }

  tgid(): number {
    return this.status().tgid;
  }

  uid(): number {
    return this.status().uid;
  }

  gid(): number {
    return this.status().gid;
  }

  comm(): string {
    return (this.commCache ??= readProc(`/proc/${this.tid}/comm`, this.tid).replace(/\n$/, ''));
  }

  cpu(): number {
    // Field 39: CPU number last executed on.
    return (this.cpuCache ??= statField(readProc(`/proc/${this.tid}/stat`, this.tid), 39));
  }

  leaderKey(): string {
    if (this.leader === undefined) {
      const tgid = this.tgid();
      // Field 22: start time of the leader, so a recycled tgid gets a new key.
      this.leader = `${tgid}:${statField(readProc(`/proc/${tgid}/stat`, this.tid), 22)}`;
    }
    return this.leader;
  }

  /**
   * Ids in pid namespace `pidNs` (a "pid:[inode]" link), for REPO's namespace-aware
   * get_current_pid_tgid: the NSpid/NStgid lines of /proc/<tid>/status list them from the
   * supervisor's namespace down to the task's own. A namespace strictly between those two
   * cannot be told apart here and gives undefined, as does one the task is not visible in.
   */
  idsInPidNs(pidNs: string): { tgid: number; pid: number } | undefined {
    const text = readProc(`/proc/${this.tid}/status`, this.tid);
    const list = (name: string): number[] => (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '').trim().split(/\s+/).map(Number);
    const pids = list('NSpid'), tgids = list('NStgid');
    let own: string, mine: string;
    try {
      own = readlinkSync(`/proc/${this.tid}/ns/pid`);
      mine = readlinkSync('/proc/self/ns/pid');
    } catch {
      return undefined;
    }
    if (pidNs === own) return { tgid: tgids.at(-1)!, pid: pids.at(-1)! };
    if (pidNs === mine) return { tgid: tgids[0]!, pid: pids[0]! };
    return undefined;
  }

  readMemory(addr: bigint, len: number): Uint8Array | number {
    if (!Number.isInteger(len) || len < 0 || len > 0x4000_0000) return -EFAULT;
    if (typeof addr !== 'bigint' || addr < 0n || addr + BigInt(len) > U64_END) return -EFAULT;
    const buf = new Uint8Array(len);
    if (len === 0) return buf;
    // Like bpf_probe_read_user: all or nothing, and every failure is -EFAULT.
    return this.readMem(this.tid, addr, buf) === len ? buf : -EFAULT;
  }
}

const readWithAddon: ReadMemoryFn = (pid, addr, buf) => loadAddon().readProcessMemory(pid, addr, buf);

/** TaskContext of thread `tid` (pid in the caller's pid namespace). `readMem` replaces
 *  process_vm_readv (tests). Getters throw ERR_TASK_GONE once the task has exited. */
export function procTask(tid: number, readMem?: ReadMemoryFn): TaskContext {
  if (!Number.isInteger(tid) || tid <= 0) throw new SeccompEbpfError('ERR_NATIVE_ARG', `tid must be a positive integer, got ${String(tid)}`);
  return new ProcTask(tid, readMem ?? readWithAddon);
}
