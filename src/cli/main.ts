/**
 * @module cli/main
 * The `seccomp-ebpf` command line: argument parsing (commander) and dispatch to one module per
 * command (./run.ts, ./explain.ts, ./disasm.ts, ./asm.ts), each using only the public API. `main` never
 * throws and never exits the process: it resolves to the exit status.
 *
 * For `run`, everything after the first `--` is the command to start, untouched by option
 * parsing.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { asmCommand } from './asm.js';
import { disasmCommand } from './disasm.js';
import { explainCommand, type ExplainOptions } from './explain.js';
import { reportError, usageError } from './errors.js';
import { runCommand, type CliIo, type RunOptions } from './run.js';
import { verifyCommand, type VerifyOptions } from './verify.js';
import type { Command as Cmd } from 'commander';

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** The loader options of verify, run and explain (see ./loader.ts). */
function loaderOptions(cmd: Cmd): Cmd {
  return cmd
    .option('--as-unprivileged', 'load as a loader without capabilities')
    .option('--caps <list>', 'load as a loader with exactly these capabilities (e.g. bpf,perfmon)')
    .option('--lsm <policy>', 'the seccomp_extended LSM hook: permit, deny or yama:N (default: the system\'s)');
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    if (pkg.version) return pkg.version;
  } catch {
    // dist/src/cli: one level deeper
  }
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function buildProgram(io: CliIo, command: string[] | undefined, result: { status: number }): Command {
  const program = new Command('seccomp-ebpf')
    .description('Run seccomp-eBPF filters (clang-built SEC("seccomp") objects with maps and helpers) on stock Linux')
    .version(version(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr, outputError: () => {} })
    .showSuggestionAfterError(true);

  loaderOptions(program
    .command('verify')
    .description('verify a filter under the series\' privilege model and print the verdict')
    .argument('<file>', 'filter file')
    .option('--program <name>', 'program (function or section name) when the object has several')
    .option('--log', 'print the verifier log (every processed instruction and its registers)'))
    .action(async (file: string, opts: VerifyOptions) => {
      result.status = await verifyCommand(file, opts, io);
    });

  loaderOptions(program
    .command('run')
    .description('run a command under a filter')
    .usage('[options] -- CMD [ARGS...]')
    .option('--filter <file>', 'filter: BPF ELF object, eBPF assembly or raw instructions (default: the bundled policies/default.bpf.o)')
    .option('--program <name>', 'program (function or section name) when the object has several')
    .option('--global <NAME=VALUE>', 'set a global variable before start (repeatable; decimal, 0x hex, 0o octal, 0b binary, negative)', collect)
    .option('--map <NAME:KEY=VALUE>', 'put an entry in a map before start (repeatable)', collect)
    .option('--maps', 'print the filter\'s maps and globals as JSON on stderr when CMD exits')
    .option('--log <file>', 'write one JSON line per decision (and trace_printk line) to FILE (implies --notify-all)')
    .option('--notify-all', 'send every syscall to the supervisor (default: the kernel decides every stateless verdict, see `explain`)')
    .argument('[command...]', 'after `--`: the command and its arguments'))
    .action(async (stray: string[], opts: RunOptions) => {
      if (stray.length > 0) {
        throw usageError(`run: put \`--\` before the command: seccomp-ebpf run [options] -- ${stray.join(' ')}`, 'ERR_CLI_NO_COMMAND');
      }
      result.status = await runCommand(opts, command, io);
    });

  program
    .command('explain')
    .description('show what the kernel decides and what goes to the supervisor, per syscall')
    .argument('[file]', 'filter file (default: the bundled policies/default.bpf.o)')
    .option('--program <name>', 'program (function or section name) when the object has several')
    .option('--global <NAME=VALUE>', 'set a global variable first (repeatable)', collect)
    .option('--map <NAME:KEY=VALUE>', 'put an entry in a map first (repeatable)', collect)
    .option('--cbpf', 'also print the kernel\'s classic-BPF filter')
    .action(async (file: string | undefined, opts: ExplainOptions) => {
      result.status = await explainCommand(file, opts, io);
    });

  program
    .command('disasm')
    .description('disassemble a filter (ELF object, assembly text or raw instructions)')
    .argument('<file>', 'filter file')
    .option('--program <name>', 'only this program')
    .action(async (file: string, opts: { program?: string }) => {
      result.status = await disasmCommand(file, opts, io);
    });

  program
    .command('asm')
    .description('assemble eBPF assembly text into raw instructions, or an ELF object when OUT ends in .o')
    .argument('<file>', 'assembly text')
    .requiredOption('-o, --output <out>', 'output file')
    .action(async (file: string, opts: { output: string }) => {
      result.status = await asmCommand(file, opts, io);
    });

  return program;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit status. */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const result = { status: 0 };
  // `run ... -- CMD ARGS`: split before option parsing so CMD's own options stay untouched.
  const isRun = argv.find((a) => !a.startsWith('-')) === 'run';
  const dd = isRun ? argv.indexOf('--') : -1;
  const head = dd >= 0 ? argv.slice(0, dd) : argv;
  const command = dd >= 0 ? argv.slice(dd + 1) : undefined;
  const program = buildProgram(io, command, result);
  try {
    if (head.length === 0) throw usageError('no command given (try seccomp-ebpf --help)', 'ERR_CLI_NO_COMMAND');
    await program.parseAsync(head, { from: 'user' });
    return result.status;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code === 'commander.help') return 2;
      return reportError(usageError(`${e.message.replace(/^error: /, '')} (see seccomp-ebpf --help)`), io.writeErr);
    }
    return reportError(e, io.writeErr);
  }
}

let brokenPipeHandled = false;

function defaultIo(): CliIo {
  // `seccomp-ebpf disasm x.o | head`: the reader went away. Stop quietly, as a C tool killed
  // by SIGPIPE would (node ignores SIGPIPE and reports EPIPE as an unhandled stream error).
  if (!brokenPipeHandled) {
    brokenPipeHandled = true;
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE') throw e;
        process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      });
    }
  }
  return {
    writeOut: (s) => void process.stdout.write(s),
    writeErr: (s) => void process.stderr.write(s),
  };
}
