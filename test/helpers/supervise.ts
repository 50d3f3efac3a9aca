// Can this machine run programs under a supervised filter? Tests that need it skip with the
// reason this returns (undefined when they can run).
import { loadFilter } from '../../src/index.js';
import { addonAvailable } from '../../src/native/addon.js';
import { gccAvailable } from './cprog.js';

let support: Promise<string | undefined> | undefined;

export function supervisionUnsupported(): Promise<string | undefined> {
  support ??= probe();
  return support;
}

async function probe(): Promise<string | undefined> {
  if (!addonAvailable()) return 'the native addon is not built';
  if (!gccAvailable()) return 'gcc is not available to build the victim programs';
  try {
    const f = await loadFilter(new TextEncoder().encode('w0 = 0x7fff0000\nexit\n'));
    const st = await f.spawn('/bin/true', [], { stdio: 'ignore' }).exited;
    return st.code === 0 ? undefined : `a trivial supervised /bin/true exited with ${JSON.stringify(st)}`;
  } catch (e) {
    return `seccomp user notification is unavailable: ${(e as Error).message}`;
  }
}
