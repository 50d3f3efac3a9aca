/**
 * @module supervisor/log
 * The decision log: one record per filtered syscall (and one per trace_printk line), written
 * as JSON lines to a file, handed in batches to a callback, or, without either, only LOG
 * verdicts and trace_printk lines go to stderr prefixed with "seccomp-ebpf:".
 *
 * Records are buffered and flushed when the buffer grows, when the loop goes idle and at exit,
 * so logging costs one write per batch, not per syscall.
 */
import { writeSync } from 'node:fs';
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT } from '../abi/seccomp.js';
import { syscallName } from '../abi/syscalls-x86_64.js';
import type { ActionName } from './decision.js';

/** One filtered syscall and what happened to it. */
export interface DecisionRecord {
  /** Wall-clock time in nanoseconds since the epoch. */
  ts: bigint;
  /** Thread group id, when known. */
  pid?: number;
  /** Thread id (the notification's pid field). */
  tid: number;
  nr: number;
  /** x86_64 name of `nr`, when the arch is x86_64 and the number is known. */
  syscall?: string;
  /** "x86_64", "x32", "i386", "aarch64" or the AUDIT_ARCH value in hex. */
  arch: string;
  /** The six arguments, hex. */
  args: string[];
  action: ActionName;
  /** Errno returned to the caller (ERRNO, TRACE, TRAP, fault, USER_NOTIF without handler). */
  errno?: number;
}

/** One bpf_trace_printk line. */
export interface TraceRecord {
  ts: bigint;
  tid: number;
  trace: string;
}

export type LogRecord = DecisionRecord | TraceRecord;

export function archName(arch: number, nr: number): string {
  switch (arch >>> 0) {
    case AUDIT_ARCH_X86_64: return (nr & X32_SYSCALL_BIT) !== 0 ? 'x32' : 'x86_64';
    case AUDIT_ARCH_I386: return 'i386';
    case AUDIT_ARCH_AARCH64: return 'aarch64';
    default: return `0x${(arch >>> 0).toString(16)}`;
  }
}

/** Name of the syscall, when we have a table for its arch. */
export function nameOf(arch: number, nr: number): string | undefined {
  return (arch >>> 0) === AUDIT_ARCH_X86_64 ? syscallName(nr) : undefined;
}

/** The JSON line of a record (bigint timestamps written as exact integers). */
export function formatRecord(r: LogRecord): string {
  if ('trace' in r) return `{"ts":${r.ts},"tid":${r.tid},"trace":${JSON.stringify(r.trace)}}`;
  let s = `{"ts":${r.ts}`;
  if (r.pid !== undefined) s += `,"pid":${r.pid}`;
  s += `,"tid":${r.tid},"nr":${r.nr}`;
  if (r.syscall !== undefined) s += `,"syscall":"${r.syscall}"`;
  s += `,"arch":"${r.arch}","args":["${r.args.join('","')}"],"action":"${r.action}"`;
  if (r.errno !== undefined) s += `,"errno":${r.errno}`;
  return s + '}';
}

/** A human line for stderr. */
export function describeRecord(r: LogRecord): string {
  if ('trace' in r) return `seccomp-ebpf: trace (tid ${r.tid}): ${r.trace}\n`;
  const who = r.pid !== undefined && r.pid !== r.tid ? `pid ${r.pid} tid ${r.tid}` : `pid ${r.tid}`;
  const call = `${r.syscall ?? `syscall ${r.nr}`}(${r.args.join(', ')})`;
  return `seccomp-ebpf: ${r.action}: ${who}: ${call}${r.errno !== undefined ? ` = -${r.errno}` : ''}\n`;
}

/** Where records go. */
export type LogTarget =
  | { kind: 'fd'; fd: number }
  | { kind: 'callback'; send: (batch: LogRecord[]) => void }
  | { kind: 'stderr' };

const FLUSH_LINES = 512;

/** Buffered writer for one target. Not thread-safe: one per worker. */
export class LogSink {
  private lines: string[] = [];
  private records: LogRecord[] = [];
  /** True when every decision must be recorded (file or callback); otherwise only LOG ones. */
  readonly all: boolean;

  constructor(private readonly target: LogTarget) {
    this.all = target.kind !== 'stderr';
  }

  add(r: LogRecord): void {
    switch (this.target.kind) {
      case 'fd':
        this.lines.push(formatRecord(r));
        if (this.lines.length >= FLUSH_LINES) this.flush();
        break;
      case 'callback':
        this.records.push(r);
        if (this.records.length >= FLUSH_LINES) this.flush();
        break;
      case 'stderr':
        if ('trace' in r || r.action === 'log') writeAll(2, describeRecord(r));
        break;
    }
  }

  get pending(): boolean {
    return this.lines.length > 0 || this.records.length > 0;
  }

  flush(): void {
    if (this.target.kind === 'fd' && this.lines.length > 0) {
      const text = this.lines.join('\n') + '\n';
      this.lines = [];
      writeAll(this.target.fd, text);
    } else if (this.target.kind === 'callback' && this.records.length > 0) {
      const batch = this.records;
      this.records = [];
      this.target.send(batch);
    }
  }
}

/** writeSync until everything is written (pipes may take partial writes); errors are dropped
 *  because a log must never stop enforcement. */
export function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  let spins = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      // A non-blocking pipe that is full: wait a little; anything else (EPIPE, EBADF): give up.
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || ++spins > 1000) return;
      Atomics.wait(SLEEPER, 0, 0, 1);
    }
  }
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
