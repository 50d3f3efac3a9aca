/**
 * @module ebpf/verifier/prune
 * State pruning (the kernel's is_state_visited / states_equal / regsafe / stacksafe).
 *
 * At prune points the verifier remembers the state it arrives with (a checkpoint). A later path
 * that reaches the same instruction with a state that an already *completely explored*
 * checkpoint subsumes is safe and stops there: every register live at that point and every
 * stack slot is at least as constrained as in the explored state (scalarSubsumes for scalars,
 * same pointer kind, object and offsets for pointers, ids consistent through a bijection).
 *
 * Checkpoints whose exploration is still in progress are ancestors of the current path (a loop):
 * they are never used to prune (that would accept loops that do not terminate); an exactly
 * equal one means an infinite loop. Each checkpoint counts its unfinished branches (the kernel's
 * `branches`), decremented up the parent chain when a path ends.
 */
import type { Scalar } from './domain.js';
import { scalarEquals, scalarSubsumes } from './domain.js';
import { NOT_INIT, type Reg } from './regs.js';
import { SLOT_INVALID, type Frame, type RefState, type Slot, type State } from './state.js';

export interface Checkpoint {
  readonly insn: number;
  readonly state: State;
  /** Paths still being explored below this checkpoint (0 = completely explored). */
  branches: number;
  readonly parent: Checkpoint | null;
  hit: number;
  miss: number;
}

/** Ends a path: the checkpoints it descends from have one branch less. */
export function pathDone(cp: Checkpoint | null): void {
  for (let c = cp; c; c = c.parent) {
    if (--c.branches > 0) break;
  }
}

class IdMap {
  private readonly fwd = new Map<number, number>();
  private readonly back = new Map<number, number>();
  private tmp = -1;
  /** The kernel's check_ids: a bijection between old and current ids. */
  ids(o: number, c: number): boolean {
    if ((o === 0) !== (c === 0)) return false;
    if (o === 0) return true;
    return this.pair(o, c);
  }
  /** check_scalar_ids: an unlinked scalar is linked to nothing else. */
  scalarIds(o: number, c: number): boolean {
    return this.pair(o === 0 ? this.tmp-- : o, c === 0 ? this.tmp-- : c);
  }
  private pair(o: number, c: number): boolean {
    const f = this.fwd.get(o);
    if (f !== undefined) return f === c;
    if (this.back.has(c)) return false;
    this.fwd.set(o, c);
    this.back.set(c, o);
    return true;
  }
}

const scalarEqual = (a: Scalar, b: Scalar): boolean => a === b || scalarEquals(a, b);

/** regsafe(): is every value of `cur` a value `old` was explored with? (exact: the same). */
function regSafe(o: Reg, c: Reg, ids: IdMap, exact: boolean): boolean {
  if (o.kind === 'not_init') return !exact || c.kind === 'not_init';
  if (c.kind !== o.kind || c.nullable !== o.nullable) return false;
  const within = (a: Scalar, b: Scalar): boolean => (exact ? scalarEqual(a, b) : scalarSubsumes(a, b));
  switch (o.kind) {
    case 'scalar': return within(o.v, c.v) && ids.scalarIds(o.id, c.id);
    case 'ctx': return o.off === c.off && scalarEqual(o.v, c.v);
    case 'stack': return o.frame === c.frame && o.off === c.off && scalarEqual(o.v, c.v);
    case 'map_ptr': return o.map === c.map;
    case 'map_value':
      return o.map === c.map && o.off === c.off && within(o.v, c.v) && ids.ids(o.id, c.id) && ids.ids(o.ref, c.ref);
    case 'mem':
      return o.size === c.size && o.off === c.off && within(o.v, c.v) && ids.ids(o.id, c.id) && ids.ids(o.ref, c.ref);
    case 'btf_id': return true;
  }
}

const INVALID: Slot = { types: SLOT_INVALID, spill: null };

function stackSafe(o: Frame, c: Frame, ids: IdMap, exact: boolean, allowUninit: boolean): boolean {
  const n = Math.max(o.stack.length, c.stack.length);
  for (let spi = 0; spi < n; spi++) {
    const os = o.stack[spi] ?? INVALID;
    const cs = c.stack[spi] ?? INVALID;
    if (os === cs) continue;
    if (exact) {
      if (os.types !== cs.types) return false;
    } else {
      for (let j = 0; j < 8; j++) {
        const ot = os.types[j]!, ct = cs.types[j]!;
        if (ot === '?' || ot === ct) continue;
        if (ot === 'm' && (ct === '0' || (ct === '?' && allowUninit))) continue;
        // A spilled scalar is initialised data too.
        if (ot === 'm' && ct === 'r' && cs.spill?.kind === 'scalar') continue;
        return false;
      }
    }
    if (os.types[7] === 'r' && os.spill && !regSafe(os.spill, cs.spill ?? NOT_INIT, ids, exact)) return false;
  }
  return true;
}

function refsSafe(o: readonly RefState[], c: readonly RefState[], ids: IdMap): boolean {
  if (o.length !== c.length) return false;
  for (let i = 0; i < o.length; i++) if (!ids.ids(o[i]!.id, c[i]!.id)) return false;
  return true;
}

/**
 * states_equal(): `old` covers `cur`. `liveTop` is the set of registers live in the current
 * frame at this instruction, `liveAt(callsite)` those of a caller frame after its call returns.
 * With `exact`, liveness is ignored and values must be identical.
 */
export function statesCover(old: State, cur: State, opts: {
  exact: boolean; allowUninit: boolean; liveTop: number; liveAfterCall: (callsite: number) => number;
}): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  const ids = new IdMap();
  const top = old.frames.length - 1;
  for (let i = top; i >= 0; i--) {
    const of = old.frames[i]!, cf = cur.frames[i]!;
    if (of.callsite !== cf.callsite) return false;
    // Registers of caller frames: r6-r9 (r0-r5 are redefined by the return).
    const live = opts.exact ? 0x3ff : i === top ? opts.liveTop : opts.liveAfterCall(cur.frames[i + 1]!.callsite) & 0x3c0;
    for (let r = 0; r < 10; r++) {
      if (!(live & (1 << r))) continue;
      if (!regSafe(of.regs[r]!, cf.regs[r]!, ids, opts.exact)) return false;
    }
    if (!stackSafe(of, cf, ids, opts.exact, opts.allowUninit)) return false;
  }
  return refsSafe(old.refs, cur.refs, ids);
}
