/**
 * @module supervisor/supervisor
 * The main-thread half of a supervisor: starts the worker thread that runs the notification
 * loop, answers USER_NOTIF verdicts with the embedding application's handler (which may be
 * async: the worker goes on meanwhile; the main thread responds itself, file descriptors being
 * process-wide), forwards log batches to a callback, and reports the child's exit.
 *
 * The listener, the pidfd and the log file are closed here, after the worker has stopped, so a
 * late handler response can never reach a recycled descriptor number.
 */
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SeccompEbpfError } from '../errors.js';
import { loadAddon } from '../native/addon.js';
import { archName, nameOf, writeAll, type LogRecord } from './log.js';
import type { WorkerInit, WorkerMessage } from './protocol.js';

/** A syscall the filter answered with SECCOMP_RET_USER_NOTIF. */
export interface UserNotification {
  /** Notification id (the cookie of struct seccomp_notif). */
  id: bigint;
  /** Thread id of the caller. */
  pid: number;
  nr: number;
  /** x86_64 name of nr, when known. */
  syscall?: string;
  /** AUDIT_ARCH_* value and its name ("x86_64", "x32", ...). */
  arch: number;
  archName: string;
  instructionPointer: bigint;
  args: bigint[];
  /** The raw 64-byte struct seccomp_data. */
  data: Uint8Array;
}

/**
 * The handler's answer: `{ continue: true }` runs the syscall (SECCOMP_USER_NOTIF_FLAG_CONTINUE);
 * `{ error: e }` with e > 0 fails it with errno e; otherwise it returns `val` (default 0)
 * without running.
 */
export type UserNotifResponse = { continue: true } | { error?: number; val?: number | bigint };

export type UserNotifHandler = (n: UserNotification) => UserNotifResponse | Promise<UserNotifResponse>;

/** How the child ended: `code` when it exited, `signal` when a signal killed it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Number of the signal (for 128 + n exit statuses). */
  signalNumber: number | null;
  coreDumped: boolean;
}

/** What the worker gets as is (see WorkerInit), plus how the main thread handles logs and
 *  USER_NOTIF verdicts. */
export interface SupervisorOptions
  extends Pick<WorkerInit, 'listenerFd' | 'pidfd' | 'childPid' | 'insns' | 'grant' | 'maps' | 'killableWait' | 'source'> {
  /** An open file descriptor for JSON lines (closed when the supervisor stops), a callback,
   *  or nothing (LOG verdicts and trace_printk to stderr). */
  log?: { fd: number } | ((record: LogRecord) => void);
  onUserNotif?: UserNotifHandler;
}

const CLD_EXITED = 1;
const CLD_DUMPED = 3;
const ENOENT = 2;
const ENOSYS = 38;

export class Supervisor {
  /** Settles when the child has exited and the supervisor has stopped. */
  readonly exited: Promise<ExitStatus>;
  private readonly worker: Worker;
  private closed = false;
  private status: ExitStatus | undefined;
  private readonly reported = new Set<string>();

  constructor(private readonly opts: SupervisorOptions) {
    const native = loadAddon();
    const init: WorkerInit = {
      listenerFd: opts.listenerFd,
      pidfd: opts.pidfd,
      childPid: opts.childPid,
      insns: opts.insns,
      grant: opts.grant,
      maps: opts.maps,
      log: typeof opts.log === 'function' ? { kind: 'callback' } : opts.log ? { kind: 'fd', fd: opts.log.fd } : { kind: 'stderr' },
      userNotif: opts.onUserNotif !== undefined,
      killableWait: opts.killableWait,
      ...(opts.source !== undefined ? { source: opts.source } : {}),
    };
    this.worker = startWorker(init);
    this.exited = new Promise<ExitStatus>((resolve, reject) => {
      let failure: unknown;
      this.worker.on('message', (m: WorkerMessage) => this.onMessage(m));
      this.worker.on('error', (e) => {
        failure = e;
        // The loop is gone: nobody answers the child's syscalls any more. Do not leave it hanging.
        native.pidfdSendSignal(opts.pidfd, 9);
      });
      this.worker.on('exit', () => {
        this.close();
        if (this.status) resolve(this.status);
        else reject(supervisorFailure(failure));
      });
    });
  }

  /** Sends `sig` to the process through its pidfd (nothing once it has exited and been reaped). */
  signal(sig: number): void {
    if (!this.closed) loadAddon().pidfdSendSignal(this.opts.pidfd, sig);
  }

  private onMessage(m: WorkerMessage): void {
    switch (m.type) {
      case 'exit':
        this.status = exitStatus(m.siCode, m.siStatus);
        break;
      case 'log':
        if (typeof this.opts.log === 'function') {
          try {
            for (const r of m.records) this.opts.log(r);
          } catch (e) {
            this.reportOnce('log', `the log callback failed: ${(e as Error)?.message ?? String(e)}`);
          }
        }
        break;
      case 'notif':
        void this.answer(m.id, m.pid, m.data);
        break;
    }
  }

  private async answer(id: bigint, pid: number, data: Uint8Array): Promise<void> {
    const n = decodeNotification(id, pid, data);
    let val = 0n;
    let error = 0;
    let flags = 0;
    try {
      const r = await this.opts.onUserNotif!(n);
      if (r && typeof r === 'object' && 'continue' in r && r.continue === true) flags = 1; // FLAG_CONTINUE
      else if (r && typeof r === 'object') {
        const e = (r as { error?: unknown }).error ?? 0;
        const v = (r as { val?: unknown }).val ?? 0;
        if (typeof e !== 'number' || !Number.isInteger(e) || Math.abs(e) > 4095) throw new TypeError(`error must be an errno number, got ${String(e)}`);
        if (typeof v !== 'number' && typeof v !== 'bigint') throw new TypeError(`val must be a number or bigint, got ${typeof v}`);
        error = -Math.abs(e);
        val = error === 0 ? BigInt.asIntN(64, BigInt(v)) : 0n;
      } else throw new TypeError('the handler must return an object');
    } catch (e) {
      // Fail closed: the syscall does not run.
      error = -ENOSYS;
      val = 0n;
      flags = 0;
      this.reportOnce('handler', `the USER_NOTIF handler failed (the syscall is denied with ENOSYS): ${(e as Error)?.message ?? String(e)}`);
    }
    if (this.closed) return;
    const r = loadAddon().notifRespond(this.opts.listenerFd, id, val, error, flags);
    if (r < 0 && r !== -ENOENT) writeAll(2, `seccomp-ebpf: SECCOMP_IOCTL_NOTIF_SEND failed: errno ${-r}\n`);
  }

  /** Problems of the embedding application's callbacks: on stderr, once per kind and supervisor. */
  private reportOnce(kind: string, message: string): void {
    if (this.reported.has(kind)) return;
    this.reported.add(kind);
    writeAll(2, `seccomp-ebpf: ${message} (reported once)\n`);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    const native = loadAddon();
    native.close(this.opts.listenerFd);
    native.close(this.opts.pidfd);
    if (this.opts.log && typeof this.opts.log !== 'function') native.close(this.opts.log.fd);
  }
}

/**
 * Starts the worker: worker.js next to this file after tsc. From the TypeScript sources (tests,
 * development under `node --import tsx`), workers do not inherit tsx's loader hooks in Node 20,
 * so a small bootstrap registers tsx in the worker before importing worker.ts.
 */
function startWorker(init: WorkerInit): Worker {
  const opts = { workerData: init, stdout: false, stderr: false };
  const js = new URL('./worker.js', import.meta.url);
  if (existsSync(js)) return new Worker(js, opts);
  const ts = new URL('./worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(ts)}); });`;
  return new Worker(boot, { ...opts, eval: true });
}

/** The error `exited` rejects with when the worker died: its SeccompEbpfError code survives the
 *  thread boundary (errors are cloned), the class does not. */
function supervisorFailure(failure: unknown): SeccompEbpfError {
  if (failure === undefined) return new SeccompEbpfError('ERR_SUPERVISOR_FAILED', 'the supervisor stopped before the process exited');
  const code = (failure as { code?: unknown }).code;
  const message = (failure as Error)?.message ?? String(failure);
  return new SeccompEbpfError(typeof code === 'string' && code.startsWith('ERR_') ? code : 'ERR_SUPERVISOR_FAILED',
    `the supervisor failed (the process was killed): ${message}`, undefined, { cause: failure });
}

function decodeNotification(id: bigint, pid: number, data: Uint8Array): UserNotification {
  const dv = new DataView(data.buffer, data.byteOffset, 64);
  const nr = dv.getInt32(0, true);
  const arch = dv.getUint32(4, true);
  const args: bigint[] = [];
  for (let i = 0; i < 6; i++) args.push(dv.getBigUint64(16 + 8 * i, true));
  const n: UserNotification = {
    id, pid, nr, arch, archName: archName(arch, nr), instructionPointer: dv.getBigUint64(8, true), args, data,
  };
  const name = nameOf(arch, nr);
  if (name !== undefined) n.syscall = name;
  return n;
}

function exitStatus(siCode: number, siStatus: number): ExitStatus {
  if (siCode === CLD_EXITED) return { code: siStatus, signal: null, signalNumber: null, coreDumped: false };
  const name = (Object.entries(osConstants.signals).find(([, n]) => n === siStatus)?.[0] ?? null) as NodeJS.Signals | null;
  return { code: null, signal: name, signalNumber: siStatus, coreDumped: siCode === CLD_DUMPED };
}
