/**
 * @module supervisor/loop
 * The notification loop, run by the supervisor's worker thread (never the JS main thread):
 *
 *   notifWaiterNext: SEND the previous answer, then a blocking RECV (one native call)
 *     notification -> seccomp_data + task -> VM -> decision -> answer (sent by the next call),
 *                     or a signal / a message to the main thread
 *     exited       -> reap the child, report its exit, stop
 *     timeout      -> flush buffered log records, check pending kills
 *
 * The waiter (native/waiter.c) makes a notification cost what it costs the series' C
 * supervisor, RECV + SEND, with one crossing into native code.
 *
 * Enforcement follows docs/architecture.md; where a stock kernel cannot do what the series'
 * kernel would (KILL_THREAD, TRAP's siginfo), the difference is documented in docs/library.md.
 * A fault while running the program fails closed: the syscall gets ENOSYS and the fault is
 * reported once per site on stderr.
 */
import { SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, SECCOMP_USER_NOTIF_FLAG_CONTINUE } from '../abi/seccomp.js';
import { SeccompEbpfError } from '../errors.js';
import type { Vm } from '../ebpf/vm/interpreter.js';
import type { TaskContext } from '../ebpf/vm/types.js';
import { WAITER, type NativeAddon } from '../native/addon.js';
import { decide, FAULT_DECISION, type Decision } from './decision.js';
import { archName, nameOf, writeAll, type DecisionRecord, type LogSink } from './log.js';
import { readThreadSignalState, sigsysIsFatal, SIGKILL, SIGSYS } from './proc-status.js';
import type { WorkerInit, WorkerMessage } from './protocol.js';

/** The native calls the loop makes (a subset of the addon, so a test can fake them). */
export type LoopNative = Pick<NativeAddon,
  'notifWaiterOpen' | 'notifWaiterNext' | 'notifWaiterClose' | 'notifRespond' | 'notifSetFlags' | 'waitPidfd' | 'tgkill' | 'kill'>;

export interface LoopDeps {
  native: LoopNative;
  vm: Vm;
  /** A task context for the thread `tid` (lazy: nothing is read until a getter is called). */
  task(tid: number): TaskContext;
  sink: LogSink;
  post(msg: WorkerMessage): void;
  /** Wall-clock nanoseconds. */
  now(): bigint;
}

const WEXITED = 4;
const ENOENT = 2;
const ENOSYS = 38;
/** When to check that a process sent a fatal SIGSYS did not survive it. */
const KILL_GRACE_MS = 200;
/** How long buffered log records may wait while the loop is idle. */
const LOG_IDLE_MS = 100;
/** Distinct return values remembered by the decision cache (a filter returns few). */
const DECISION_CACHE_SIZE = 256;

interface PendingKill {
  tid: number;
  tgid: number;
  deadline: number;
}

/** Runs until the spawned process exits. */
export function runNotificationLoop(init: WorkerInit, deps: LoopDeps): void {
  const { native, vm, sink } = deps;
  const listener = init.listenerFd;
  // Best effort: SYNC_WAKE_UP (6.6+) wakes the supervisor on the target's CPU.
  // SECCOMP_EBPF_SYNC_WAKE_UP=0 turns it off (the benchmark compares both modes).
  if (process.env.SECCOMP_EBPF_SYNC_WAKE_UP !== '0') native.notifSetFlags(listener, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);

  const buf = new Uint8Array(WAITER.BUF_SIZE);
  const nv = new DataView(buf.buffer);
  const words = new Int32Array(buf.buffer);
  const ctx = buf.subarray(16, 80);
  const cv = new DataView(buf.buffer, 16, 64);
  const decisions = new Map<number, Decision>();
  const pendingKills: PendingKill[] = [];
  const reportedFaults = new Set<string>();
  const tgids = new Map<number, number>();
  tgids.set(init.childPid, init.childPid);
  let exit: { siCode: number; siStatus: number } | undefined;

  const tgidOf = (tid: number, task: TaskContext): number | undefined => {
    let t = tgids.get(tid);
    if (t === undefined) {
      try {
        t = task.tgid();
      } catch {
        return undefined;
      }
      if (tgids.size > 4096) tgids.clear();
      tgids.set(tid, t);
    }
    return t;
  };

  const record = (tid: number, task: TaskContext, d: Decision, errno?: number): void => {
    const nr = cv.getInt32(0, true);
    const arch = cv.getUint32(4, true);
    const args: string[] = [];
    for (let i = 0; i < 6; i++) args.push(`0x${cv.getBigUint64(16 + 8 * i, true).toString(16)}`);
    const r: DecisionRecord = { ts: deps.now(), tid, nr, arch: archName(arch, nr), args, action: d.action };
    const pid = tgidOf(tid, task);
    if (pid !== undefined) r.pid = pid;
    const name = nameOf(arch, nr);
    if (name !== undefined) r.syscall = name;
    if (errno !== undefined) r.errno = errno;
    sink.add(r);
  };

  /** Answers the current notification with the next wait (one native call for both). */
  const answer = (error: number, flags: number): void => {
    words[WAITER.RESP_ERROR] = error;
    words[WAITER.RESP_FLAGS] = flags;
    words[WAITER.SEND] = 1;
  };

  const decideCached = (ret: number): Decision => {
    let d = decisions.get(ret);
    if (d === undefined) {
      if (decisions.size >= DECISION_CACHE_SIZE) decisions.clear();
      decisions.set(ret, d = decide(ret));
    }
    return d;
  };

  /** The result of a SEND: ENOENT means the thread went away (killed, or interrupted by a
   *  signal) meanwhile, which is fine. */
  const checkSent = (r: number): void => {
    if (r < 0 && r !== -ENOENT) throw new SeccompEbpfError('ERR_SUPERVISOR_RESPOND', `SECCOMP_IOCTL_NOTIF_SEND failed: errno ${-r}`);
  };

  /** Answers at once (before a signal is sent), not with the next wait. */
  const respond = (id: bigint, error: number, flags: number): void => {
    checkSent(native.notifRespond(listener, id, 0n, error, flags));
  };

  /**
   * Kills the caller's process before its syscall runs, as the kernel does for KILL_*. When a
   * SIGSYS would be fatal (default action, not blocked), it is queued on the thread and the
   * syscall is failed: the thread takes the signal on its way back to user space, before any
   * of its code runs, and the process dies "by SIGSYS" as under the kernel. (The answer is
   * needed: a coredump signal does not wake a killable wait.) Otherwise SIGKILL.
   */
  const killProcess = (id: bigint, tid: number): void => {
    const s = readThreadSignalState(tid);
    if (!s) return; // already gone
    if (sigsysIsFatal(s)) {
      native.tgkill(s.tgid, tid, SIGSYS);
      respond(id, -ENOSYS, 0);
      pendingKills.push({ tid, tgid: s.tgid, deadline: Date.now() + KILL_GRACE_MS });
    } else {
      native.kill(s.tgid, SIGKILL);
    }
  };

  /** TRAP: SIGSYS to the calling thread and ENOSYS. With WAIT_KILLABLE_RECV the signal is
   *  queued first and delivered when the syscall returns, as the kernel's TRAP does; without it
   *  a signal would interrupt the wait and restart the syscall, so answer first. The kernel
   *  forces SIGSYS even when blocked or ignored (the process dies), so then kill. */
  const trap = (id: bigint, tid: number): void => {
    const s = readThreadSignalState(tid);
    if (!s) return;
    if (s.blocked || s.ignored) {
      killProcess(id, tid);
      return;
    }
    if (init.killableWait) {
      native.tgkill(s.tgid, tid, SIGSYS);
      respond(id, -ENOSYS, 0);
    } else {
      respond(id, -ENOSYS, 0);
      native.tgkill(s.tgid, tid, SIGSYS);
    }
  };

  const reportFault = (e: unknown, tid: number): void => {
    const err = e instanceof SeccompEbpfError ? e : undefined;
    const site = err ? `${err.code}@${err.location?.insn ?? '?'}` : String(e);
    if (reportedFaults.has(site)) return;
    reportedFaults.add(site);
    const what = err ? `error[${err.code}]: ${err.message}` : `internal error: ${(e as Error)?.stack ?? String(e)}`;
    const nr = cv.getInt32(0, true);
    const name = nameOf(cv.getUint32(4, true), nr) ?? `syscall ${nr}`;
    writeAll(2, `seccomp-ebpf: filter fault${init.source ? ` in ${init.source}` : ''}: ${what}; ` +
      `${name} of tid ${tid} denied with ENOSYS (reported once per site)\n`);
  };

  const handleOne = (): void => {
    const tid = nv.getUint32(8, true);
    const task = deps.task(tid);
    let d: Decision;
    try {
      d = decideCached(vm.run32(ctx, task));
    } catch (e) {
      reportFault(e, tid);
      d = FAULT_DECISION;
    }
    switch (d.kind) {
      case 'continue':
        answer(0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
        if (sink.all || d.action === 'log') record(tid, task, d);
        return;
      case 'errno':
        answer(-d.errno, 0);
        if (sink.all) record(tid, task, d, d.errno);
        return;
      case 'kill':
        if (sink.all) record(tid, task, d);
        killProcess(nv.getBigUint64(0, true), tid);
        return;
      case 'trap':
        if (sink.all) record(tid, task, d, ENOSYS);
        trap(nv.getBigUint64(0, true), tid);
        return;
      case 'user_notif':
        if (init.userNotif) {
          deps.post({ type: 'notif', id: nv.getBigUint64(0, true), pid: tid, data: ctx.slice() });
          if (sink.all) record(tid, task, d);
        } else {
          answer(-ENOSYS, 0);
          if (sink.all) record(tid, task, d, ENOSYS);
        }
        return;
    }
  };

  /** Escalates to SIGKILL when a process sent a fatal SIGSYS installed a handler for it (or
   *  blocked it) in the meantime and is still alive. */
  const checkKills = (): void => {
    const now = Date.now();
    for (let i = pendingKills.length - 1; i >= 0; i--) {
      const k = pendingKills[i]!;
      if (now < k.deadline) continue;
      pendingKills.splice(i, 1);
      const s = readThreadSignalState(k.tid);
      if (s && !sigsysIsFatal(s)) native.kill(k.tgid, SIGKILL);
    }
  };

  const waiter = native.notifWaiterOpen(listener, init.pidfd, buf);
  if (typeof waiter === 'number') throw new SeccompEbpfError('ERR_SUPERVISOR_WAIT', `cannot start the notification waiter: errno ${-waiter}`);
  try {
    for (;;) {
      const timeout = pendingKills.length > 0 ? KILL_GRACE_MS : sink.pending ? LOG_IDLE_MS : -1;
      const n = native.notifWaiterNext(waiter, timeout);
      checkSent(words[WAITER.SEND_RESULT]!);
      if (pendingKills.length > 0) checkKills();
      if (n === WAITER.NEXT_NOTIF) handleOne();
      else if (n === WAITER.NEXT_TIMEOUT) sink.flush();
      else if (n === WAITER.NEXT_EXITED) {
        const w = native.waitPidfd(init.pidfd, WEXITED);
        if (typeof w === 'number') throw new SeccompEbpfError('ERR_SUPERVISOR_WAIT', `waitid(P_PIDFD) failed: errno ${-w}`);
        exit = { siCode: w[1]!, siStatus: w[2]! };
        break;
      } else {
        throw new SeccompEbpfError('ERR_SUPERVISOR_RECV', `SECCOMP_IOCTL_NOTIF_RECV failed: errno ${-n}`);
      }
    }
  } finally {
    native.notifWaiterClose(waiter);
    sink.flush();
  }
  if (exit) deps.post({ type: 'exit', ...exit });
}
