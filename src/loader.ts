/**
 * @module loader
 * Turns a filter source into an ObjectSpec and picks the program to run. Three inputs:
 *
 *   - a clang-built BPF ELF object (magic 0x7f 'E' 'L' 'F'): maps, globals, BTF, subprograms;
 *   - eBPF assembly text (the disassembler's syntax, see ebpf/asm): one program, no maps;
 *   - raw instructions (8-byte slots, as `seccomp-ebpf asm -o FILE` writes): one program.
 *
 * Raw bytes are told from text by content: text is valid UTF-8 without NUL bytes.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { assemble } from './ebpf/asm.js';
import { decodeInsns } from './ebpf/codec.js';
import { findProgram, parseBpfObject } from './ebpf/elf/index.js';
import type { ObjectSpec, ProgramSpec } from './ebpf/object.js';
import { SeccompEbpfError } from './errors.js';

export type SourceKind = 'elf' | 'asm' | 'raw';

export interface LoadedSource {
  kind: SourceKind;
  spec: ObjectSpec;
  program: ProgramSpec;
}

export interface SourceOptions {
  /** File name for messages (and ObjectSpec.file). */
  file?: string;
  /** Program to run: function name or section name (ELF); default: the SEC("seccomp") one. */
  program?: string;
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** What kind of source `bytes` holds. */
export function sourceKind(bytes: Uint8Array): SourceKind {
  if (bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b)) return 'elf';
  if (bytes.includes(0)) return 'raw';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return 'asm';
  } catch {
    return 'raw';
  }
}

/** The program name of a single-program source: the file name without extensions. */
function programName(file: string | undefined): string {
  const base = file ? basename(file).replace(/\..*$/, '') : '';
  return base || 'filter';
}

function singleProgram(file: string | undefined, insns: ProgramSpec['insns']): ObjectSpec {
  const spec: ObjectSpec = { license: 'GPL', programs: [{ name: programName(file), section: 'seccomp', insns }], maps: [], globals: [] };
  if (file !== undefined) spec.file = file;
  return spec;
}

/**
 * Parses a filter source. Throws the parsers' errors (ERR_ELF_*, ERR_BTF_*, ERR_ASM_*,
 * ERR_INSN_TRUNCATED), ERR_ELF_PROGRAM_NOT_FOUND for an unknown program name, and
 * ERR_LOAD_EMPTY for an empty input.
 */
export function parseFilterSource(bytes: Uint8Array, opts: SourceOptions = {}): LoadedSource {
  const where = opts.file !== undefined ? { file: opts.file } : undefined;
  if (bytes.length === 0) throw new SeccompEbpfError('ERR_LOAD_EMPTY', 'the filter source is empty', where);
  const kind = sourceKind(bytes);
  let spec: ObjectSpec;
  if (kind === 'elf') {
    spec = parseBpfObject(bytes, opts.file !== undefined ? { file: opts.file } : {});
  } else {
    const insns = kind === 'asm' ? assembleSource(bytes, opts.file) : decodeInsns(bytes, where);
    if (insns.length === 0) throw new SeccompEbpfError('ERR_LOAD_EMPTY', 'the filter source has no instructions', where);
    spec = singleProgram(opts.file, insns);
  }
  return { kind, spec, program: findProgram(spec, opts.program) };
}

/** Assembles a text source. A syntax error on the first lines usually means the file is not
 *  assembly at all (C source, a README): say how it was read. */
function assembleSource(bytes: Uint8Array, file: string | undefined): ProgramSpec['insns'] {
  try {
    return assemble(new TextDecoder().decode(bytes), file !== undefined ? { file } : {});
  } catch (e) {
    if (e instanceof SeccompEbpfError && e.code === 'ERR_ASM_SYNTAX' && (e.location?.line ?? 0) <= 3) {
      throw new SeccompEbpfError(e.code, `${e.message.replace(/ \(.*\)$/, '')}; the file is not an ELF object, so it was read as eBPF assembly text`, e.location, { cause: e });
    }
    throw e;
  }
}

/** Reads and parses a filter source file. ERR_LOAD_READ when the file cannot be read. */
export async function readFilterSource(path: string, opts: Omit<SourceOptions, 'file'> = {}): Promise<LoadedSource> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new SeccompEbpfError('ERR_LOAD_READ', `cannot read the filter: ${why}`, { file: path }, { cause: e });
  }
  return parseFilterSource(bytes, { ...opts, file: path });
}
