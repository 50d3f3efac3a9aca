/**
 * @module ebpf/vm/jit
 * The eBPF-to-JavaScript JIT (see ./compile.ts): compileVm is a drop-in, faster createVm.
 */
export { compileVm, isJitCompiled, jitChunks, jitSource, JIT_MAX_SLOTS } from './compile.js';
export type { JitTuning } from './compile.js';
