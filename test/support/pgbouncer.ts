/**
 * A PgBouncer of a test's own (Debian's `pgbouncer` package), in transaction
 * pooling mode, on a spare loopback port, in front of the test PostgreSQL
 * (the host and port of TEST_DATABASE_URL, default 127.0.0.1:5432):
 *
 *   const bouncer = await startPgbouncer();
 *   bouncer.url('ferry_t_123')    // postgres://postgres@127.0.0.1:<port>/ferry_t_123?pgbouncer=true
 *   bouncer.rawUrl('ferry_t_123') // the same without pgbouncer=true (what an unaware client would use)
 *   await bouncer.stop();         // also done when the test process exits
 *
 * Every database name is served (`* =` in [databases]), so fresh per-suite
 * databases need no reload. auth_type=trust (the test PostgreSQL trusts
 * loopback too). No `ignore_startup_parameters`: a startup parameter
 * PgBouncer does not track fails the connection, as it does by default in
 * production. PgBouncer refuses to run as root, so under root it runs as the
 * `postgres` OS user (spawn's uid/gid: the child is pgbouncer itself, so
 * stopping it needs no process group). Config and log live in a temp dir,
 * removed on stop; `log()` reads the log (for failure messages).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminUrl } from './backends-config.js';
import { killOnExit } from './kill-on-exit.js';
import { sparePort } from './redis-server.js';

export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN || '/usr/sbin/pgbouncer';

export interface OwnPgbouncer {
  readonly port: number;
  /** The server's pid. */
  readonly pid: number;
  /** URL of `database` through this PgBouncer, marked `pgbouncer=true` for Ferry. */
  url(database: string): string;
  /** The same URL without `pgbouncer=true`. */
  rawUrl(database: string): string;
  /** The log so far. */
  log(): string;
  /** Stop it for good (idempotent); removes its temp dir. */
  stop(): Promise<void>;
}

export interface PgbouncerOptions {
  /** Server connections per database/user pair (default 20, PgBouncer's own default). */
  poolSize?: number;
}

/** uid/gid to run as: the `postgres` OS user under root (else `nobody`), else ourselves. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    try {
      const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
      return { uid: id('-u'), gid: id('-g') };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error('pgbouncer refuses to run as root, and there is neither a postgres nor a nobody user to run it as');
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects when `proc` exits or after `timeoutMs`. */
async function waitForListener(port: number, proc: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`pgbouncer exited at start (port ${port}):\n${log()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      const done = (v: boolean) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(500, () => done(false));
      sock.once('error', () => done(false));
      sock.once('connect', () => done(true));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`pgbouncer on port ${port} did not listen within ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startPgbouncer(options: PgbouncerOptions = {}): Promise<OwnPgbouncer> {
  if (!existsSync(PGBOUNCER_BIN)) {
    throw new Error(`${PGBOUNCER_BIN} not found: install Debian's pgbouncer package (apt-get install pgbouncer).`);
  }
  const upstream = new URL(adminUrl());
  const user = decodeURIComponent(upstream.username) || 'postgres';
  const dir = mkdtempSync(join(tmpdir(), 'ferry-pgbouncer-'));
  // The postgres user must read the config and write the log.
  chmodSync(dir, 0o777);
  const logFile = join(dir, 'pgbouncer.log');
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '(no log)';
    }
  };
  const as = runAs();
  let port = 0;
  let proc: ChildProcess | undefined;
  for (let attempt = 0; ; attempt++) {
    port = await sparePort();
    const ini = join(dir, 'pgbouncer.ini');
    writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`, { mode: 0o644 });
    writeFileSync(
      ini,
      [
        '[databases]',
        `* = host=${upstream.hostname || '127.0.0.1'} port=${upstream.port || '5432'}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'users.txt')}`,
        'pool_mode = transaction',
        `default_pool_size = ${options.poolSize ?? 20}`,
        'max_client_conn = 500',
        `logfile = ${logFile}`,
        'pidfile =',
        // Quick shutdown: test databases are dropped with (force) behind our back.
        'server_login_retry = 1',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    chmodSync(ini, 0o644);
    const p = spawn(PGBOUNCER_BIN, [ini], { stdio: 'ignore', ...(as ?? {}) });
    killOnExit(p);
    proc = p;
    try {
      await waitForListener(port, p, 10_000, log);
      break;
    } catch (err) {
      p.kill('SIGKILL');
      await exited(p);
      if (attempt >= 4) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  const current = proc;
  let stopped = false;
  const base = (database: string) => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`;
  return {
    port,
    pid: current.pid ?? -1,
    url: (database) => `${base(database)}?pgbouncer=true`,
    rawUrl: base,
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      // SIGTERM: immediate shutdown (SIGINT would wait for clients).
      current.kill('SIGTERM');
      const killer = setTimeout(() => current.kill('SIGKILL'), 5_000);
      await exited(current);
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
