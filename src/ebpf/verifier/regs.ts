/**
 * @module ebpf/verifier/regs
 * Abstract register values, as the kernel's struct bpf_reg_state: a type (not initialised, a
 * scalar, or a pointer to the context, a stack frame, a map, a map value, a ring buffer record
 * or a kernel task), a fixed offset `off` and, for scalars, the value — for pointers, the
 * variable part of the offset — as a {@link Scalar}.
 *
 * Registers are immutable: an instruction replaces the register object, so a state can be
 * copied by copying arrays of references (cheap branching, no deep clones).
 *
 * Formatting follows the kernel's log (print_reg_state): "scalar(umax=255,var_off=(0x0; 0xff))",
 * "42", "ctx()", "fp-8", "map_value(map=counts,ks=4,vs=8,off=4)", "map_value_or_null(id=1,...)".
 */
import type { MapSpec } from '../maps/types.js';
import { formatSnum, scalarConst, scalarConstValue, scalarFormat, scalarUnknown, type Scalar } from './domain.js';

export type RegKind = 'not_init' | 'scalar' | 'ctx' | 'stack' | 'map_ptr' | 'map_value' | 'mem' | 'btf_id';

export interface Reg {
  readonly kind: RegKind;
  /** The kernel's PTR_MAYBE_NULL (map_value_or_null, ringbuf_mem_or_null). */
  readonly nullable: boolean;
  /** Scalars: the value. Pointers: the variable part of the offset (constant 0 when fixed). */
  readonly v: Scalar;
  /** Pointers: the fixed offset. */
  readonly off: number;
  /** Nullable pointers: which copies a NULL check refines; scalars: linked copies (0 = none). */
  readonly id: number;
  /** Acquired reference (ring buffer record) this pointer belongs to (0 = none). */
  readonly ref: number;
  /** map_ptr / map_value: index into VerifierOptions.maps. */
  readonly map: number;
  /** stack: frame number the pointer points into. */
  readonly frame: number;
  /** mem: size of the record in bytes. */
  readonly size: number;
}

const ZERO = scalarConst(0n);
const base: Reg = { kind: 'not_init', nullable: false, v: ZERO, off: 0, id: 0, ref: 0, map: -1, frame: 0, size: 0 };

export const NOT_INIT: Reg = Object.freeze({ ...base });
export const UNKNOWN: Reg = Object.freeze({ ...base, kind: 'scalar', v: scalarUnknown() });

export const scalarReg = (v: Scalar): Reg => ({ ...base, kind: 'scalar', v });
export const constReg = (v: bigint): Reg => ({ ...base, kind: 'scalar', v: scalarConst(v) });
export const ctxReg = (): Reg => ({ ...base, kind: 'ctx' });
export const fpReg = (frame: number): Reg => ({ ...base, kind: 'stack', frame });
export const mapPtrReg = (map: number): Reg => ({ ...base, kind: 'map_ptr', map });
export const mapValueReg = (map: number, off: number, nullable = false, id = 0): Reg =>
  ({ ...base, kind: 'map_value', map, off, nullable, id });
export const memReg = (size: number, nullable: boolean, id: number, ref: number): Reg =>
  ({ ...base, kind: 'mem', size, nullable, id, ref });
export const taskReg = (): Reg => ({ ...base, kind: 'btf_id' });

/** A copy of `r` with some fields changed. */
export const withReg = (r: Reg, changes: Partial<Reg>): Reg => ({ ...r, ...changes });

export const isPointer = (r: Reg): boolean => r.kind !== 'scalar' && r.kind !== 'not_init';
export const isScalar = (r: Reg): boolean => r.kind === 'scalar';
/** The kernel's register_is_null: a scalar known to be 0. */
export const isKnownZero = (r: Reg): boolean => r.kind === 'scalar' && scalarConstValue(r.v) === 0n;
/** Constant part of a pointer's variable offset, or undefined when it varies. */
export const fixedVar = (r: Reg): bigint | undefined => scalarConstValue(r.v);

/** The kernel's reg_type_str(): "scalar", "ctx", "fp", "map_value_or_null", ... */
export function regTypeName(r: Reg): string {
  const n = ({
    not_init: '?', scalar: 'scalar', ctx: 'ctx', stack: 'fp', map_ptr: 'map_ptr', map_value: 'map_value',
    mem: 'ringbuf_mem', btf_id: 'trusted_ptr_',
  } as const)[r.kind];
  return r.nullable ? `${n}_or_null` : n;
}


/** Inner "a=..,b=.." of scalarFormat's output ("" for an unknown scalar). */
function rangeParts(v: Scalar): string {
  const f = scalarFormat(v);
  const m = /^scalar\((.*)\)$/.exec(f);
  return m ? m[1]! : f;
}

/** One register as the kernel's log prints it (without the "R1=" prefix). */
export function formatReg(r: Reg, maps: readonly MapSpec[], curFrame: number): string {
  if (r.kind === 'not_init') return '?';
  if (r.kind === 'scalar') {
    if (scalarConstValue(r.v) !== undefined || r.id === 0) return scalarFormat(r.v);
    const inner = rangeParts(r.v);
    return `scalar(id=${r.id}${inner ? `,${inner}` : ''})`;
  }
  let name = regTypeName(r);
  const c = scalarConstValue(r.v);
  if (r.kind === 'stack') {
    if (r.frame !== curFrame) name += `[${r.frame}]`;
    if (c !== undefined) return `${name}${formatSnum(BigInt.asIntN(64, c + BigInt(r.off)))}`;
  }
  if (r.kind === 'btf_id') name += 'task_struct';
  const parts: string[] = [];
  if (r.id) parts.push(`id=${r.id}`);
  if (r.ref) parts.push(`ref_obj_id=${r.ref}`);
  if (r.kind === 'map_ptr' || r.kind === 'map_value') {
    const m = maps[r.map];
    if (m) {
      if (m.name) parts.push(`map=${m.name}`);
      parts.push(`ks=${m.keySize},vs=${m.valueSize}`);
    }
  }
  if (r.off) parts.push(`off=${r.off}`);
  if (r.kind === 'mem') parts.push(`sz=${r.size}`);
  if (c !== undefined) {
    if (c !== 0n) parts.push(`imm=${formatSnum(BigInt.asIntN(64, c))}`);
  } else {
    const inner = rangeParts(r.v);
    if (inner) parts.push(inner);
  }
  return `${name}(${parts.join(',')})`;
}
