/**
 * @module split
 * The split: keep every stateless verdict of an eBPF seccomp program in a kernel classic-BPF
 * filter, and send only the rest to the supervisor. Re-exports only.
 */
export * from './analyze.js';
export * from './expr.js';
export * from './format.js';
export * from './lower.js';
export * from './split.js';
export * from './tree.js';
