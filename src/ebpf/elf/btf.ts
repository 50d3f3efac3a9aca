/**
 * @module ebpf/elf/btf
 * Parser for the `.BTF` section (include/uapi/linux/btf.h, Documentation/bpf/btf.rst), reduced
 * to what the loader needs: BTF-defined map structs, DATASEC variables of the global-data
 * sections, type sizes, C-like type names and integer signedness.
 *
 *   header: magic u16 = 0xeB9F | version u8 | flags u8 | hdr_len u32 |
 *           type_off u32 | type_len u32 | str_off u32 | str_len u32     (offsets after the header)
 *   type:   name_off u32 | info u32 (vlen bits 0-15, kind bits 24-28, kind_flag bit 31) |
 *           size_or_type u32 | kind-specific trailer
 *
 * Type chains (typedef -> const -> ...) are followed at most MAX_RESOLVE_DEPTH steps, as in
 * libbpf, so a cyclic chain is an error instead of a hang. Errors: ERR_BTF_MALFORMED.
 */
import { SeccompEbpfError, type ErrorLocation } from '../../errors.js';

export const BTF_KIND_INT = 1;
export const BTF_KIND_PTR = 2;
export const BTF_KIND_ARRAY = 3;
export const BTF_KIND_STRUCT = 4;
export const BTF_KIND_UNION = 5;
export const BTF_KIND_ENUM = 6;
export const BTF_KIND_FWD = 7;
export const BTF_KIND_TYPEDEF = 8;
export const BTF_KIND_VOLATILE = 9;
export const BTF_KIND_CONST = 10;
export const BTF_KIND_RESTRICT = 11;
export const BTF_KIND_FUNC = 12;
export const BTF_KIND_FUNC_PROTO = 13;
export const BTF_KIND_VAR = 14;
export const BTF_KIND_DATASEC = 15;
export const BTF_KIND_FLOAT = 16;
export const BTF_KIND_DECL_TAG = 17;
export const BTF_KIND_TYPE_TAG = 18;
export const BTF_KIND_ENUM64 = 19;

/** BTF_INT_ENCODING bits. */
export const BTF_INT_SIGNED = 1;
export const BTF_INT_CHAR = 2;
export const BTF_INT_BOOL = 4;

/** BTF_VAR_* linkage. */
export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

const BTF_MAGIC = 0xeb9f;
const HDR_MIN = 24;
const TYPE_HDR = 12;
/** libbpf's MAX_RESOLVE_DEPTH. */
export const MAX_RESOLVE_DEPTH = 32;

export interface BtfMember { name: string; type: number; offset: number }
export interface BtfVarSecinfo { type: number; offset: number; size: number }

export interface BtfType {
  id: number;
  kind: number;
  name: string;
  vlen: number;
  kflag: boolean;
  /** size for INT/ENUM/STRUCT/UNION/DATASEC/FLOAT, referenced type id otherwise. */
  sizeOrType: number;
  /** INT: BTF_INT_ENCODING and bit width. */
  intEncoding?: number;
  intBits?: number;
  array?: { type: number; indexType: number; nelems: number };
  /** STRUCT/UNION members, FUNC_PROTO params (offset 0). */
  members?: BtfMember[];
  /** VAR linkage. */
  linkage?: number;
  /** DATASEC entries. */
  secinfo?: BtfVarSecinfo[];
}

const VOID: BtfType = { id: 0, kind: 0, name: 'void', vlen: 0, kflag: false, sizeOrType: 0 };

/** Parsed BTF. Type id 0 is void; ids 1..types.length-1 are the encoded types. */
export class Btf {
  readonly types: readonly BtfType[];
  private readonly where: ErrorLocation;

  constructor(types: BtfType[], where: ErrorLocation) {
    this.types = types;
    this.where = where;
  }

  private fail(msg: string): SeccompEbpfError {
    return new SeccompEbpfError('ERR_BTF_MALFORMED', msg, this.where);
  }

  /** The type with this id; throws ERR_BTF_MALFORMED for a dangling id. */
  type(id: number): BtfType {
    const t = this.types[id];
    if (!t) throw this.fail(`type id ${id} out of range (${this.types.length} types)`);
    return t;
  }

  /** Follows const/volatile/restrict/type_tag (and typedefs when asked) to the underlying type. */
  skipMods(id: number, typedefs = true): BtfType {
    let t = this.type(id);
    for (let depth = 0; ; depth++) {
      const k = t.kind;
      const isMod = k === BTF_KIND_CONST || k === BTF_KIND_VOLATILE || k === BTF_KIND_RESTRICT || k === BTF_KIND_TYPE_TAG;
      if (!isMod && !(typedefs && k === BTF_KIND_TYPEDEF)) return t;
      if (depth >= MAX_RESOLVE_DEPTH) throw this.fail(`type chain from id ${id} is too deep or cyclic`);
      t = this.type(t.sizeOrType);
    }
  }

  /** Byte size of a type (btf__resolve_size): modifiers, typedefs and VARs followed, arrays multiplied. */
  resolveSize(id: number): number {
    let mult = 1;
    let t = this.type(id);
    for (let depth = 0; ; depth++) {
      if (depth > MAX_RESOLVE_DEPTH) throw this.fail(`type chain from id ${id} is too deep or cyclic`);
      switch (t.kind) {
        case BTF_KIND_INT: case BTF_KIND_ENUM: case BTF_KIND_ENUM64: case BTF_KIND_STRUCT:
        case BTF_KIND_UNION: case BTF_KIND_DATASEC: case BTF_KIND_FLOAT:
          return this.checkedSize(mult * t.sizeOrType, id);
        case BTF_KIND_PTR:
          return this.checkedSize(mult * 8, id);
        case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST: case BTF_KIND_RESTRICT:
        case BTF_KIND_TYPE_TAG: case BTF_KIND_VAR:
          t = this.type(t.sizeOrType);
          break;
        case BTF_KIND_ARRAY:
          mult *= t.array!.nelems;
          if (mult > 0xffffffff) throw this.fail(`size of type id ${id} overflows 32 bits`);
          t = this.type(t.array!.type);
          break;
        default:
          throw this.fail(`type id ${t.id} (kind ${t.kind}) has no size`);
      }
    }
  }

  private checkedSize(n: number, id: number): number {
    if (n > 0xffffffff) throw this.fail(`size of type id ${id} overflows 32 bits`);
    return n;
  }

  /**
   * C-like name of a type: "unsigned int", "struct event", "char[8]", "__u8 *". Qualifiers are
   * dropped; typedef names are kept (see resolvedName for the underlying type's name).
   */
  typeName(id: number): string {
    let suffix = '';
    let t = this.type(id);
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      switch (t.kind) {
        case 0: return `void${suffix}`;
        case BTF_KIND_INT: case BTF_KIND_FLOAT: case BTF_KIND_TYPEDEF: return `${t.name}${suffix}`;
        case BTF_KIND_STRUCT: return `struct ${t.name}${suffix}`;
        case BTF_KIND_UNION: return `union ${t.name}${suffix}`;
        case BTF_KIND_ENUM: case BTF_KIND_ENUM64: return `enum ${t.name}${suffix}`;
        case BTF_KIND_FWD: return `${t.kflag ? 'union' : 'struct'} ${t.name}${suffix}`;
        case BTF_KIND_FUNC_PROTO: return `func${suffix}`;
        case BTF_KIND_PTR:
          suffix = ` *${suffix}`;
          t = this.type(t.sizeOrType);
          break;
        case BTF_KIND_ARRAY:
          suffix = `${suffix}[${t.array!.nelems}]`;
          t = this.type(t.array!.type);
          break;
        case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT: case BTF_KIND_TYPE_TAG: case BTF_KIND_VAR:
          t = this.type(t.sizeOrType);
          break;
        default:
          return `${t.name}${suffix}`;
      }
    }
    throw this.fail(`type chain from id ${id} is too deep or cyclic`);
  }

  /**
   * Name of the underlying type with qualifiers and typedefs resolved (what libbpf's
   * btf__resolve_type gives): "unsigned int" for `const volatile __u32`. An anonymous struct
   * behind a typedef keeps the typedef's name.
   */
  resolvedName(id: number): string {
    let t = this.type(id);
    let typedefName: string | undefined;
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      const k = t.kind;
      if (k === BTF_KIND_TYPEDEF) typedefName = t.name;
      else if (!(k === BTF_KIND_CONST || k === BTF_KIND_VOLATILE || k === BTF_KIND_RESTRICT || k === BTF_KIND_TYPE_TAG || k === BTF_KIND_VAR)) {
        const anonymous = (k === BTF_KIND_STRUCT || k === BTF_KIND_UNION || k === BTF_KIND_ENUM || k === BTF_KIND_ENUM64) && t.name === '';
        return anonymous && typedefName ? typedefName : this.typeName(t.id);
      }
      t = this.type(t.sizeOrType);
    }
    throw this.fail(`type chain from id ${id} is too deep or cyclic`);
  }

  /** Signedness of an integer-like type: true/false for INT (and ENUM with kind_flag), else undefined. */
  signedness(id: number): boolean | undefined {
    const t = this.skipMods(id);
    if (t.kind === BTF_KIND_INT) return (t.intEncoding! & BTF_INT_SIGNED) !== 0;
    if ((t.kind === BTF_KIND_ENUM || t.kind === BTF_KIND_ENUM64) && t.kflag) return true;
    return undefined;
  }

  /** True for _Bool (BTF_INT_BOOL). */
  isBool(id: number): boolean {
    const t = this.skipMods(id);
    return t.kind === BTF_KIND_INT && (t.intEncoding! & BTF_INT_BOOL) !== 0;
  }

  /** The DATASEC with this name (".maps", ".data", ...), if any. */
  datasec(name: string): BtfType | undefined {
    return this.types.find((t) => t.kind === BTF_KIND_DATASEC && t.name === name);
  }
}

/** Parses a `.BTF` section. Throws ERR_BTF_MALFORMED on any inconsistency. */
export function parseBtf(data: Uint8Array, where: ErrorLocation): Btf {
  const fail = (msg: string, offset?: number): SeccompEbpfError =>
    new SeccompEbpfError('ERR_BTF_MALFORMED', msg, { ...where, offset: offset ?? where.offset });
  if (data.length < HDR_MIN) throw fail(`BTF section of ${data.length} bytes is shorter than its header`, 0);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic = dv.getUint16(0, true);
  if (magic !== BTF_MAGIC) throw fail(`bad BTF magic 0x${magic.toString(16)}`, 0);
  if (dv.getUint8(2) !== 1) throw fail(`unsupported BTF version ${dv.getUint8(2)}`, 2);
  const hdrLen = dv.getUint32(4, true);
  if (hdrLen < HDR_MIN || hdrLen > data.length) throw fail(`bad BTF header length ${hdrLen}`, 4);
  const typeOff = dv.getUint32(8, true);
  const typeLen = dv.getUint32(12, true);
  const strOff = dv.getUint32(16, true);
  const strLen = dv.getUint32(20, true);
  const body = data.length - hdrLen;
  if (typeOff > body || typeLen > body - typeOff) throw fail(`BTF type area [${typeOff}, +${typeLen}) outside the section`, 8);
  if (strOff > body || strLen > body - strOff) throw fail(`BTF string area [${strOff}, +${strLen}) outside the section`, 16);
  if (typeOff % 4 !== 0) throw fail(`BTF type area offset ${typeOff} is not 4-byte aligned`, 8);
  const strings = data.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
  const utf8 = new TextDecoder('utf-8');
  const str = (off: number, at: number): string => {
    if (off >= strings.length) {
      if (off === 0) return '';
      throw fail(`string offset ${off} outside the BTF string area (${strings.length} bytes)`, at);
    }
    const end = strings.indexOf(0, off);
    if (end < 0) throw fail(`BTF string at ${off} is not NUL-terminated`, at);
    return utf8.decode(strings.subarray(off, end));
  };

  const types: BtfType[] = [VOID];
  const start = hdrLen + typeOff;
  const end = start + typeLen;
  let p = start;
  const need = (n: number): void => {
    if (p + n > end) throw fail(`BTF type ${types.length} truncated`, p);
  };
  while (p < end) {
    need(TYPE_HDR);
    const at = p;
    const info = dv.getUint32(p + 4, true);
    const t: BtfType = {
      id: types.length,
      name: str(dv.getUint32(p, true), p),
      kind: (info >>> 24) & 0x1f,
      vlen: info & 0xffff,
      kflag: (info >>> 31) === 1,
      sizeOrType: dv.getUint32(p + 8, true),
    };
    p += TYPE_HDR;
    const vlen = t.vlen;
    switch (t.kind) {
      case BTF_KIND_INT: {
        need(4);
        const enc = dv.getUint32(p, true);
        t.intEncoding = (enc >>> 24) & 0x0f;
        t.intBits = enc & 0xff;
        p += 4;
        break;
      }
      case BTF_KIND_PTR: case BTF_KIND_FWD: case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT: case BTF_KIND_FUNC: case BTF_KIND_FLOAT: case BTF_KIND_TYPE_TAG:
        break;
      case BTF_KIND_ARRAY:
        need(12);
        t.array = { type: dv.getUint32(p, true), indexType: dv.getUint32(p + 4, true), nelems: dv.getUint32(p + 8, true) };
        p += 12;
        break;
      case BTF_KIND_STRUCT: case BTF_KIND_UNION:
        need(12 * vlen);
        t.members = [];
        for (let i = 0; i < vlen; i++, p += 12) {
          t.members.push({ name: str(dv.getUint32(p, true), p), type: dv.getUint32(p + 4, true), offset: dv.getUint32(p + 8, true) });
        }
        break;
      case BTF_KIND_ENUM:
        need(8 * vlen);
        p += 8 * vlen;
        break;
      case BTF_KIND_ENUM64:
        need(12 * vlen);
        p += 12 * vlen;
        break;
      case BTF_KIND_FUNC_PROTO:
        need(8 * vlen);
        t.members = [];
        for (let i = 0; i < vlen; i++, p += 8) {
          t.members.push({ name: str(dv.getUint32(p, true), p), type: dv.getUint32(p + 4, true), offset: 0 });
        }
        break;
      case BTF_KIND_VAR:
        need(4);
        t.linkage = dv.getUint32(p, true);
        p += 4;
        break;
      case BTF_KIND_DATASEC:
        need(12 * vlen);
        t.secinfo = [];
        for (let i = 0; i < vlen; i++, p += 12) {
          t.secinfo.push({ type: dv.getUint32(p, true), offset: dv.getUint32(p + 4, true), size: dv.getUint32(p + 8, true) });
        }
        break;
      case BTF_KIND_DECL_TAG:
        need(4);
        p += 4;
        break;
      default:
        throw fail(`unknown BTF kind ${t.kind} (type id ${t.id})`, at);
    }
    types.push(t);
  }
  return new Btf(types, where);
}
