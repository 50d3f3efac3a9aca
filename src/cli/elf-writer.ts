/**
 * @module cli/elf-writer
 * Writes a minimal BPF ELF object (ELF64, little endian, EM_BPF, ET_REL) around one program, so
 * that assembled code can be used wherever a clang-built object is expected:
 *
 *   [0] null  [1] <section> (the code)  [2] license ("GPL")  [3] .symtab  [4] .strtab  [5] .shstrtab
 *
 * Symbols: the program as a global FUNC covering its section, and LICENSE. No maps, no BTF, no
 * relocations: a program that references maps cannot be written this way.
 */
import { encodeInsns, SeccompEbpfError, type Insn } from '../index.js';

const EM_BPF = 247;
const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHF_WRITE = 1;
const SHF_ALLOC = 2;
const SHF_EXECINSTR = 4;
const STB_GLOBAL = 1;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const LDDW = 0x18;

class StrTab {
  private parts: string[] = [''];
  private size = 1;
  add(s: string): number {
    const off = this.size;
    this.parts.push(s);
    this.size += Buffer.byteLength(s) + 1;
    return off;
  }
  bytes(): Uint8Array {
    return Buffer.from(this.parts.join('\0') + '\0');
  }
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/** The ELF bytes. Throws ERR_ASM_MAP_REFERENCE when the program refers to maps. */
export function writeBpfObject(prog: { name: string; section: string; insns: Insn[] }, license = 'GPL'): Uint8Array {
  prog.insns.forEach((ins, i) => {
    if (ins.code === LDDW && ins.src !== 0 && ins.src !== 4) {
      throw new SeccompEbpfError('ERR_ASM_MAP_REFERENCE', 'a program that refers to maps cannot be written as an ELF object (write raw instructions instead)', { insn: i });
    }
  });
  const code = encodeInsns(prog.insns);
  const lic = Buffer.from(`${license}\0`);
  const shstr = new StrTab();
  const str = new StrTab();
  const names = [0, shstr.add(prog.section), shstr.add('license'), shstr.add('.symtab'), shstr.add('.strtab'), shstr.add('.shstrtab')];
  const progName = str.add(prog.name);
  const licName = str.add('LICENSE');

  // Symbols: null, LICENSE, the program (all globals after the null one).
  const symtab = new Uint8Array(24 * 3);
  const sv = new DataView(symtab.buffer);
  const sym = (i: number, name: number, info: number, shndx: number, size: number): void => {
    sv.setUint32(i * 24, name, true);
    sv.setUint8(i * 24 + 4, info);
    sv.setUint16(i * 24 + 6, shndx, true);
    sv.setBigUint64(i * 24 + 16, BigInt(size), true);
  };
  sym(1, licName, (STB_GLOBAL << 4) | STT_OBJECT, 2, lic.length);
  sym(2, progName, (STB_GLOBAL << 4) | STT_FUNC, 1, code.length);

  const datas = [code, lic, symtab, str.bytes(), shstr.bytes()];
  const offsets: number[] = [];
  let off = 64;
  for (const d of datas) {
    off = align(off, 8);
    offsets.push(off);
    off += d.length;
  }
  const shoff = align(off, 8);
  const out = new Uint8Array(shoff + 64 * 6);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  dv.setUint16(16, 1, true); // ET_REL
  dv.setUint16(18, EM_BPF, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(40, BigInt(shoff), true);
  dv.setUint16(52, 64, true); // e_ehsize
  dv.setUint16(58, 64, true); // e_shentsize
  dv.setUint16(60, 6, true); // e_shnum
  dv.setUint16(62, 5, true); // e_shstrndx
  datas.forEach((d, i) => out.set(d, offsets[i]!));

  const shdr = (i: number, type: number, flags: number, data: number, link: number, info: number, alignment: number, entsize: number): void => {
    const o = shoff + i * 64;
    dv.setUint32(o, names[i]!, true);
    dv.setUint32(o + 4, type, true);
    dv.setBigUint64(o + 8, BigInt(flags), true);
    dv.setBigUint64(o + 24, BigInt(offsets[data]!), true);
    dv.setBigUint64(o + 32, BigInt(datas[data]!.length), true);
    dv.setUint32(o + 40, link, true);
    dv.setUint32(o + 44, info, true);
    dv.setBigUint64(o + 48, BigInt(alignment), true);
    dv.setBigUint64(o + 56, BigInt(entsize), true);
  };
  shdr(1, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 0, 0, 0, 8, 0);
  shdr(2, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 1, 0, 0, 1, 0);
  shdr(3, SHT_SYMTAB, 0, 2, 4, 1, 8, 24);
  shdr(4, SHT_STRTAB, 0, 3, 0, 0, 1, 0);
  shdr(5, SHT_STRTAB, 0, 4, 0, 0, 1, 0);
  return out;
}
