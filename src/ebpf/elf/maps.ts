/**
 * @module ebpf/elf/maps
 * Map definitions of a BPF object, as libbpf reads them at bpf_object__open():
 *
 * - BTF-defined maps in `.maps`: each variable of the `.maps` DATASEC is a struct whose members
 *   encode the attributes in their types (bpf_helpers.h):
 *     __uint(name, val)  ->  int (*name)[val]     the array's element count is the number
 *     __type(name, T)    ->  T *name              key/value: the pointee's size is the size
 * - legacy `maps` section: `struct bpf_map_def { u32 type, key_size, value_size, max_entries,
 *   map_flags; }` per symbol (dropped by libbpf 1.0, still accepted here).
 *
 * Errors: ERR_ELF_MAP_DEF (an invalid or unsupported definition), ERR_BTF_MALFORMED.
 */
import { SeccompEbpfError, type ErrorLocation } from '../../errors.js';
import type { MapSpec } from '../maps/types.js';
import { BTF_KIND_ARRAY, BTF_KIND_PTR, BTF_KIND_STRUCT, BTF_KIND_VAR, type Btf, type BtfType } from './btf.js';
import { STT_SECTION, type ElfFile, type ElfSection, type ElfSymbol } from './elf.js';

/** A map plus where its definition lives (relocations name it by section and offset). */
export interface MapEntry {
  spec: MapSpec;
  /** ELF section index of the definition (`.maps`, `maps`, or the data section itself). */
  section: number;
  offset: number;
  size: number;
}

const LEGACY_DEF_SIZE = 20;

function mapError(msg: string, where: ErrorLocation): SeccompEbpfError {
  return new SeccompEbpfError('ERR_ELF_MAP_DEF', msg, where);
}

/**
 * Offset of a DATASEC variable: clang leaves it to the linker (a .rel.BTF entry), so take it from
 * the ELF symbol of the same name in that section, as libbpf's btf_fixup_datasec does; fall back
 * to the BTF value when there is no such symbol.
 */
export function varOffset(elf: ElfFile, section: ElfSection, name: string, btfOffset: number): number {
  const sym = elf.symbols.find((s) => s.shndx === section.index && s.type !== STT_SECTION && s.name === name);
  return sym ? sym.value : btfOffset;
}

/** `__uint(name, N)`: pointer to an array of N elements. */
function uintMember(btf: Btf, m: { name: string; type: number }, mapName: string, where: ErrorLocation): number {
  const ptr = btf.skipMods(m.type);
  if (ptr.kind !== BTF_KIND_PTR) throw mapError(`map '${mapName}': attribute '${m.name}' is not a pointer to an array (__uint)`, where);
  const arr = btf.skipMods(ptr.sizeOrType);
  if (arr.kind !== BTF_KIND_ARRAY) throw mapError(`map '${mapName}': attribute '${m.name}' is not a pointer to an array (__uint)`, where);
  return arr.array!.nelems;
}

/** `__type(name, T)`: pointer to T; returns T's id. */
function typeMember(btf: Btf, m: { name: string; type: number }, mapName: string, where: ErrorLocation): number {
  const ptr = btf.skipMods(m.type);
  if (ptr.kind !== BTF_KIND_PTR) throw mapError(`map '${mapName}': attribute '${m.name}' is not a pointer to a type (__type)`, where);
  return ptr.sizeOrType;
}

/** Parses the struct of one BTF-defined map (libbpf's parse_btf_map_def). */
function parseBtfMapDef(btf: Btf, def: BtfType, name: string, where: ErrorLocation): MapSpec {
  let type: number | undefined;
  let keySize: number | undefined;
  let valueSize: number | undefined;
  let maxEntries = 0;
  let flags = 0;
  let keyType: string | undefined;
  let valueType: string | undefined;
  const setSize = (what: 'key' | 'value', n: number): void => {
    const cur = what === 'key' ? keySize : valueSize;
    if (cur !== undefined && cur !== n) throw mapError(`map '${name}': conflicting ${what} size ${cur} vs ${n}`, where);
    if (what === 'key') keySize = n;
    else valueSize = n;
  };
  for (const m of def.members ?? []) {
    switch (m.name) {
      case 'type': type = uintMember(btf, m, name, where); break;
      case 'max_entries': maxEntries = uintMember(btf, m, name, where); break;
      case 'map_flags': flags = uintMember(btf, m, name, where); break;
      case 'key_size': setSize('key', uintMember(btf, m, name, where)); break;
      case 'value_size': setSize('value', uintMember(btf, m, name, where)); break;
      case 'key': {
        const id = typeMember(btf, m, name, where);
        setSize('key', btf.resolveSize(id));
        keyType = btf.resolvedName(id);
        break;
      }
      case 'value': {
        const id = typeMember(btf, m, name, where);
        setSize('value', btf.resolveSize(id));
        valueType = btf.resolvedName(id);
        break;
      }
      // Accepted and ignored: NUMA placement, pinning by name and bloom-filter extras have no
      // meaning for an in-process map.
      case 'numa_node': case 'pinning': case 'map_extra':
        uintMember(btf, m, name, where);
        break;
      case 'values':
        throw mapError(`map '${name}': initialised map-in-map / program-array 'values' are not supported`, where);
      default:
        throw mapError(`map '${name}': unknown attribute '${m.name}'`, where);
    }
  }
  if (type === undefined) throw mapError(`map '${name}' has no 'type' attribute`, where);
  const spec: MapSpec = { name, type, keySize: keySize ?? 0, valueSize: valueSize ?? 0, maxEntries, flags };
  if (keyType !== undefined) spec.keyType = keyType;
  if (valueType !== undefined) spec.valueType = valueType;
  return spec;
}

/** BTF-defined maps of the `.maps` section, in DATASEC order (libbpf's order). */
export function readBtfMaps(elf: ElfFile, btf: Btf | undefined, sec: ElfSection): MapEntry[] {
  const where: ErrorLocation = { file: elf.file, section: sec.name };
  if (!btf) throw mapError('BTF-defined maps need a .BTF section (build with -g)', where);
  const ds = btf.datasec(sec.name);
  if (!ds) throw mapError(`no BTF DATASEC '${sec.name}' describes the maps`, where);
  const out: MapEntry[] = [];
  for (const vi of ds.secinfo!) {
    const v = btf.type(vi.type);
    if (v.kind !== BTF_KIND_VAR) throw new SeccompEbpfError('ERR_BTF_MALFORMED', `DATASEC '${sec.name}' entry ${vi.type} is not a VAR`, where);
    const offset = varOffset(elf, sec, v.name, vi.offset);
    const at = { ...where, offset };
    if (offset + vi.size > sec.size) throw mapError(`map '${v.name}' [${offset}, +${vi.size}) lies outside ${sec.name}`, at);
    const def = btf.skipMods(v.sizeOrType);
    if (def.kind !== BTF_KIND_STRUCT) throw mapError(`map '${v.name}' is not a struct`, at);
    out.push({ spec: parseBtfMapDef(btf, def, v.name, at), section: sec.index, offset, size: vi.size });
  }
  return out;
}

/** Legacy `struct bpf_map_def` maps of the `maps` section, sorted by offset. */
export function readLegacyMaps(elf: ElfFile, sec: ElfSection): MapEntry[] {
  const where: ErrorLocation = { file: elf.file, section: sec.name };
  const syms: ElfSymbol[] = elf.symbols.filter((s) => s.shndx === sec.index && s.type !== STT_SECTION && s.name !== '')
    .sort((a, b) => a.value - b.value);
  if (syms.length === 0) return [];
  if (sec.data.length !== sec.size) throw mapError(`${sec.name} has no file data`, where);
  // Symbols without a size share the section equally, as old libbpf did.
  const defaultSize = Math.floor(sec.size / syms.length);
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  return syms.map((s) => {
    const size = s.size || defaultSize;
    const at = { ...where, offset: s.value };
    if (s.value > sec.size || size > sec.size - s.value) throw mapError(`map '${s.name}' [${s.value}, +${size}) lies outside ${sec.name}`, at);
    const field = (i: number): number => (4 * i + 4 <= size ? dv.getUint32(s.value + 4 * i, true) : 0);
    for (let o = LEGACY_DEF_SIZE; o < size; o++) {
      if (sec.data[s.value + o] !== 0) throw mapError(`map '${s.name}' has unrecognised non-zero bytes after struct bpf_map_def`, at);
    }
    const spec: MapSpec = { name: s.name, type: field(0), keySize: field(1), valueSize: field(2), maxEntries: field(3), flags: field(4) };
    return { spec, section: sec.index, offset: s.value, size };
  });
}
