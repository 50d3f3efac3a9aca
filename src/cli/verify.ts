/**
 * @module cli/verify
 * `seccomp-ebpf verify FILE [--program NAME] [--log] [--as-unprivileged] [--caps LIST] [--lsm P]`:
 * runs the verifier under the series' privilege model and prints the verdict; with --log, the
 * verifier log (every processed instruction and its register state). Exit 0 when accepted, 1
 * when rejected.
 */
import { loadFilter, SeccompEbpfError, VerifierError } from '../index.js';
import { helperGrant } from '../ebpf/verifier/load.js';
import { loaderChoice, type LoaderCliOptions } from './loader.js';
import type { CliIo } from './run.js';

export interface VerifyOptions extends LoaderCliOptions {
  program?: string;
  log?: boolean;
}

export async function verifyCommand(file: string, opts: VerifyOptions, io: CliIo): Promise<number> {
  const loader = loaderChoice(opts);
  for (const n of loader.notes) io.writeErr(`seccomp-ebpf: note: ${n}\n`);
  try {
    const filter = await loadFilter(file, { ...loader.options, ...(opts.program !== undefined ? { program: opts.program } : {}), logLevel: opts.log ? 2 : 1 });
    const v = filter.verified;
    if (opts.log) io.writeOut(v.log.endsWith('\n') ? v.log : `${v.log}\n`);
    io.writeOut(`${file}: ${filter.program.name}: accepted for ${loader.describe}\n`
      + `  ${v.insns.length} instructions, ${v.stats.insnsProcessed} processed, ${v.stats.states} states, stack ${v.stats.maxStackDepth} bytes\n`
      + `  ${v.restricted ? 'restricted mode (the LSM hook denied extended features): no helpers, no map values' : `helpers granted: ${v.helperIds.size}`}; probe_read_user: ${v.probeReadUser} variant\n`);
    try {
      helperGrant(v);
    } catch (e) {
      if (!(e instanceof SeccompEbpfError)) throw e;
      io.writeOut(`  note: \`run\` refuses it: ${e.message}\n`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    if (opts.log && e.log) io.writeOut(e.log.endsWith('\n') ? e.log : `${e.log}\n`);
    io.writeErr(`seccomp-ebpf: error[${e.code}]: ${file}: rejected for ${loader.describe} at insn ${e.insn}: ${e.rule}\n`
      + (e.state ? `  state: ${e.state}\n` : ''));
    return 1;
  }
}
