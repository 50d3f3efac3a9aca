/**
 * @module supervisor/protocol
 * What the main thread and the supervisor's worker thread exchange. File descriptors are
 * process-wide, so they travel as plain numbers; maps travel as SharedMapStates (their storage
 * is shared, not copied); the program as plain instruction objects.
 */
import type { Insn } from '../ebpf/insn.js';
import type { SharedMapState } from '../ebpf/maps/types.js';
import type { HelperGrant } from '../ebpf/verifier/load.js';
import type { LogRecord } from './log.js';

export interface WorkerInit {
  listenerFd: number;
  /** pidfd of the spawned process; its exit ends the loop. */
  pidfd: number;
  childPid: number;
  insns: Insn[];
  /** Helpers granted at load and the load-time decisions they depend on. */
  grant: HelperGrant;
  maps: SharedMapState[];
  /** Where decision records go: a file descriptor (JSON lines), the main thread, or stderr
   *  (LOG verdicts and trace_printk only). */
  log: { kind: 'fd'; fd: number } | { kind: 'callback' } | { kind: 'stderr' };
  /** USER_NOTIF verdicts are forwarded to the main thread's handler (else ENOSYS). */
  userNotif: boolean;
  /** The filter was installed with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV. */
  killableWait: boolean;
  /** Name of the filter source, for fault messages. */
  source?: string;
}

/** A USER_NOTIF verdict for the main thread's handler. */
export interface NotifMessage {
  type: 'notif';
  id: bigint;
  pid: number;
  /** The 64-byte struct seccomp_data. */
  data: Uint8Array;
}

export interface LogMessage {
  type: 'log';
  records: LogRecord[];
}

/** The spawned process has exited (sent after the final log flush). */
export interface ExitMessage {
  type: 'exit';
  /** waitid's si_code (CLD_EXITED, CLD_KILLED, CLD_DUMPED) and si_status. */
  siCode: number;
  siStatus: number;
}

export type WorkerMessage = NotifMessage | LogMessage | ExitMessage;
