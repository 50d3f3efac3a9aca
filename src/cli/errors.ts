/**
 * @module cli/errors
 * How the CLI reports failures: one line `seccomp-ebpf: error[CODE]: message (location)` on
 * stderr, never a stack trace (unless SECCOMP_EBPF_DEBUG=1), and an exit status by kind:
 *
 *   2    usage errors (ERR_CLI_*: unknown option, missing `--` or command, malformed value)
 *   126  the command exists but cannot be executed (ERR_SPAWN_NOT_EXECUTABLE), as env(1)
 *   127  the command was not found (ERR_SPAWN_NOT_FOUND), as env(1)
 *   1    anything else (unreadable or malformed filter, unknown global or map, ...)
 */
import { SeccompEbpfError } from '../index.js';

/** A command-line usage error (exit status 2): ERR_CLI_USAGE, or a more precise ERR_CLI_* code. */
export function usageError(message: string, code = 'ERR_CLI_USAGE'): SeccompEbpfError {
  return new SeccompEbpfError(code, message);
}

export function exitStatusFor(e: unknown): number {
  if (!(e instanceof SeccompEbpfError)) return 1;
  if (e.code.startsWith('ERR_CLI_')) return 2;
  if (e.code === 'ERR_SPAWN_NOT_FOUND') return 127;
  if (e.code === 'ERR_SPAWN_NOT_EXECUTABLE') return 126;
  return 1;
}

/** Prints `e` the CLI way and returns the exit status. */
export function reportError(e: unknown, writeErr: (s: string) => void): number {
  const debug = process.env.SECCOMP_EBPF_DEBUG === '1';
  if (e instanceof SeccompEbpfError) {
    writeErr(`seccomp-ebpf: error[${e.code}]: ${oneLine(e.message)}\n`);
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    writeErr(`seccomp-ebpf: error[ERR_INTERNAL]: ${oneLine(msg)}${debug ? '' : ' (set SECCOMP_EBPF_DEBUG=1 for details)'}\n`);
  }
  if (debug && e instanceof Error && e.stack) writeErr(`${e.stack}\n`);
  return exitStatusFor(e);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ');
}
