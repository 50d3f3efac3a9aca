/**
 * @module cbpf
 * Classic BPF for seccomp: instruction model and codec, the kernel's checker, an interpreter,
 * bpf_asm / seccomp-tools disassembly and assembly, a builder with labels and JA trampolines, and
 * conversion to eBPF. Re-exports only.
 */
export * from './insn.js';
export * from './codec.js';
export * from './opcodes.js';
export * from './check.js';
export * from './data.js';
export * from './interpreter.js';
export * from './names.js';
export * from './disasm.js';
export * from './asm.js';
export * from './builder.js';
export * from './to-ebpf.js';
