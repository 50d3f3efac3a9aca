/**
 * @module cli/disasm
 * `seccomp-ebpf disasm FILE [--program NAME]`: the disassembly of each program of an ELF object,
 * assembly text or raw instruction file, in llvm-objdump's layout (section and function
 * headers, slot index, raw bytes, instruction), followed by the maps and global variables the
 * `map[N]` / `map_value[N]` operands refer to. Programs are shown linked: subprograms a
 * program calls are appended to it, as the runtime executes them.
 */
import { disassemble, findProgram, mapTypeName, readFilterSource, type ObjectSpec, type ProgramSpec } from '../index.js';
import type { CliIo } from './run.js';

const FORMAT: Record<string, string> = { elf: 'elf64-bpf', asm: 'eBPF assembly', raw: 'raw eBPF instructions' };

export async function disasmCommand(file: string, opts: { program?: string }, io: CliIo): Promise<number> {
  const loaded = await readFilterSource(file, opts.program !== undefined ? { program: opts.program } : {});
  const { spec } = loaded;
  const programs: ProgramSpec[] = opts.program !== undefined ? [findProgram(spec, opts.program)] : spec.programs;
  let out = `${file}:\tfile format ${FORMAT[loaded.kind]}\n`;
  let section: string | undefined;
  for (const p of programs) {
    if (p.section !== section) {
      section = p.section;
      out += `\nDisassembly of section ${p.section}:\n`;
    }
    out += `\n${'0'.repeat(16)} <${p.name}>:\n`;
    out += disassemble(p.insns, { index: true, bytes: true });
  }
  out += describeMaps(spec);
  io.writeOut(out);
  return 0;
}

function describeMaps(spec: ObjectSpec): string {
  if (spec.maps.length === 0) return '';
  let out = '\nMaps:\n';
  spec.maps.forEach((m, i) => {
    const types = m.keyType !== undefined ? ` (${m.keyType ?? '?'} -> ${m.valueType ?? '?'})` : '';
    const flags = m.flags ? `, flags 0x${m.flags.toString(16)}` : '';
    out += `  map[${i}] ${m.name}: ${mapTypeName(m.type)}, key ${m.keySize}, value ${m.valueSize}, max_entries ${m.maxEntries}${flags}${types}\n`;
    for (const g of spec.globals.filter((v) => v.mapIndex === i)) {
      out += `    +${g.offset} ${g.name}: ${g.type ?? 'untyped'}, ${g.size} byte${g.size === 1 ? '' : 's'}${g.readOnly ? ', const' : ''}\n`;
    }
  });
  return out;
}
