/**
 * Server processes a test file started (redis-server, pgbouncer) are killed
 * when the test process exits, also when it exits without running its
 * afterAll hooks (a crash, a worker torn down): one `exit` hook for them all.
 */
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();
let hooked = false;

/** Kill `child` (SIGCONT first: it may be paused) if it is still running when this process exits. */
export function killOnExit(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const p of running) {
        try {
          p.kill('SIGCONT');
          p.kill('SIGKILL');
        } catch {}
      }
    });
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
}
