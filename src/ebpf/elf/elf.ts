/**
 * @module ebpf/elf/elf
 * A small, bounds-checked reader for the ELF64 relocatable objects that `clang -target bpf`
 * writes (little-endian, e_machine EM_BPF = 247, e_type ET_REL): section headers, the symbol
 * table and REL/RELA relocation sections. Layouts follow include/uapi/linux/elf.h.
 *
 *   ELF header (64 bytes)        section header (64 bytes)          symbol (24 bytes)
 *   0  e_ident[16]               0  sh_name u32   4 sh_type u32      0  st_name u32
 *   16 e_type u16  e_machine u16 8  sh_flags u64 16 sh_addr u64      4  st_info u8 (bind<<4|type)
 *   20 e_version u32             24 sh_offset u64 32 sh_size u64     5  st_other u8 (visibility)
 *   24 e_entry  32 e_phoff       40 sh_link u32  44 sh_info u32      6  st_shndx u16
 *   40 e_shoff u64 ...           48 sh_addralign 56 sh_entsize       8  st_value u64 16 st_size u64
 *   58 e_shentsize 60 e_shnum 62 e_shstrndx
 *
 * Every offset and size read from the file is checked before use; violations throw
 * SeccompEbpfError ERR_ELF_MALFORMED naming the section and the byte offset.
 */
import { SeccompEbpfError, type ErrorLocation } from '../../errors.js';

export const EM_BPF = 247;
export const ET_REL = 1;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_XINDEX = 0xffff;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  /** File offset and size; for SHT_NOBITS `data` is empty and `size` is the memory size. */
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
  /** The section's bytes (a view into the input; copy before mutating). */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  /** st_value (a section offset in relocatable objects). Huge values lose precision; every use is bounds-checked. */
  value: number;
  size: number;
  type: number;
  bind: number;
  visibility: number;
  /** Section index, or SHN_UNDEF / a reserved index (>= SHN_LORESERVE). */
  shndx: number;
}

export interface ElfRelocation {
  /** Byte offset in the target section. */
  offset: number;
  type: number;
  symbol: number;
  /** Explicit addend (RELA) or undefined (REL: the addend is in the relocated field). */
  addend: number | undefined;
}

export interface ElfFile {
  file: string | undefined;
  sections: ElfSection[];
  symbols: ElfSymbol[];
  symtab: ElfSection;
}

const utf8 = new TextDecoder('utf-8');

function malformed(msg: string, where: ErrorLocation): SeccompEbpfError {
  return new SeccompEbpfError('ERR_ELF_MALFORMED', msg, where);
}

/** u64 as a JS number (exact below 2^53, which covers every valid offset in a file we can hold). */
function u64(dv: DataView, off: number): number {
  return Number(dv.getBigUint64(off, true));
}

/** Reads the NUL-terminated string at `off` of a string table section. */
export function cString(table: Uint8Array, off: number, where: ErrorLocation): string {
  if (!Number.isInteger(off) || off < 0 || off >= table.length) {
    throw malformed(`string offset ${off} outside string table of ${table.length} bytes`, where);
  }
  const end = table.indexOf(0, off);
  if (end < 0) throw malformed(`string at offset ${off} is not NUL-terminated`, where);
  return utf8.decode(table.subarray(off, end));
}

/**
 * Parses the ELF header, section headers and the symbol table.
 * Throws ERR_ELF_NOT_BPF (not ELF, not ELF64 little-endian, not ET_REL, e_machine != EM_BPF)
 * and ERR_ELF_MALFORMED (anything out of bounds or inconsistent).
 */
export function readElf(bytes: Uint8Array, file?: string): ElfFile {
  const at = (offset: number, section?: string): ErrorLocation => ({ file, section, offset });
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new SeccompEbpfError('ERR_ELF_NOT_BPF', 'not an ELF file (bad magic)', at(0));
  }
  if (bytes.length < EHDR_SIZE) throw malformed(`truncated ELF header (${bytes.length} bytes)`, at(0));
  if (bytes[4] !== 2) throw new SeccompEbpfError('ERR_ELF_NOT_BPF', `not an ELF64 object (EI_CLASS ${bytes[4]})`, at(4));
  if (bytes[5] !== 1) {
    throw new SeccompEbpfError('ERR_ELF_NOT_BPF', `not a little-endian object (EI_DATA ${bytes[5]}); build with -target bpf or bpfel`, at(5));
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eType = dv.getUint16(16, true);
  const eMachine = dv.getUint16(18, true);
  if (eMachine !== EM_BPF) throw new SeccompEbpfError('ERR_ELF_NOT_BPF', `e_machine is ${eMachine}, not EM_BPF (${EM_BPF})`, at(18));
  if (eType !== ET_REL) throw new SeccompEbpfError('ERR_ELF_NOT_BPF', `e_type is ${eType}, not a relocatable object (ET_REL)`, at(16));

  const shoff = u64(dv, 40);
  const shentsize = dv.getUint16(58, true);
  let shnum = dv.getUint16(60, true);
  let shstrndx = dv.getUint16(62, true);
  if (shoff === 0) throw malformed('no section header table', at(40));
  if (shentsize !== SHDR_SIZE) throw malformed(`e_shentsize ${shentsize}, expected ${SHDR_SIZE}`, at(58));
  if (shoff + SHDR_SIZE > bytes.length) throw malformed(`section header table at ${shoff} outside the file`, at(40));
  // Extended numbering: the real counts live in section header 0.
  if (shnum === 0) shnum = u64(dv, shoff + 32);
  if (shstrndx === SHN_XINDEX) shstrndx = dv.getUint32(shoff + 40, true);
  if (shnum > (bytes.length - shoff) / SHDR_SIZE) throw malformed(`${shnum} section headers do not fit in the file`, at(shoff));

  const raw: Omit<ElfSection, 'name'>[] = [];
  const nameOffs: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * SHDR_SIZE;
    const type = dv.getUint32(h + 4, true);
    const offset = u64(dv, h + 24);
    const size = u64(dv, h + 32);
    let data: Uint8Array = new Uint8Array(0);
    if (type !== SHT_NOBITS && type !== SHT_NULL) {
      if (offset > bytes.length || size > bytes.length - offset) {
        throw malformed(`section #${i} data [${offset}, +${size}) outside the file`, at(h + 24));
      }
      data = bytes.subarray(offset, offset + size);
    }
    nameOffs.push(dv.getUint32(h, true));
    raw.push({
      index: i, type, flags: Number(dv.getBigUint64(h + 8, true) & 0xffffffffn), offset, size,
      link: dv.getUint32(h + 40, true), info: dv.getUint32(h + 44, true), entsize: u64(dv, h + 56), data,
    });
  }
  if (shstrndx === 0 || shstrndx >= raw.length || raw[shstrndx]!.type !== SHT_STRTAB) {
    throw malformed(`e_shstrndx ${shstrndx} is not a string table`, at(62));
  }
  const shstr = raw[shstrndx]!.data;
  const sections: ElfSection[] = raw.map((s, i) => ({
    ...s, name: i === 0 ? '' : cString(shstr, nameOffs[i]!, at(shoff + i * SHDR_SIZE, `#${i}`)),
  }));

  const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length !== 1) {
    throw malformed(symtabs.length === 0 ? 'no symbol table (stripped object?)' : 'more than one symbol table', at(shoff));
  }
  const symtab = symtabs[0]!;
  return { file, sections, symbols: readSymbols(sections, symtab, file), symtab };
}

function readSymbols(sections: ElfSection[], symtab: ElfSection, file: string | undefined): ElfSymbol[] {
  const where = (offset: number): ErrorLocation => ({ file, section: symtab.name, offset });
  if (symtab.size % SYM_SIZE !== 0) throw malformed(`symbol table size ${symtab.size} is not a multiple of ${SYM_SIZE}`, where(0));
  const strtab = sections[symtab.link];
  if (!strtab || strtab.type !== SHT_STRTAB || symtab.link === 0) {
    throw malformed(`symbol table links to section ${symtab.link}, not a string table`, where(0));
  }
  const d = symtab.data;
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: ElfSymbol[] = [];
  for (let i = 0; i < d.length / SYM_SIZE; i++) {
    const o = i * SYM_SIZE;
    const info = dv.getUint8(o + 4);
    out.push({
      index: i,
      name: cString(strtab.data, dv.getUint32(o, true), where(o)),
      type: info & 0xf,
      bind: info >> 4,
      visibility: dv.getUint8(o + 5) & 0x3,
      shndx: dv.getUint16(o + 6, true),
      value: u64(dv, o + 8),
      size: u64(dv, o + 16),
    });
  }
  return out;
}

/** Relocations of a SHT_REL or SHT_RELA section, bounds-checked against its symbol table. */
export function readRelocations(elf: ElfFile, rel: ElfSection): ElfRelocation[] {
  const isRela = rel.type === SHT_RELA;
  const entSize = isRela ? RELA_SIZE : REL_SIZE;
  const where = (offset: number): ErrorLocation => ({ file: elf.file, section: rel.name, offset });
  if (rel.size % entSize !== 0) throw malformed(`relocation section size ${rel.size} is not a multiple of ${entSize}`, where(0));
  if (rel.link !== elf.symtab.index) throw malformed(`relocation section links to section ${rel.link}, not the symbol table`, where(0));
  const d = rel.data;
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: ElfRelocation[] = [];
  for (let o = 0; o < d.length; o += entSize) {
    const info = dv.getBigUint64(o + 8, true);
    const symbol = Number(info >> 32n);
    if (symbol >= elf.symbols.length) throw malformed(`relocation refers to symbol ${symbol} of ${elf.symbols.length}`, where(o));
    out.push({
      offset: u64(dv, o),
      type: Number(info & 0xffffffffn),
      symbol,
      addend: isRela ? Number(dv.getBigInt64(o + 16, true)) : undefined,
    });
  }
  return out;
}
