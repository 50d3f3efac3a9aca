/**
 * @module ebpf/globals
 * Setting global variables of an ObjectSpec before load, as a libbpf skeleton's
 * `skel->rodata->x = v` / `skel->bss->y = v` between open and load: the value is written
 * little-endian into the initial value of the variable's global-data map. `const volatile`
 * variables (.rodata) can be set this way too; after load they are read-only.
 */
import { SeccompEbpfError } from '../errors.js';
import type { GlobalVariable, ObjectSpec } from './object.js';

/** Looks up a global by name. Throws ERR_GLOBAL_UNKNOWN (no such global, or ambiguous). */
export function findGlobal(spec: ObjectSpec, name: string): GlobalVariable {
  const found = spec.globals.filter((g) => g.name === name);
  const where = spec.file !== undefined ? { file: spec.file } : undefined;
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    const secs = found.map((g) => spec.maps[g.mapIndex]?.name ?? `map ${g.mapIndex}`).join(', ');
    throw new SeccompEbpfError('ERR_GLOBAL_UNKNOWN', `global '${name}' is ambiguous (in ${secs})`, where);
  }
  const known = spec.globals.map((g) => g.name);
  const hint = known.length ? `; globals: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''}` : '; the object has no globals';
  throw new SeccompEbpfError('ERR_GLOBAL_UNKNOWN', `no global variable '${name}'${hint}`, where);
}

/**
 * Sets global `name` in `spec` (mutating the map's initialValue).
 * - bigint/number: integer, enum or pointer variables of 1, 2, 4 or 8 bytes (or untyped ones
 *   without BTF); the value must fit the variable's signedness (unknown signedness: anything
 *   from the signed minimum to the unsigned maximum; _Bool: 0 or 1).
 * - Uint8Array: raw bytes, exactly the variable's size (arrays, structs).
 * Throws ERR_GLOBAL_UNKNOWN, ERR_GLOBAL_RANGE.
 */
export function setGlobal(spec: ObjectSpec, name: string, value: bigint | number | Uint8Array): void {
  const g = findGlobal(spec, name);
  const map = spec.maps[g.mapIndex];
  const where = spec.file !== undefined ? { file: spec.file } : undefined;
  const target = map?.initialValue;
  if (!target || g.offset + g.size > target.length) {
    throw new SeccompEbpfError('ERR_GLOBAL_UNKNOWN', `global '${name}' has no backing map value in this spec`, where);
  }
  const range = (msg: string): SeccompEbpfError => new SeccompEbpfError('ERR_GLOBAL_RANGE', `global '${name}' (${describe(g)}): ${msg}`, where);

  if (value instanceof Uint8Array) {
    if (value.length !== g.size) throw range(`got ${value.length} bytes, expected ${g.size}`);
    target.set(value, g.offset);
    return;
  }
  let v: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw range(`${value} is not a safe integer (pass a bigint)`);
    v = BigInt(value);
  } else if (typeof value === 'bigint') {
    v = value;
  } else {
    throw range(`expected a bigint, a number or a Uint8Array, got ${typeof value}`);
  }
  if (g.size !== 1 && g.size !== 2 && g.size !== 4 && g.size !== 8) {
    throw range(`a ${g.size}-byte variable takes a Uint8Array, not an integer`);
  }
  // BTF says it is neither an integer, an enum nor a pointer (an array, a struct): bytes only.
  if (g.type !== undefined && g.signed === undefined && !g.type.startsWith('enum ') && !g.type.endsWith('*')) {
    throw range('not an integer variable; pass a Uint8Array');
  }
  const bits = BigInt(g.size * 8);
  let min = -(1n << (bits - 1n));
  let max = (1n << bits) - 1n;
  if (g.type === '_Bool') { min = 0n; max = 1n; }
  else if (g.signed === true) max = (1n << (bits - 1n)) - 1n;
  else if (g.signed === false) min = 0n;
  if (v < min || v > max) throw range(`${v} is outside [${min}, ${max}]`);
  let u = BigInt.asUintN(g.size * 8, v);
  for (let i = 0; i < g.size; i++) {
    target[g.offset + i] = Number(u & 0xffn);
    u >>= 8n;
  }
}

function describe(g: GlobalVariable): string {
  const sign = g.signed === undefined ? '' : g.signed ? ', signed' : ', unsigned';
  return `${g.type ?? 'untyped'}, ${g.size} bytes${sign}`;
}
