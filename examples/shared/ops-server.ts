/**
 * The operations endpoints every example serves, as its seed's runbook asks
 * (seed 001: `/health/ready` pinging Redis and the database, `/metrics`):
 * `/livez`, `/readyz` (ferry/ops health) and `/metrics` (when given), other
 * paths to the app's own handler. With `signals`, SIGTERM/SIGINT shut down
 * gracefully: 503 first, requests being served finish, then caches, session
 * stores, limiters and pools close.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Closable, Ferry } from '../../src/index.js';
import { type CacheLike, type Health, type HealthTarget, health, type SessionsLike } from '../../src/ops/health.js';
import { type Shutdownable, shutdownOnSignals } from '../../src/ops/shutdown.js';

export interface OpsServerOptions {
  port?: number;
  host?: string;
  /** The example's migrations folder: readiness waits for it to be applied. */
  migrations: string;
  cache?: CacheLike;
  sessions?: SessionsLike;
  /** A `/metrics` handler (ferry/ops metrics). */
  metrics?: { handler: http.RequestListener };
  /** The app's own routes. */
  app?: http.RequestListener;
  /** Closed on shutdown (`ferry.shutdown()`, or a signal), after the server and before the pools. */
  close?: Closable[];
  /** Install SIGTERM/SIGINT handlers that shut down and exit (for a real process, not a test). */
  signals?: boolean;
}

export interface OpsServer {
  readonly server: http.Server;
  readonly url: string;
  readonly health: Health;
}

export async function startOpsServer(
  ferry: HealthTarget & Shutdownable & Pick<Ferry<unknown>, 'onShutdown'>,
  options: OpsServerOptions,
): Promise<OpsServer> {
  const h = health(ferry, { migrations: options.migrations, cache: options.cache, sessions: options.sessions });
  const server = http.createServer((req, res) => {
    if (options.metrics && new URL(req.url ?? '/', 'http://x').pathname === '/metrics') {
      options.metrics.handler(req, res);
      return;
    }
    h.handler(req, res, () => {
      if (options.app) options.app(req, res);
      else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  for (const resource of options.close ?? []) ferry.onShutdown(resource);
  if (options.signals) shutdownOnSignals(ferry, { servers: [server], delay: '2s' });
  const { address, port } = server.address() as AddressInfo;
  return { server, url: `http://${address}:${port}`, health: h };
}

/** A 500 with the error's message (the examples' handlers end with it). */
export function serverError(res: http.ServerResponse, err: unknown): void {
  res.writeHead(500, { 'content-type': 'text/plain' });
  res.end(`${err instanceof Error ? err.message : String(err)}\n`);
}
