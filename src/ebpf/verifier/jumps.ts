/**
 * @module ebpf/verifier/jumps
 * Conditional jumps (the kernel's check_cond_jmp_op): which of the two successors are possible,
 * and what each one learns.
 *
 *  - scalar against scalar: the scalar domain refines both operands per branch and says when a
 *    branch is impossible (that branch is then not explored, as in the kernel); the refinement
 *    reaches every linked copy of a register (same id), as sync_linked_regs does;
 *  - `if rX == 0` / `!= 0` on a pointer that may be NULL: NULL in one branch (the register and
 *    all its copies become the scalar 0, and a ring buffer reservation that failed needs no
 *    release), a valid pointer in the other;
 *  - a valid map value / record pointer is never 0, so comparing it with 0 has one successor;
 *  - any other comparison involving a pointer is refused without CAP_PERFMON and learns nothing
 *    with it.
 */
import type { Instruction } from '../opcodes.js';
import { leaksPointer, readReg, type Env } from './env.js';
import { scalarBranch, scalarBranchTaken, scalarConst, scalarConstValue, type Scalar } from './domain.js';
import { reject } from './errors.js';
import { constReg, isKnownZero, isPointer, scalarReg, withReg, type Reg } from './regs.js';
import { copyState, curFrame, forEachReg, type State } from './state.js';

export type JumpOutcome =
  | { kind: 'fall' }
  | { kind: 'taken' }
  | { kind: 'both'; taken: State }
  | { kind: 'none' };

type CondInsn = Extract<Instruction, { kind: 'jcond' }>;

export function condJump(env: Env, ins: CondInsn): JumpOutcome {
  const is32 = ins.width === 32;
  let src: Reg;
  if (ins.src.type === 'reg') {
    src = readReg(env, ins.src.reg);
    if (leaksPointer(env, src)) reject('ERR_VERIFY_PTR_ARITH', `R${ins.src.reg} pointer comparison prohibited`);
  } else {
    src = scalarReg(scalarConst(BigInt(ins.src.value)));
  }
  const dst = readReg(env, ins.dst);
  const srcno = ins.src.type === 'reg' ? ins.src.reg : -1;

  if (dst.kind === 'scalar' && src.kind === 'scalar') {
    const r = scalarBranch(ins.op, is32, dst.v, src.v, srcno === ins.dst);
    // The kernel explores both edges unless is_branch_taken decides; an edge whose refinement is
    // contradictory is still walked there (with reset bounds). Walking it with the unrefined
    // operands keeps us at least as strict.
    if (scalarBranchTaken(ins.op, is32, dst.v, src.v) === -1) {
      r.taken ??= [dst.v, src.v];
      r.fallthrough ??= [dst.v, src.v];
    }
    const apply = (st: State, pair: [Scalar, Scalar]): void => {
      refineScalar(st, ins.dst, pair[0]);
      if (srcno >= 0) refineScalar(st, srcno, pair[1]);
    };
    if (r.taken && r.fallthrough) {
      const other = copyState(env.st);
      apply(env.st, r.fallthrough);
      apply(other, r.taken);
      return { kind: 'both', taken: other };
    }
    if (r.taken) { apply(env.st, r.taken); return { kind: 'taken' }; }
    if (r.fallthrough) { apply(env.st, r.fallthrough); return { kind: 'fall' }; }
    return { kind: 'none' };
  }

  const pred = pointerBranchTaken(dst, src, ins.op, is32);
  if (pred !== undefined) return { kind: pred ? 'taken' : 'fall' };

  const eq = ins.op === 'jeq', ne = ins.op === 'jne';
  if (!is32 && (eq || ne) && dst.nullable && isKnownZero(src)) {
    const other = copyState(env.st);
    markPtrOrNull(env.st, ins.dst, ne);
    markPtrOrNull(other, ins.dst, eq);
    return { kind: 'both', taken: other };
  }
  if (leaksPointer(env, dst)) reject('ERR_VERIFY_PTR_ARITH', `R${ins.dst} pointer comparison prohibited`);
  return { kind: 'both', taken: copyState(env.st) };
}

/** Pointers that are never NULL compared with the constant 0 (the kernel's is_branch_taken). */
function pointerBranchTaken(dst: Reg, src: Reg, op: string, is32: boolean): boolean | undefined {
  // Only the full 64-bit value of a valid pointer is known to be non-zero: its low half may
  // well be 0, so a JMP32 comparison decides nothing (the kernel does the same).
  if (is32) return undefined;
  const [p, s] = isPointer(dst) ? [dst, src] : [src, dst];
  if (!isPointer(p) || s.kind !== 'scalar') return undefined;
  const c = scalarConstValue(s.v);
  if (c !== 0n) return undefined;
  const notNull = !p.nullable && (p.kind === 'map_value' || p.kind === 'mem' || p.kind === 'btf_id');
  if (!notNull) return undefined;
  if (op === 'jeq') return false;
  if (op === 'jne') return true;
  return undefined;
}

/** Sets register `regno` of the current frame to `v` and updates its linked copies. */
function refineScalar(st: State, regno: number, v: Scalar): void {
  const f = curFrame(st);
  const old = f.regs[regno]!;
  if (old.v === v) return;
  f.regs[regno] = withReg(old, { v });
  if (old.id === 0) return;
  const id = old.id;
  forEachReg(st, (r) => (r.kind === 'scalar' && r.id === id && r.v !== v ? withReg(r, { v }) : undefined));
}

/** The kernel's mark_ptr_or_null_regs for the register `regno` and every copy of it. */
function markPtrOrNull(st: State, regno: number, isNull: boolean): void {
  const reg = curFrame(st).regs[regno]!;
  const id = reg.id;
  forEachReg(st, (r) => {
    if (!r.nullable || r.id !== id) return undefined;
    return isNull ? constReg(0n) : withReg(r, { nullable: false, id: 0 });
  });
  if (isNull && reg.ref !== 0 && reg.ref === id) st.refs = st.refs.filter((x) => x.id !== reg.ref);
}
