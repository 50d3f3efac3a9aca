/**
 * @module ebpf/elf/data
 * Global-data sections (`.data`, `.data.*`, `.rodata`, `.rodata.*` incl. string literals such as
 * `.rodata.str1.1`, and `.bss`) become one-element BPF_MAP_TYPE_ARRAY maps, and their variables
 * become ObjectSpec.globals, as libbpf's internal maps and skeleton globals.
 *
 * Sections larger than the kernel's map value limit (4 MiB) are refused with ERR_ELF_MAP_DEF.
 *
 * Differences from libbpf (bpf_object__init_internal_map):
 * - the map is named after the section (".data", ".rodata.str1.1") where libbpf prefixes the
 *   object name for the three classic sections ("prog.data", truncated to 15 characters);
 * - everything else matches: key 4 bytes, value = section size, max_entries 1,
 *   BPF_F_RDONLY_PROG for .rodata*, BPF_F_MMAPABLE when the section's DATASEC has a
 *   non-static variable, initial value = section bytes (zeros for .bss).
 */
import { SeccompEbpfError, type ErrorLocation } from '../../errors.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_MAP_TYPE_ARRAY } from '../../abi/bpf.js';
import type { GlobalVariable } from '../object.js';
import { BTF_KIND_VAR, BTF_VAR_STATIC, type Btf } from './btf.js';
import { SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, STT_OBJECT, type ElfFile, type ElfSection } from './elf.js';
import { varOffset, type MapEntry } from './maps.js';

/** True for sections libbpf turns into a global-data map. */
export function isDataSection(s: ElfSection): boolean {
  if (s.size === 0) return false;
  if (s.type === SHT_NOBITS) return s.name === '.bss';
  if (s.type !== SHT_PROGBITS || (s.flags & SHF_EXECINSTR) !== 0) return false;
  return s.name === '.data' || s.name.startsWith('.data.') || s.name === '.rodata' || s.name.startsWith('.rodata.');
}

/** The kernel refuses array values above KMALLOC_MAX_SIZE (4 MiB on x86_64 and arm64). */
export const MAX_DATA_SECTION_SIZE = 4 << 20;

function isRodata(name: string): boolean {
  return name === '.rodata' || name.startsWith('.rodata.');
}

/** The internal map of one data section. `mapIndex` is not known yet; globals get it later. */
export function readDataMap(elf: ElfFile, btf: Btf | undefined, sec: ElfSection): MapEntry {
  if (sec.size > MAX_DATA_SECTION_SIZE) {
    throw new SeccompEbpfError('ERR_ELF_MAP_DEF', `global-data section of ${sec.size} bytes exceeds the kernel's ${MAX_DATA_SECTION_SIZE}-byte map value limit`,
      { file: elf.file, section: sec.name });
  }
  const readOnly = isRodata(sec.name);
  const ds = btf?.datasec(sec.name);
  let flags = readOnly ? BPF_F_RDONLY_PROG : 0;
  // libbpf's map_is_mmapable(): only sections with a non-static variable are mmapable.
  if (btf && ds && ds.secinfo!.some((vi) => { const v = btf.type(vi.type); return v.kind === BTF_KIND_VAR && v.linkage !== BTF_VAR_STATIC; })) {
    flags |= BPF_F_MMAPABLE;
  }
  const initialValue = new Uint8Array(sec.size);
  if (sec.type !== SHT_NOBITS) initialValue.set(sec.data);
  return {
    spec: {
      name: sec.name, type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: sec.size, maxEntries: 1, flags,
      initialValue, readOnly, ...(ds ? { valueType: sec.name } : {}),
    },
    section: sec.index,
    offset: 0,
    size: sec.size,
  };
}

/**
 * Global variables of a data section: the section's named STT_OBJECT symbols, with type and
 * signedness from the BTF DATASEC variable of the same name; DATASEC variables without a symbol
 * are added at their BTF offset. Sorted by offset. Throws ERR_ELF_MALFORMED for a variable
 * outside its section.
 */
export function readGlobals(elf: ElfFile, btf: Btf | undefined, sec: ElfSection, mapIndex: number): GlobalVariable[] {
  const where: ErrorLocation = { file: elf.file, section: sec.name };
  const byName = new Map<string, GlobalVariable>();
  const ds = btf?.datasec(sec.name);
  for (const s of elf.symbols) {
    if (s.shndx !== sec.index || s.type !== STT_OBJECT || s.name === '' || s.size === 0 || byName.has(s.name)) continue;
    byName.set(s.name, { name: s.name, mapIndex, offset: s.value, size: s.size, readOnly: isRodata(sec.name) });
  }
  if (btf && ds) {
    for (const vi of ds.secinfo!) {
      const v = btf.type(vi.type);
      if (v.kind !== BTF_KIND_VAR) throw new SeccompEbpfError('ERR_BTF_MALFORMED', `DATASEC '${sec.name}' entry ${vi.type} is not a VAR`, where);
      let g = byName.get(v.name);
      if (!g) {
        g = { name: v.name, mapIndex, offset: varOffset(elf, sec, v.name, vi.offset), size: vi.size || btf.resolveSize(v.sizeOrType), readOnly: isRodata(sec.name) };
        byName.set(v.name, g);
      }
      g.type = btf.resolvedName(v.sizeOrType);
      const signed = btf.signedness(v.sizeOrType);
      if (signed !== undefined) g.signed = signed;
    }
  }
  const out = [...byName.values()].sort((a, b) => a.offset - b.offset || (a.name < b.name ? -1 : 1));
  for (const g of out) {
    if (g.offset > sec.size || g.size > sec.size - g.offset) {
      throw new SeccompEbpfError('ERR_ELF_MALFORMED', `global '${g.name}' [${g.offset}, +${g.size}) lies outside ${sec.name} (${sec.size} bytes)`, { ...where, offset: g.offset });
    }
  }
  return out;
}
