/**
 * @module test/helpers/cprog
 * Compiles small C programs for tests (victims that make syscalls under a filter) with gcc
 * -O2 -pthread, cached by content in os.tmpdir()/seccomp-ebpf-cprog/<sha256>.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CACHE = join(tmpdir(), 'seccomp-ebpf-cprog');

export interface CompileOptions {
  /** Extra gcc flags (e.g. ['-static'], ['-DMODE=2']). */
  flags?: string[];
}

let gcc: boolean | undefined;

/** True when gcc can be run (tests that need compileC skip otherwise). */
export function gccAvailable(): boolean {
  if (gcc === undefined) {
    try {
      execFileSync('gcc', ['--version'], { stdio: 'ignore' });
      gcc = true;
    } catch {
      gcc = false;
    }
  }
  return gcc;
}

/** Compiles C source text (or a file) and returns the path of the cached binary. */
export function compileC(source: string | { file: string }, opts: CompileOptions = {}): string {
  const text = typeof source === 'string' ? source : readFileSync(source.file, 'utf8');
  const flags = ['-O2', '-pthread', ...(opts.flags ?? [])];
  const hash = createHash('sha256').update(JSON.stringify([text, flags])).digest('hex');
  const out = join(CACHE, hash);
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  // Unique temporaries, then an atomic rename: concurrent test processes may race here.
  const tmp = `${out}.${process.pid}.${Date.now()}`;
  writeFileSync(`${tmp}.c`, text);
  try {
    execFileSync('gcc', [...flags, '-o', tmp, `${tmp}.c`], { stdio: ['ignore', 'pipe', 'pipe'] });
    renameSync(tmp, out);
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`gcc failed for ${typeof source === 'string' ? 'inline source' : source.file}:\n${err.stderr?.toString() ?? err.message}`);
  } finally {
    rmSync(`${tmp}.c`, { force: true });
    rmSync(tmp, { force: true });
  }
  return out;
}
