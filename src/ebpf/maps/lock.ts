/**
 * @module ebpf/maps/lock
 * A small mutex over one Int32 word of a SharedArrayBuffer, so that two threads (the
 * supervisor's worker and the embedding application's main thread) can change a map's
 * structure (insert, delete, LRU order) without corrupting it.
 *
 * Word states: 0 free, 1 locked, 2 locked with (possible) waiters. This is the classic
 * three-state futex mutex: uncontended lock/unlock are one compareExchange each; a contended
 * locker spins briefly, then sleeps in Atomics.wait until the owner's notify. Critical sections
 * are a few dozen operations, so the spin almost always wins.
 *
 * A thread terminated while holding the lock (Worker.terminate() does not run finally
 * blocks) would leave it held forever; instead of hanging, a locker that has waited
 * LOCK_TIMEOUT_MS throws ERR_MAP_LOCK_TIMEOUT.
 */
import { SeccompEbpfError } from '../../errors.js';

const SPINS = 200;
/** Longest wait for the lock: critical sections take microseconds. */
export const LOCK_TIMEOUT_MS = 1000;

/** True where Atomics.wait may block (not on a browser's main thread); Node allows it anywhere. */
let canWait = true;

export class SharedLock {
  constructor(
    private readonly word: Int32Array,
    private readonly index: number,
  ) {}

  lock(): void {
    const w = this.word;
    const i = this.index;
    if (Atomics.compareExchange(w, i, 0, 1) === 0) return;
    for (let n = 0; n < SPINS; n++) {
      if (Atomics.load(w, i) === 0 && Atomics.compareExchange(w, i, 0, 1) === 0) return;
    }
    // Announce a waiter (state 2) and sleep until the word changes.
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    let c = Atomics.exchange(w, i, 2);
    while (c !== 0) {
      if (Date.now() > deadline) {
        throw new SeccompEbpfError('ERR_MAP_LOCK_TIMEOUT', `map lock held for more than ${LOCK_TIMEOUT_MS} ms (a thread died holding it?)`);
      }
      sleepWhile(w, i, 2);
      c = Atomics.exchange(w, i, 2);
    }
  }

  unlock(): void {
    const w = this.word;
    const i = this.index;
    if (Atomics.sub(w, i, 1) !== 1) {
      // There were waiters: release fully and wake one.
      Atomics.store(w, i, 0);
      Atomics.notify(w, i, 1);
    }
  }

  /** Runs `fn` with the lock held. */
  with<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }
}

function sleepWhile(w: Int32Array, i: number, value: number): void {
  if (canWait) {
    try {
      // A bounded wait: a missed notify costs at most a millisecond.
      Atomics.wait(w, i, value, 1);
      return;
    } catch {
      canWait = false;
    }
  }
  // Fallback: busy-wait (environments that forbid blocking).
}
