/**
 * Graceful shutdown on signals: what Kubernetes (and systemd, and Ctrl-C)
 * expect of a server. On SIGTERM: readiness answers 503 at once, the process
 * keeps serving for `delay` while the load balancer notices, then stops its
 * HTTP servers (requests being served finish), waits for queries in flight,
 * closes caches, session stores and timers, then the pools, and exits 0
 * (1 when something failed to close). A second signal while that runs exits
 * at once, as users expect of a second Ctrl-C.
 *
 *   shutdownOnSignals(ferry, { servers: [server], delay: '5s', close: [cache, sessions] });
 */
import type { ShutdownOptions, ShutdownReport } from '../connect.js';

/** What `shutdownOnSignals` needs of a `Ferry`. */
export interface Shutdownable {
  shutdown(options?: ShutdownOptions): Promise<ShutdownReport>;
}

export interface SignalShutdownOptions extends Omit<ShutdownOptions, 'signal'> {
  /** Default `['SIGTERM', 'SIGINT']`. */
  signals?: NodeJS.Signals[];
  /** Exit when done (default true): code 0, or 1 when something failed to close. */
  exit?: boolean;
  /** Called with the report before exiting (log it). */
  onDone?: (report: ShutdownReport) => void;
}

/** Install the handlers; returns a function that removes them. */
export function shutdownOnSignals(ferry: Shutdownable, options: SignalShutdownOptions = {}): () => void {
  const { signals = ['SIGTERM', 'SIGINT'], exit = true, onDone, ...rest } = options;
  let running = false;
  const handler = (signal: NodeJS.Signals) => {
    if (running) {
      if (exit) process.exit(1);
      return;
    }
    running = true;
    ferry
      .shutdown({ ...rest, signal })
      .then((report) => {
        onDone?.(report);
        if (exit) process.exit(report.errors.length > 0 ? 1 : 0);
      })
      .catch((err) => {
        process.stderr.write(`ferry: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        if (exit) process.exit(1);
      });
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
