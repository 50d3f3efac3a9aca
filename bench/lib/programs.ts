/**
 * @module bench/lib/programs
 * The benchmark's native pieces, compiled with gcc through test/helpers/cprog (cached by
 * content): the getpid loops, the C user-notification supervisor, the classic-BPF launcher and
 * the in-process timing library. Also where the repository is, since every path the CLI gets is
 * relative to it.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { compileC } from '../../test/helpers/cprog.js';

/** The repository root (the CLI and the examples are addressed from here). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BenchPrograms {
  /** test/programs/getpid-loop.c: `N --time` prints ok=/eperm=/ns= for the loop only. */
  getpidLoop: string;
  /** bench/c/getpid-args.c: the same loop passing args[0] = 0, then 1 for the second half. */
  getpidArgs: string;
  /** bench/c/user-trap.c: the series' C supervisor (`N [--sync]`). */
  userTrap: string;
  /** bench/c/cbpf-run.c, static (so an LD_PRELOAD meant for CMD does not run in it). */
  cbpfRun: string;
  /** bench/c/stamp.c as a shared object, for LD_PRELOAD. */
  stamp: string;
}

let cached: BenchPrograms | undefined;

export function benchPrograms(): BenchPrograms {
  cached ??= {
    getpidLoop: compileC({ file: join(ROOT, 'test/programs/getpid-loop.c') }),
    getpidArgs: compileC({ file: join(ROOT, 'bench/c/getpid-args.c') }),
    userTrap: compileC({ file: join(ROOT, 'bench/c/user-trap.c') }),
    cbpfRun: compileC({ file: join(ROOT, 'bench/c/cbpf-run.c') }, { flags: ['-static'] }),
    stamp: compileC({ file: join(ROOT, 'bench/c/stamp.c') }, { flags: ['-shared', '-fPIC'] }),
  };
  return cached;
}

/** `node --import tsx src/cli/bin.ts run <opts> -- <cmd...>`, run from ROOT. */
export function cliRun(opts: readonly string[], cmd: readonly string[]): string[] {
  return [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/bin.ts'), 'run', ...opts, '--', ...cmd];
}
