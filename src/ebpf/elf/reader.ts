/**
 * @module ebpf/elf/reader
 * parseBpfObject: the bytes of a `clang -target bpf -O2 -g` object -> ObjectSpec, like libbpf's
 * bpf_object__open() followed by the relocation half of bpf_object__load().
 *
 * - Every executable section except `.text` is a program section; its global functions
 *   (STT_FUNC symbols) are programs, in section order then offset order (libbpf's order).
 *   Functions in `.text` and static functions in program sections are subprograms. (libbpf >= 1.0
 *   rejects static functions in program sections; we accept them as subprograms.)
 * - Maps: legacy `maps` definitions, then BTF-defined `.maps`, then one array map per
 *   global-data section in section order (libbpf 1.x order for the last two).
 * - License: the NUL-terminated string of the `license` section ("" when absent).
 * - `.BTF.ext` (func/line info, CO-RE relocations) is ignored: seccomp_data has a fixed layout,
 *   so compile-time offsets are already right.
 *
 * Pure and deterministic: no I/O, the input is not modified (section bytes are copied).
 */
import { SeccompEbpfError, type ErrorLocation } from '../../errors.js';
import { decodeInsns } from '../codec.js';
import type { Insn } from '../insn.js';
import { linkProgram, prepareUnit, type LinkUnit, type RelocTargets } from '../link.js';
import type { GlobalVariable, ObjectSpec, ProgramSpec } from '../object.js';
import { parseBtf, type Btf } from './btf.js';
import { isDataSection, readDataMap, readGlobals } from './data.js';
import {
  readElf, readRelocations, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_RELA, STB_LOCAL, STT_FUNC,
  type ElfFile, type ElfRelocation, type ElfSection,
} from './elf.js';
import { readBtfMaps, readLegacyMaps, type MapEntry } from './maps.js';

export interface ParseOptions {
  /** File name for error locations and ObjectSpec.file. */
  file?: string;
}

/** A function found in the object (for tools and tests: the unlinked view libbpf shows at open). */
export interface FunctionInfo {
  name: string;
  section: string;
  /** First instruction slot in the section. */
  start: number;
  /** Own instruction slots, before linking (libbpf's bpf_program__insn_cnt() after open). */
  insnCount: number;
  /** True for programs, false for subprograms. */
  program: boolean;
}

export interface ParsedObject {
  spec: ObjectSpec;
  functions: FunctionInfo[];
}

interface CodeSection {
  section: ElfSection;
  insns: Insn[];
  relocs: Map<number, ElfRelocation>;
  units: Map<number, LinkUnit>;
}

/**
 * Parses and links a BPF ELF object. Throws SeccompEbpfError: ERR_ELF_NOT_BPF, ERR_ELF_MALFORMED,
 * ERR_BTF_MALFORMED, ERR_ELF_MAP_DEF, ERR_ELF_RELOCATION, ERR_ELF_NO_PROGRAM.
 */
export function parseBpfObject(bytes: Uint8Array, opts: ParseOptions = {}): ObjectSpec {
  return parseBpfObjectParts(bytes, opts).spec;
}

/** parseBpfObject plus the list of functions before linking. */
export function parseBpfObjectParts(bytes: Uint8Array, opts: ParseOptions = {}): ParsedObject {
  const file = opts.file;
  const elf = readElf(bytes, file);
  const byName = (name: string): ElfSection | undefined => elf.sections.find((s) => s.name === name);

  const btfSec = byName('.BTF');
  const btf: Btf | undefined = btfSec ? parseBtf(btfSec.data, { file, section: '.BTF' }) : undefined;

  // Maps, in ObjectSpec order.
  const entries: MapEntry[] = [];
  const mapSections = new Set<number>();
  const legacy = byName('maps');
  if (legacy) {
    mapSections.add(legacy.index);
    entries.push(...readLegacyMaps(elf, legacy));
  }
  const btfMaps = byName('.maps');
  if (btfMaps) {
    mapSections.add(btfMaps.index);
    entries.push(...readBtfMaps(elf, btf, btfMaps));
  }
  const dataIndex = new Map<number, number>();
  const globals: GlobalVariable[] = [];
  for (const s of elf.sections) {
    if (!isDataSection(s)) continue;
    const entry = readDataMap(elf, btf, s);
    dataIndex.set(s.index, entries.length);
    globals.push(...readGlobals(elf, btf, s, entries.length));
    entries.push(entry);
  }

  const code = readCode(elf);
  const targets: RelocTargets = {
    mapSections,
    mapAt: (section, offset) => {
      const i = entries.findIndex((e) => e.section === section && e.offset === offset && mapSections.has(section));
      return i < 0 ? undefined : i;
    },
    dataMap: (section) => {
      const index = dataIndex.get(section);
      return index === undefined ? undefined : { index, size: entries[index]!.size };
    },
    codeSections: new Set(code.keys()),
  };

  const functions: FunctionInfo[] = [];
  const mains: LinkUnit[] = [];
  for (const cs of code.values()) {
    const isText = cs.section.name === '.text';
    for (const fn of functionSymbols(elf, cs.section)) {
      const unit = prepareUnit(elf, fn.name, cs.section, fn.start, fn.count, cs.insns, cs.relocs, targets);
      cs.units.set(fn.start, unit);
      const program = !isText && fn.bind !== STB_LOCAL;
      functions.push({ name: fn.name, section: cs.section.name, start: fn.start, insnCount: fn.count, program });
      if (program) mains.push(unit);
    }
  }
  if (mains.length === 0) {
    throw new SeccompEbpfError('ERR_ELF_NO_PROGRAM', 'no program: no global function in an executable section other than .text', { file });
  }
  const find = (section: number, insn: number): LinkUnit | undefined => code.get(section)?.units.get(insn);
  const programs: ProgramSpec[] = mains.map((u) => ({ name: u.name, section: u.section.name, insns: linkProgram(u, find, file, (i) => elf.sections[i]?.name ?? `#${i}`) }));

  const spec: ObjectSpec = { license: readLicense(byName('license')), programs, maps: entries.map((e) => e.spec), globals };
  if (file !== undefined) spec.file = file;
  return { spec, functions };
}

function readLicense(sec: ElfSection | undefined): string {
  if (!sec || sec.type === SHT_NOBITS) return '';
  const end = sec.data.indexOf(0);
  return new TextDecoder('utf-8').decode(end < 0 ? sec.data : sec.data.subarray(0, end));
}

/** Executable sections (in section order) with their decoded instructions and relocations. */
function readCode(elf: ElfFile): Map<number, CodeSection> {
  const code = new Map<number, CodeSection>();
  for (const s of elf.sections) {
    if (s.type !== SHT_PROGBITS || (s.flags & SHF_EXECINSTR) === 0 || s.size === 0) continue;
    if (s.size % 8 !== 0) {
      throw new SeccompEbpfError('ERR_ELF_MALFORMED', `code section size ${s.size} is not a multiple of 8`, { file: elf.file, section: s.name, offset: s.size });
    }
    code.set(s.index, { section: s, insns: decodeInsns(s.data), relocs: new Map(), units: new Map() });
  }
  for (const rs of elf.sections) {
    if (rs.type !== SHT_REL && rs.type !== SHT_RELA) continue;
    const cs = code.get(rs.info);
    if (!cs) continue; // relocations of .BTF, .BTF.ext, debug info: not needed
    const rels = readRelocations(elf, rs);
    rels.forEach((r, n) => {
      const where: ErrorLocation = { file: elf.file, section: rs.name, offset: n * (rs.type === SHT_RELA ? 24 : 16) };
      if (r.offset % 8 !== 0 || r.offset >= cs.section.size) {
        throw new SeccompEbpfError('ERR_ELF_RELOCATION', `relocation at byte ${r.offset} of '${cs.section.name}' is not at an instruction`, where);
      }
      const slot = r.offset / 8;
      if (cs.relocs.has(slot)) {
        throw new SeccompEbpfError('ERR_ELF_RELOCATION', `two relocations for instruction ${slot} of '${cs.section.name}'`, where);
      }
      cs.relocs.set(slot, r);
    });
  }
  return code;
}

interface FunctionSymbol { name: string; start: number; count: number; bind: number }

/** STT_FUNC symbols of a code section, sorted, bounds- and overlap-checked. */
function functionSymbols(elf: ElfFile, sec: ElfSection): FunctionSymbol[] {
  const syms = elf.symbols.filter((s) => s.shndx === sec.index && s.type === STT_FUNC && s.size > 0)
    .sort((a, b) => a.value - b.value);
  const out: FunctionSymbol[] = [];
  let end = 0;
  for (const s of syms) {
    const where: ErrorLocation = { file: elf.file, section: sec.name, offset: s.value };
    if (s.value % 8 !== 0 || s.size % 8 !== 0 || s.value > sec.size || s.size > sec.size - s.value) {
      throw new SeccompEbpfError('ERR_ELF_MALFORMED', `function '${s.name}' [${s.value}, +${s.size}) is not a whole number of instructions inside the section`, where);
    }
    if (s.value < end) throw new SeccompEbpfError('ERR_ELF_MALFORMED', `function '${s.name}' overlaps the previous function`, where);
    if (s.name === '') throw new SeccompEbpfError('ERR_ELF_MALFORMED', 'unnamed function symbol', where);
    end = s.value + s.size;
    out.push({ name: s.name, start: s.value / 8, count: s.size / 8, bind: s.bind });
  }
  return out;
}

/**
 * The program to run: by function name, else by section name (the first program of that
 * section); without an argument the first program in a "seccomp*" section, else the only one.
 * Throws ERR_ELF_PROGRAM_NOT_FOUND, ERR_ELF_NO_PROGRAM.
 */
export function findProgram(spec: ObjectSpec, nameOrSection?: string): ProgramSpec {
  const where: ErrorLocation = spec.file !== undefined ? { file: spec.file } : {};
  if (spec.programs.length === 0) throw new SeccompEbpfError('ERR_ELF_NO_PROGRAM', 'the object has no program', where);
  const list = (): string => spec.programs.map((p) => `${p.name} (${p.section})`).join(', ');
  if (nameOrSection !== undefined) {
    const p = spec.programs.find((q) => q.name === nameOrSection) ?? spec.programs.find((q) => q.section === nameOrSection);
    if (!p) throw new SeccompEbpfError('ERR_ELF_PROGRAM_NOT_FOUND', `no program or section named '${nameOrSection}'; programs: ${list()}`, where);
    return p;
  }
  const seccomp = spec.programs.find((q) => q.section.startsWith('seccomp'));
  if (seccomp) return seccomp;
  if (spec.programs.length === 1) return spec.programs[0]!;
  throw new SeccompEbpfError('ERR_ELF_PROGRAM_NOT_FOUND', `no SEC("seccomp") program and several others; name one of: ${list()}`, where);
}
