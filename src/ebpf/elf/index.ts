/**
 * @module ebpf/elf
 * The ELF loader for clang-built BPF objects: parseBpfObject (ELF -> linked ObjectSpec),
 * findProgram, and setGlobal for global variables before load.
 */
export { parseBpfObject, parseBpfObjectParts, findProgram, type ParseOptions, type ParsedObject, type FunctionInfo } from './reader.js';
export { setGlobal, findGlobal } from '../globals.js';
