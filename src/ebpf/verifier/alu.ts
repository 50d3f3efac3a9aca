/**
 * @module ebpf/verifier/alu
 * ALU instructions (the kernel's check_alu_op, adjust_reg_min_max_vals, adjust_ptr_min_max_vals):
 * scalar results come from the scalar domain; pointer arithmetic is limited to adding or
 * subtracting scalars to pointers into the context, the stack, a map value or a ring buffer
 * record (64-bit only, never on map handles or on pointers that may be NULL), with the kernel's
 * extra limits for loaders without CAP_PERFMON (offsets must stay inside the object, no
 * variable stack offsets, no unknown-sign offsets). Pointer minus pointer is an unknown scalar
 * for CAP_PERFMON loaders; bitwise and other operators on pointers are refused for everyone.
 */
import type { AluOp, Instruction } from '../opcodes.js';
import { BPF_MAX_VAR_OFF, MAX_BPF_STACK, checkDst, leaksPointer, readReg, setReg, type Env } from './env.js';
import { scalarAlu, scalarAluFork, scalarConst, scalarConstValue, scalarEndian, scalarFromLoad, scalarMovsx, tnumFormat } from './domain.js';
import { reject } from './errors.js';
import { regionAccess } from './memory.js';
import { copyState, curFrame } from './state.js';
import { UNKNOWN, isPointer, regTypeName, scalarReg, withReg, type Reg } from './regs.js';

/** The kernel's bpf_alu_string, by operation. */
const ALU_STR: Record<AluOp, string> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', sdiv: '/=', or: '|=', and: '&=', lsh: '<<=', rsh: '>>=', mod: '%=', smod: '%=',
  xor: '^=', mov: '=', arsh: 's>>=',
};

const UNKNOWN32 = scalarReg(scalarFromLoad(4, false));
const S64_MIN = -(1n << 63n);

type AluInsn = Extract<Instruction, { kind: 'alu' | 'neg' | 'endian' | 'movsx' }>;

export function checkAlu(env: Env, ins: AluInsn): void {
  switch (ins.kind) {
    case 'neg':
    case 'endian': {
      const r = readReg(env, ins.dst);
      checkDst(ins.dst);
      if (r.kind !== 'scalar') {
        if (leaksPointer(env, r)) reject('ERR_VERIFY_PTR_ARITH', `R${ins.dst} pointer arithmetic prohibited`);
        setReg(env, ins.dst, UNKNOWN);
        return;
      }
      const v = ins.kind === 'neg'
        ? scalarAlu('sub', ins.width === 64, scalarConst(0n), r.v)
        : scalarEndian(r.v, ins.order, ins.bits);
      setReg(env, ins.dst, scalarReg(v));
      return;
    }
    case 'movsx': {
      const src = readReg(env, ins.src);
      checkDst(ins.dst);
      if (src.kind !== 'scalar') {
        if (leaksPointer(env, src)) reject('ERR_VERIFY_PTR_LEAK', `R${ins.src} sign-extension part of pointer`);
        setReg(env, ins.dst, ins.width === 64 ? UNKNOWN : UNKNOWN32);
        return;
      }
      setReg(env, ins.dst, scalarReg(scalarMovsx(src.v, ins.bits, ins.width === 64)));
      return;
    }
    case 'alu':
      if (ins.op === 'mov') return mov(env, ins);
      return aluOp(env, ins);
  }
}

function mov(env: Env, ins: Extract<Instruction, { kind: 'alu' }>): void {
  const is64 = ins.width === 64;
  if (ins.src.type === 'imm') {
    checkDst(ins.dst);
    const imm = BigInt(ins.src.value);
    setReg(env, ins.dst, scalarReg(scalarConst(is64 ? imm : BigInt.asUintN(32, imm))));
    return;
  }
  const regno = ins.src.reg;
  let src = readReg(env, regno);
  checkDst(ins.dst);
  if (is64) {
    // A copy of a scalar is linked to the original: a later bounds check on either refines both.
    if (src.kind === 'scalar' && src.id === 0) {
      src = withReg(src, { id: env.newId() });
      setReg(env, regno, src);
    }
    setReg(env, ins.dst, src);
    return;
  }
  if (src.kind !== 'scalar') {
    if (leaksPointer(env, src)) reject('ERR_VERIFY_PTR_LEAK', `R${regno} partial copy of pointer`);
    setReg(env, ins.dst, UNKNOWN32);
    return;
  }
  if (src.v.umax <= 0xffff_ffffn) {
    if (src.id === 0) {
      src = withReg(src, { id: env.newId() });
      setReg(env, regno, src);
    }
    setReg(env, ins.dst, src);
    return;
  }
  setReg(env, ins.dst, scalarReg(scalarAlu('mov', false, src.v, src.v)));
}

function aluOp(env: Env, ins: Extract<Instruction, { kind: 'alu' }>): void {
  const is64 = ins.width === 64;
  let src: Reg;
  if (ins.src.type === 'reg') src = readReg(env, ins.src.reg);
  else src = scalarReg(scalarConst(BigInt(ins.src.value)));
  const dst = readReg(env, ins.dst);
  checkDst(ins.dst);
  const srcIsReg = ins.src.type === 'reg';
  if (isPointer(src)) {
    if (isPointer(dst)) {
      if (ins.op === 'sub' && env.opts.allowPtrLeaks) {
        setReg(env, ins.dst, is64 ? UNKNOWN : UNKNOWN32);
        return;
      }
      reject('ERR_VERIFY_PTR_ARITH', `R${ins.dst} pointer ${ALU_STR[ins.op]} pointer prohibited`);
    }
    // scalar += pointer
    setReg(env, ins.dst, ptrArith(env, ins.op, is64, ins.dst, src, dst, true, srcIsReg));
    return;
  }
  if (isPointer(dst)) {
    setReg(env, ins.dst, ptrArith(env, ins.op, is64, ins.dst, dst, src, false, srcIsReg));
    return;
  }
  let dv = dst.v;
  // Linux 6.18 splits `x & C` / `x | C` for x in [-1, 0] into the paths x = -1 and x = 0.
  const fork = scalarAluFork(ins.op, is64, dv, src.v);
  if (fork) {
    const other = copyState(env.st);
    curFrame(other).regs[ins.dst] = scalarReg(fork[1]);
    env.fork(other, env.pc);
    dv = fork[0];
  }
  setReg(env, ins.dst, scalarReg(scalarAlu(ins.op, is64, dv, src.v)));
}

/** The kernel's check_reg_sane_offset. */
function saneOffset(reg: Reg, ptrType: string): void {
  const c = scalarConstValue(reg.v);
  const known = c !== undefined ? BigInt.asIntN(64, c) : undefined;
  const max = BigInt(BPF_MAX_VAR_OFF);
  if (known !== undefined && (known >= max || known <= -max)) {
    reject('ERR_VERIFY_PTR_ARITH', `math between ${ptrType} pointer and ${known} is not allowed`);
  }
  if (reg.off >= BPF_MAX_VAR_OFF || reg.off <= -BPF_MAX_VAR_OFF) {
    reject('ERR_VERIFY_PTR_ARITH', `${ptrType} pointer offset ${reg.off} is not allowed`);
  }
  const smin = BigInt.asIntN(64, reg.v.smin);
  if (smin === S64_MIN) {
    reject('ERR_VERIFY_PTR_ARITH', `math between ${ptrType} pointer and register with unbounded min value is not allowed`);
  }
  if (smin >= max || smin <= -max) reject('ERR_VERIFY_PTR_ARITH', `value ${smin} makes ${ptrType} pointer be out of bounds`);
}

/**
 * pointer op scalar (or scalar op pointer when `offIsDst`). Returns the new destination.
 * `srcIsReg`: the scalar came from a register (the kernel sanitizes only those for !root).
 */
function ptrArith(env: Env, op: AluOp, is64: boolean, dstno: number, ptr: Reg, offReg: Reg,
  offIsDst: boolean, srcIsReg: boolean): Reg {
  if (!is64) {
    if (op === 'sub' && env.opts.allowPtrLeaks) return UNKNOWN32;
    reject('ERR_VERIFY_PTR_ARITH', `R${dstno} 32-bit pointer arithmetic prohibited`);
  }
  const type = regTypeName(ptr);
  if (ptr.nullable) reject('ERR_VERIFY_PTR_ARITH', `R${dstno} pointer arithmetic on ${type} prohibited, null-check it first`);
  const c = scalarConstValue(offReg.v);
  const known = c !== undefined ? BigInt.asIntN(64, c) : undefined;
  switch (ptr.kind) {
    case 'ctx': case 'stack': case 'map_value': case 'mem': case 'btf_id': break;
    case 'map_ptr':
      if (known === 0n && op === 'add') return ptr;
      return reject('ERR_VERIFY_PTR_ARITH', `R${dstno} pointer arithmetic on ${type} prohibited`);
    default: return reject('ERR_VERIFY_PTR_ARITH', `R${dstno} pointer arithmetic on ${type} prohibited`);
  }
  saneOffset(offReg, type);
  saneOffset(ptr, type);
  const unpriv = !env.opts.allowPtrLeaks;
  if (unpriv && srcIsReg && (op === 'add' || op === 'sub')) sanitize(env, op, dstno, ptr, offReg);

  let out: Reg;
  switch (op) {
    case 'add':
      if (known !== undefined && fitsS32(BigInt(ptr.off) + known)) {
        out = withReg(ptr, { off: ptr.off + Number(known) });
      } else {
        out = withReg(ptr, { v: scalarAlu('add', true, ptr.v, offReg.v) });
      }
      break;
    case 'sub':
      if (offIsDst) reject('ERR_VERIFY_PTR_ARITH', `R${dstno} tried to subtract pointer from scalar`);
      if (ptr.kind === 'stack') reject('ERR_VERIFY_PTR_ARITH', `R${dstno} subtraction from stack pointer prohibited`);
      if (known !== undefined && fitsS32(BigInt(ptr.off) - known)) {
        out = withReg(ptr, { off: ptr.off - Number(known) });
      } else {
        out = withReg(ptr, { v: scalarAlu('sub', true, ptr.v, offReg.v) });
      }
      break;
    case 'and': case 'or': case 'xor':
      return reject('ERR_VERIFY_PTR_ARITH', `R${dstno} bitwise operator ${ALU_STR[op]} on pointer prohibited`);
    default:
      return reject('ERR_VERIFY_PTR_ARITH', `R${dstno} pointer arithmetic with ${ALU_STR[op]} operator prohibited`);
  }
  saneOffset(out, type);
  if (unpriv) checkBoundsForUnpriv(env, dstno, out);
  return out;
}

const fitsS32 = (x: bigint): boolean => x === BigInt.asIntN(32, x);

/** The parts of the kernel's sanitize_ptr_alu that refuse a program (Spectre v1, !root). */
function sanitize(env: Env, op: AluOp, dstno: number, ptr: Reg, offReg: Reg): void {
  const why = 'pointer arithmetic with it prohibited for !root';
  const smin = BigInt.asIntN(64, offReg.v.smin);
  const smax = BigInt.asIntN(64, offReg.v.smax);
  if (scalarConstValue(offReg.v) === undefined && (smin < 0n) !== (smax < 0n)) {
    reject('ERR_VERIFY_PTR_ARITH', `R${dstno} has unknown scalar with mixed signed bounds, ${why}`);
  }
  const offIsNeg = smin < 0n;
  const maskToLeft = (op === 'add' && offIsNeg) || (op === 'sub' && !offIsNeg);
  let limit: bigint, max: bigint;
  if (ptr.kind === 'stack') {
    max = BigInt(MAX_BPF_STACK + (maskToLeft ? 1 : 0));
    limit = -((scalarConstValue(ptr.v) ?? 0n) + BigInt(ptr.off));
  } else if (ptr.kind === 'map_value') {
    max = BigInt(env.maps[ptr.map]!.valueSize);
    limit = (maskToLeft ? BigInt.asIntN(64, ptr.v.smin) : ptr.v.umax) + BigInt(ptr.off);
  } else {
    return reject('ERR_VERIFY_PTR_ARITH', `R${dstno} has pointer with unsupported alu operation, ${why}`);
  }
  if (limit >= max) reject('ERR_VERIFY_PTR_ARITH', `R${dstno} tried to ${op} beyond pointer bounds, ${why}`);
}

/** The kernel's sanitize_check_bounds: !root pointers must stay inside their object. */
function checkBoundsForUnpriv(env: Env, dstno: number, r: Reg): void {
  if (r.kind === 'stack') {
    const c = scalarConstValue(r.v);
    if (c === undefined) {
      reject('ERR_VERIFY_PTR_ARITH', `R${dstno} variable stack access prohibited for !root, var_off=${tnumFormat(r.v.var)} off=${r.off}`);
    }
    const off = r.off + Number(BigInt.asIntN(64, c));
    if (off >= 0 || off < -MAX_BPF_STACK) {
      reject('ERR_VERIFY_PTR_ARITH', `R${dstno} stack pointer arithmetic goes out of range, prohibited for !root; off=${off}`);
    }
  } else if (r.kind === 'map_value') {
    const m = env.maps[r.map]!;
    try {
      regionAccess(dstno, r, r.off, 1, m.valueSize, false, () => '');
    } catch {
      reject('ERR_VERIFY_PTR_ARITH', `R${dstno} pointer arithmetic of map value goes out of range, prohibited for !root`);
    }
  }
}
