/**
 * @module ebpf/verifier/domain
 * The one import point of the scalar abstract domain (./scalar.ts, ./tnum.ts) for the verifier
 * core, so the core does not depend on how the domain is split into files.
 */
export {
  scalarAlu, scalarAluFork, scalarConst, scalarConstValue, scalarEndian, scalarEquals, scalarFormat, scalarFromLoad,
  scalarMovsx, scalarSubsumes, scalarTruncate, scalarUnknown, scalarBranch, scalarBranchTaken, formatSnum, type Scalar,
} from './scalar.js';
export { tnumFormat, type Tnum } from './tnum.js';
