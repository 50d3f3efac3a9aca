/**
 * @module cli/asm
 * `seccomp-ebpf asm FILE -o OUT`: assembles eBPF assembly text. OUT gets the raw instructions
 * (8-byte slots, little endian), or, when OUT ends in `.o`, a minimal BPF ELF object holding the
 * program in SEC("seccomp") (see ./elf-writer.ts). Both load with `run --filter`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { assemble, encodeInsns, SeccompEbpfError } from '../index.js';
import { writeBpfObject } from './elf-writer.js';
import type { CliIo } from './run.js';

export async function asmCommand(file: string, opts: { output: string }, _io: CliIo): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SeccompEbpfError('ERR_LOAD_READ', `cannot read the assembly: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { file }, { cause: e });
  }
  const insns = assemble(text, { file });
  if (insns.length === 0) throw new SeccompEbpfError('ERR_LOAD_EMPTY', 'the assembly has no instructions', { file });
  const name = basename(file).replace(/\..*$/, '').replace(/[^A-Za-z0-9_]/g, '_') || 'filter';
  const bytes = opts.output.endsWith('.o') ? writeBpfObject({ name, section: 'seccomp', insns }) : encodeInsns(insns);
  try {
    await writeFile(opts.output, bytes);
  } catch (e) {
    throw new SeccompEbpfError('ERR_OUTPUT_WRITE', `cannot write ${opts.output}: ${(e as Error).message}`, { file: opts.output }, { cause: e });
  }
  return 0;
}
