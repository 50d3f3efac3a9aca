/**
 * @module cli/run
 * `seccomp-ebpf run [options] -- CMD [ARGS...]`: runs CMD under a filter, with stdin, stdout
 * and stderr passed through, and exits with CMD's exit status (128 + n when signal n killed
 * it). Signals: SIGTERM, SIGHUP and SIGQUIT sent to the CLI are forwarded to CMD; SIGINT is
 * not (a terminal sends it to the whole foreground process group, CMD included), but it no
 * longer stops the CLI, which waits for CMD to exit.
 */
import { defaultPolicyPath, loadFilter, type FilteredProcess, type SpawnOptions } from '../index.js';
import { usageError } from './errors.js';
import { loaderChoice, type LoaderCliOptions } from './loader.js';
import { parseAssignment, parseMapAssignment, toJson } from './values.js';

export interface RunOptions extends LoaderCliOptions {
  filter?: string;
  program?: string;
  global?: string[];
  map?: string[];
  maps?: boolean;
  log?: string;
  notifyAll?: boolean;
}

export interface CliIo {
  writeOut(s: string): void;
  writeErr(s: string): void;
  /** The command's stdin, stdout and stderr (default: inherit the CLI's). */
  childStdio?: SpawnOptions['stdio'];
}

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** Runs the command; resolves to the CLI's exit status. Throws SeccompEbpfError on bad input. */
export async function runCommand(opts: RunOptions, command: string[] | undefined, io: CliIo): Promise<number> {
  if (command === undefined) throw usageError('run: expected `--` followed by the command to run (seccomp-ebpf run [options] -- CMD [ARGS...])', 'ERR_CLI_NO_COMMAND');
  if (command.length === 0 || command[0] === '') throw usageError('run: no command after `--`', 'ERR_CLI_NO_COMMAND');
  // Parse everything before touching the filter, so usage errors come first.
  const globals = (opts.global ?? []).map((g) => parseAssignment(g, '--global'));
  const entries = (opts.map ?? []).map(parseMapAssignment);

  const loader = loaderChoice(opts);
  for (const n of loader.notes) io.writeErr(`seccomp-ebpf: note: ${n}\n`);
  const filter = await loadFilter(opts.filter ?? defaultPolicyPath(), { ...loader.options, ...(opts.program !== undefined ? { program: opts.program } : {}) });
  for (const g of globals) filter.setGlobal(g.name, g.value);
  for (const e of entries) filter.map(e.map).update(e.key, e.value);

  // Handlers first: with the split, the command may run (and be signalled) before spawn returns.
  let child: FilteredProcess | undefined;
  const early: NodeJS.Signals[] = [];
  const forward = (sig: NodeJS.Signals): void => {
    if (child) child.kill(sig);
    else early.push(sig);
  };
  const ignore = (): void => {};
  for (const s of FORWARDED) process.on(s, forward);
  process.on('SIGINT', ignore);
  let status;
  try {
    child = filter.spawn(command[0]!, command.slice(1), {
      stdio: io.childStdio ?? 'inherit',
      ...(opts.log !== undefined ? { log: opts.log } : {}),
      ...(opts.notifyAll ? { split: false } : {}),
    });
    for (const w of child.kernelFilter.warnings) io.writeErr(`seccomp-ebpf: warning: ${w}\n`);
    for (const sig of early) child.kill(sig);
    status = await child.exited;
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
    process.off('SIGINT', ignore);
  }
  if (opts.maps) io.writeErr(`${toJson(filter.dump())}\n`);
  return status.code ?? 128 + (status.signalNumber ?? 0);
}
