/**
 * @module errors
 * The project's base error. Every error thrown on purpose is a SeccompEbpfError with a stable
 * `code` (listed in docs/errors.md) and, where it applies, a location: the file, the ELF
 * section, the byte offset, the instruction index or the source line.
 */

export interface ErrorLocation {
  file?: string;
  section?: string;
  offset?: number;
  /** Instruction index (8-byte slot) inside the program or section. */
  insn?: number;
  /** 1-based line (and column) in a text input. */
  line?: number;
  column?: number;
}

export class SeccompEbpfError extends Error {
  readonly code: string;
  readonly location: ErrorLocation | undefined;

  constructor(code: string, message: string, location?: ErrorLocation, options?: { cause?: unknown }) {
    super(message + formatLocation(location), options);
    this.name = 'SeccompEbpfError';
    this.code = code;
    this.location = location;
  }
}

function formatLocation(loc: ErrorLocation | undefined): string {
  if (!loc) return '';
  const parts: string[] = [];
  if (loc.file !== undefined) parts.push(loc.file);
  if (loc.section !== undefined) parts.push(`section ${loc.section}`);
  if (loc.offset !== undefined) parts.push(`offset 0x${loc.offset.toString(16)}`);
  if (loc.insn !== undefined) parts.push(`insn ${loc.insn}`);
  if (loc.line !== undefined) parts.push(`line ${loc.line}${loc.column !== undefined ? `:${loc.column}` : ''}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** True when `e` is one of ours with the given code. */
export function hasCode(e: unknown, code: string): boolean {
  return e instanceof SeccompEbpfError && e.code === code;
}
