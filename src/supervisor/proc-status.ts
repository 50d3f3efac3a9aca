/**
 * @module supervisor/proc-status
 * Reads what the supervisor needs from /proc/<tid>/status before signalling a thread: its
 * thread group and how SIGSYS is handled (blocked by the thread, ignored or caught by the
 * process). See proc(5): SigBlk/SigIgn/SigCgt are hex masks where bit (n - 1) is signal n.
 */
import { readFileSync } from 'node:fs';

export const SIGSYS = 31;
export const SIGKILL = 9;

export interface ThreadSignalState {
  tgid: number;
  /** SIGSYS is blocked by the thread. */
  blocked: boolean;
  /** SIGSYS is ignored by the process. */
  ignored: boolean;
  /** The process has a handler for SIGSYS. */
  caught: boolean;
}

/** Reads /proc/<tid>/status; undefined when the thread is gone. */
export function readThreadSignalState(tid: number, sig = SIGSYS): ThreadSignalState | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${tid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const field = (name: string): string => {
    const m = new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text);
    return m ? m[1]! : '0';
  };
  const bit = 1n << BigInt(sig - 1);
  const has = (name: string): boolean => (BigInt(`0x${field(name)}`) & bit) !== 0n;
  return {
    tgid: Number(field('Tgid')),
    blocked: has('SigBlk'),
    ignored: has('SigIgn'),
    caught: has('SigCgt'),
  };
}

/** Does a SIGSYS sent to this thread terminate its process (default action, not blocked)? */
export function sigsysIsFatal(s: ThreadSignalState): boolean {
  return !s.blocked && !s.ignored && !s.caught;
}
