/**
 * @module ebpf/link
 * Relocation and linking of the functions of a BPF object, following libbpf
 * (bpf_program__record_reloc, bpf_object__relocate_data, bpf_object__reloc_code):
 *
 * 1. prepareUnit(): applies a function's relocations to a copy of its instructions.
 *    - lddw (R_BPF_64_64) against a map definition in `.maps`/`maps` -> src = BPF_PSEUDO_MAP_FD,
 *      imm = map index;
 *    - lddw against a global-data section -> src = BPF_PSEUDO_MAP_VALUE, imm = map index, second
 *      slot imm = offset = symbol value + addend (REL: the addend is the lddw's own imm, so a
 *      section-symbol reference carries the offset in imm and a named-symbol one in st_value);
 *    - lddw against a function -> src = BPF_PSEUDO_FUNC (callback address), linked like a call;
 *    - call (R_BPF_64_32, src = BPF_PSEUDO_CALL) -> target byte = symbol value + addend, where the
 *      REL addend is (imm + 1) * 8 (global functions: imm = -1; static ones: section symbol and
 *      imm = target/8 - 1); calls without a relocation target pc + imm + 1 in the same section.
 * 2. linkProgram(): appends every function a program (transitively) calls after the program's
 *    own instructions, depth first in instruction order as libbpf does, each function once per
 *    program, and sets each call's imm = callee start - (pc + 1).
 *
 * Errors: ERR_ELF_RELOCATION (unsupported or inconsistent relocation, naming section and
 * offset), ERR_ELF_MALFORMED.
 */
import { SeccompEbpfError, type ErrorLocation } from '../errors.js';
import {
  BPF_CALL, BPF_DW, BPF_IMM, BPF_JMP, BPF_LD, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
} from '../abi/bpf.js';
import type { Insn } from './insn.js';
import { SHN_LORESERVE, SHN_UNDEF, STT_SECTION, type ElfFile, type ElfRelocation, type ElfSection } from './elf/elf.js';

export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_32 = 10;

/** The kernel's BPF_COMPLEXITY_LIMIT_INSNS: no linked program may be longer. */
export const MAX_LINKED_INSNS = 1_000_000;

const CALL = BPF_JMP | BPF_CALL;
const LDDW = BPF_LD | BPF_IMM | BPF_DW;

/** A reference from slot `at` of a unit to the function starting at `insn` of section `section`. */
export interface CodeRef {
  at: number;
  section: number;
  insn: number;
}

/** One function (program or subprogram) with its data relocations applied. */
export interface LinkUnit {
  name: string;
  section: ElfSection;
  /** First slot in the section. */
  start: number;
  insns: Insn[];
  /** Calls and function-address lddws, in instruction order. */
  refs: CodeRef[];
}

/** What relocations can point at. */
export interface RelocTargets {
  /** Sections holding map definitions (`.maps`, `maps`). */
  mapSections: ReadonlySet<number>;
  /** Index into ObjectSpec.maps of the map defined at (section, offset). */
  mapAt(section: number, offset: number): number | undefined;
  /** The global-data map of a section. */
  dataMap(section: number): { index: number; size: number } | undefined;
  /** Sections holding code (program sections and .text). */
  codeSections: ReadonlySet<number>;
}

function relocError(msg: string, where: ErrorLocation): SeccompEbpfError {
  return new SeccompEbpfError('ERR_ELF_RELOCATION', msg, where);
}

/**
 * Copies `count` slots of `sectionInsns` from `start` and applies the relocations found in
 * `relocs` (keyed by slot index in the section).
 */
export function prepareUnit(
  elf: ElfFile, name: string, section: ElfSection, start: number, count: number,
  sectionInsns: readonly Insn[], relocs: ReadonlyMap<number, ElfRelocation>, targets: RelocTargets,
): LinkUnit {
  const insns = sectionInsns.slice(start, start + count).map((i) => ({ ...i }));
  const refs: CodeRef[] = [];
  for (let i = 0; i < count; i++) {
    const ins = insns[i]!;
    const slot = start + i;
    const where: ErrorLocation = { file: elf.file, section: section.name, offset: slot * 8, insn: slot };
    const rel = relocs.get(slot);
    if (rel && rel.type !== R_BPF_NONE) {
      applyRelocation(elf, rel, insns, i, where, targets, refs);
    } else if (ins.code === CALL && ins.src === BPF_PSEUDO_CALL) {
      refs.push({ at: i, section: section.index, insn: slot + ins.imm + 1 });
    } else if (ins.code === LDDW && ins.src === BPF_PSEUDO_FUNC) {
      throw relocError(`function-address lddw in '${name}' has no relocation`, where);
    }
  }
  return { name, section, start, insns, refs };
}

function applyRelocation(
  elf: ElfFile, rel: ElfRelocation, insns: Insn[], i: number, where: ErrorLocation,
  targets: RelocTargets, refs: CodeRef[],
): void {
  const ins = insns[i]!;
  const sym = elf.symbols[rel.symbol]!;
  // Section symbols have no name of their own; objdump shows the section's.
  const symName = sym.type === STT_SECTION ? (elf.sections[sym.shndx]?.name ?? `#${sym.index}`) : sym.name || `#${sym.index}`;
  if (sym.shndx === SHN_UNDEF) {
    throw relocError(`relocation against undefined symbol '${symName}' (extern, __kconfig or __ksym variables are not supported)`, where);
  }
  if (sym.shndx >= SHN_LORESERVE) {
    throw relocError(`relocation against '${symName}' in special section 0x${sym.shndx.toString(16)} (an uninitialised global? initialise it)`, where);
  }
  const target = elf.sections[sym.shndx];
  if (!target) throw new SeccompEbpfError('ERR_ELF_MALFORMED', `symbol '${symName}' is in section ${sym.shndx}, which does not exist`, where);

  if (ins.code === CALL) {
    if (rel.type !== R_BPF_64_32) throw relocError(`call relocated with type ${rel.type}, expected R_BPF_64_32`, where);
    if (ins.src !== BPF_PSEUDO_CALL) {
      throw relocError(`relocated call to '${symName}' is not a bpf-to-bpf call (src ${ins.src}; kfuncs are not supported)`, where);
    }
    if (!targets.codeSections.has(sym.shndx)) throw relocError(`call to '${symName}' in non-code section '${target.name}'`, where);
    const byte = sym.value + (rel.addend ?? (ins.imm + 1) * 8);
    if (!Number.isSafeInteger(byte) || byte < 0 || byte % 8 !== 0) {
      throw relocError(`call to '${symName}' targets byte ${byte} of '${target.name}', not an instruction`, where);
    }
    refs.push({ at: i, section: sym.shndx, insn: byte / 8 });
    return;
  }
  if (ins.code !== LDDW) {
    throw relocError(`relocation against '${symName}' on opcode 0x${ins.code.toString(16)} (only call and lddw can be relocated)`, where);
  }
  if (rel.type !== R_BPF_64_64) throw relocError(`lddw relocated with type ${rel.type}, expected R_BPF_64_64`, where);
  const hi = insns[i + 1];
  if (!hi) throw new SeccompEbpfError('ERR_ELF_MALFORMED', 'lddw is missing its second slot', where);
  const off = sym.value + (rel.addend ?? ins.imm);

  if (targets.codeSections.has(sym.shndx)) {
    if (!Number.isSafeInteger(off) || off < 0 || off % 8 !== 0) {
      throw relocError(`address of '${symName}' is byte ${off} of '${target.name}', not an instruction`, where);
    }
    ins.src = BPF_PSEUDO_FUNC;
    refs.push({ at: i, section: sym.shndx, insn: off / 8 });
    return;
  }
  if (targets.mapSections.has(sym.shndx)) {
    const index = targets.mapAt(sym.shndx, off);
    if (index === undefined) throw relocError(`no map is defined at offset ${off} of '${target.name}' (symbol '${symName}')`, where);
    ins.src = BPF_PSEUDO_MAP_FD;
    ins.imm = index;
    return;
  }
  const data = targets.dataMap(sym.shndx);
  if (data) {
    if (!Number.isSafeInteger(off) || off < 0 || off > data.size || off > 0x7fffffff) {
      throw relocError(`reference to '${symName}' at offset ${off} is outside '${target.name}' (${data.size} bytes)`, where);
    }
    ins.src = BPF_PSEUDO_MAP_VALUE;
    ins.imm = data.index;
    hi.imm = off;
    return;
  }
  throw relocError(`lddw relocated against '${symName}' in section '${target.name}', which holds neither maps nor global data`, where);
}

/**
 * Links one program: its own instructions followed by every function it reaches through calls
 * and function-address lddws. `find` returns the function starting exactly at a section slot.
 */
export function linkProgram(
  main: LinkUnit, find: (section: number, insn: number) => LinkUnit | undefined, file?: string, sectionName?: (index: number) => string,
): Insn[] {
  const out: Insn[] = main.insns.map((i) => ({ ...i }));
  const placed = new Map<LinkUnit, number>([[main, 0]]);
  // Explicit stack: deep call chains in a hostile file must not overflow the JS stack.
  const stack: { unit: LinkUnit; base: number; next: number }[] = [{ unit: main, base: 0, next: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const ref = frame.unit.refs[frame.next];
    if (!ref) {
      stack.pop();
      continue;
    }
    frame.next++;
    const target = find(ref.section, ref.insn);
    if (!target) {
      const slot = frame.unit.start + ref.at;
      const secName = sectionName?.(ref.section) ?? `#${ref.section}`;
      throw relocError(`'${frame.unit.name}' calls instruction ${ref.insn} of section '${secName}', where no function starts`,
        { file, section: frame.unit.section.name, offset: slot * 8, insn: slot });
    }
    let off = placed.get(target);
    const isNew = off === undefined;
    if (off === undefined) {
      off = out.length;
      if (off + target.insns.length > MAX_LINKED_INSNS) {
        throw new SeccompEbpfError('ERR_ELF_MALFORMED', `program '${main.name}' exceeds ${MAX_LINKED_INSNS} instructions once linked`,
          { file, section: main.section.name });
      }
      placed.set(target, off);
      for (const ins of target.insns) out.push({ ...ins });
    }
    const pc = frame.base + ref.at;
    out[pc]!.imm = off - (pc + 1);
    if (isNew) stack.push({ unit: target, base: off, next: 0 });
  }
  return out;
}
