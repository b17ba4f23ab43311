/**
 * A PostgreSQL 15 primary and streaming replica of a test's own, on spare
 * loopback ports, built with the machine's binaries (initdb, pg_basebackup -R,
 * pg_ctl from /usr/lib/postgresql/15/bin) — never the shared server at 5432,
 * which the tests may not stop or promote.
 *
 *   const cluster = await startPgCluster();
 *   connect({ url: cluster.primaryUrl, replicas: [cluster.replicaUrl] })
 *   await cluster.setApplyDelay(60_000);   // the replica replays commits a minute late
 *   await cluster.killReplica();            // immediate shutdown: its connections are cut
 *   await cluster.promoteReplica();         // failover: the replica becomes writable
 *   await cluster.stop();                   // also run when the test process exits
 *
 * initdb refuses to run as root, so when the tests run as root every binary
 * runs as the `postgres` OS user (`runuser -u postgres --`) in a temp dir
 * chowned to it. The servers are daemons (pg_ctl start), not children of the
 * test process: `stop()` (call it in afterAll) and an exit hook shut them down
 * with `pg_ctl stop -m immediate` and remove the dir, also when a test failed.
 * fsync is off: the data is thrown away anyway.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { sparePort } from './redis-server.js';

const run = promisify(execFile);
export const PG_BIN = process.env.FERRY_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PgNode {
  readonly port: number;
  readonly dataDir: string;
  /** postgresql://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
}

export interface PgCluster {
  readonly primary: PgNode;
  readonly replica: PgNode;
  /** `recovery_min_apply_delay` on the replica (0 = none), applied with a reload; resolves once it is in effect. */
  setApplyDelay(ms: number): Promise<void>;
  /** `pg_ctl stop -m immediate` on the replica: its backends die, connections are reset. */
  killReplica(): Promise<void>;
  /** SIGSTOP the replica's postmaster and every backend: a hung server whose sockets stay open. */
  pauseReplica(): void;
  /** SIGCONT them. */
  resumeReplica(): void;
  /** Start the replica again (after killReplica); resolves once it accepts connections. */
  startReplica(): Promise<void>;
  /** `pg_ctl stop -m immediate` on the primary. */
  killPrimary(): Promise<void>;
  /** `pg_ctl promote -w` on the replica: it leaves recovery and accepts writes. */
  promoteReplica(): Promise<void>;
  /** Resolves once the replica has replayed everything the primary has written so far. */
  waitForCatchUp(timeoutMs?: number): Promise<void>;
  /** Stop both servers and remove their files (idempotent). */
  stop(): Promise<void>;
}

const live = new Set<string>();
let exitHookInstalled = false;

/** Run a PostgreSQL binary, as `postgres` when we are root (initdb and the server refuse root). */
function asPostgres(bin: string, args: string[]): [string, string[]] {
  const file = join(PG_BIN, bin);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

async function pgBin(bin: string, args: string[]): Promise<string> {
  const [file, argv] = asPostgres(bin, args);
  try {
    const { stdout } = await run(file, argv, { timeout: 120_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

function stopSync(dataDir: string): void {
  // A paused server (pauseReplica) handles pg_ctl's SIGQUIT only once continued.
  try {
    for (const pid of serverPids(dataDir)) process.kill(pid, 'SIGCONT');
  } catch {}
  try {
    const [file, argv] = asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    execFileSync(file, argv, { stdio: 'ignore', timeout: 30_000 });
  } catch {}
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const root of live) {
      stopSync(join(root, 'primary'));
      stopSync(join(root, 'replica'));
      rmSync(root, { recursive: true, force: true });
    }
  });
}

function serverOptions(port: number, socketDir: string): string {
  return [
    `-p ${port}`,
    "-c listen_addresses='127.0.0.1'",
    `-c unix_socket_directories='${socketDir}'`,
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c wal_level=replica',
    '-c max_wal_senders=5',
    '-c hot_standby=on',
    '-c hot_standby_feedback=on',
    '-c max_connections=60',
    '-c shared_buffers=16MB',
    // A restarted replica resumes streaming from where it stopped.
    '-c wal_keep_size=256MB',
  ].join(' ');
}

async function startNode(dataDir: string, port: number, socketDir: string): Promise<void> {
  await pgBin('pg_ctl', ['-D', dataDir, '-l', `${dataDir}.log`, '-o', serverOptions(port, socketDir), '-w', 'start']);
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

async function poll(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const CLUSTER_PREFIX = 'ferry-pgcluster-';

/**
 * Stop and remove clusters whose test process is gone (global-setup calls
 * this once per run): what a run killed with SIGKILL left running.
 */
export function sweepDeadClusters(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(CLUSTER_PREFIX)) continue;
    const root = join(tmpdir(), name);
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(join(root, 'owner.pid'), 'utf8'));
    } catch {}
    if (Number.isInteger(owner) && processAlive(owner)) continue;
    stopSync(join(root, 'replica'));
    stopSync(join(root, 'primary'));
    rmSync(root, { recursive: true, force: true });
  }
}

/** The postmaster of `dataDir` (first line of postmaster.pid) and its children, by pid. */
function serverPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)])
    .toString()
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
  return [postmaster, ...children];
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A primary plus one streaming replica (`pg_basebackup -R`), both started and answering. */
export async function startPgCluster(): Promise<PgCluster> {
  installExitHook();
  const root = mkdtempSync(join(tmpdir(), CLUSTER_PREFIX));
  live.add(root);
  // For sweepDeadClusters(): a run killed outright (SIGKILL, no exit hook) leaves servers behind.
  writeFileSync(join(root, 'owner.pid'), String(process.pid));
  if (process.getuid?.() === 0) chownSync(root, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), -1);
  const primaryDir = join(root, 'primary');
  const replicaDir = join(root, 'replica');
  const primaryPort = await sparePort();
  let replicaPort = await sparePort();
  while (replicaPort === primaryPort) replicaPort = await sparePort();
  const node = (dataDir: string, port: number): PgNode => ({
    port,
    dataDir,
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
  });
  const primary = node(primaryDir, primaryPort);
  const replica = node(replicaDir, replicaPort);
  let stopped = false;
  // Paused server processes (pauseReplica): resumed before any stop, or SIGQUIT would wait for SIGCONT.
  let paused: number[] = [];
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const pid of paused) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {}
    }
    await pgBin('pg_ctl', ['-D', replicaDir, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    await pgBin('pg_ctl', ['-D', primaryDir, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    rmSync(root, { recursive: true, force: true });
    live.delete(root);
  };
  try {
    await pgBin('initdb', ['-D', primaryDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    await startNode(primaryDir, primaryPort, root);
    await pgBin('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primaryPort),
      '-U',
      'postgres',
      '-D',
      replicaDir,
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
      '--no-sync',
    ]);
    await startNode(replicaDir, replicaPort, root);
    await poll('the replica did not start streaming', 60_000, async () => {
      const rows = await query<{ n: number }>(primary.url, 'select count(*)::int as n from pg_stat_replication');
      return rows[0]!.n > 0;
    });
  } catch (err) {
    await stop();
    throw err;
  }

  const cluster: PgCluster = {
    primary,
    replica,
    async setApplyDelay(ms) {
      // ALTER SYSTEM is refused on a standby (read-only): the setting goes in a conf file of its own, then a reload.
      writeFileSync(join(replicaDir, 'ferry-delay.conf'), `recovery_min_apply_delay = '${ms}ms'\n`);
      const conf = join(replicaDir, 'postgresql.conf');
      if (!readFileSync(conf, 'utf8').includes('ferry-delay.conf')) {
        writeFileSync(conf, `${readFileSync(conf, 'utf8')}\ninclude_if_exists = 'ferry-delay.conf'\n`);
      }
      await pgBin('pg_ctl', ['-D', replicaDir, 'reload']);
      await poll('recovery_min_apply_delay was not applied', 30_000, async () => {
        const rows = await query<{ v: string }>(
          replica.url,
          "select setting as v from pg_settings where name = 'recovery_min_apply_delay'",
        );
        return Number(rows[0]!.v) === ms;
      });
    },
    pauseReplica() {
      paused = serverPids(replicaDir);
      for (const pid of paused) process.kill(pid, 'SIGSTOP');
    },
    resumeReplica() {
      for (const pid of paused) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {}
      }
      paused = [];
    },
    async killReplica() {
      await pgBin('pg_ctl', ['-D', replicaDir, '-m', 'immediate', '-w', 'stop']);
    },
    async startReplica() {
      await startNode(replicaDir, replicaPort, root);
    },
    async killPrimary() {
      await pgBin('pg_ctl', ['-D', primaryDir, '-m', 'immediate', '-w', 'stop']);
    },
    async promoteReplica() {
      await pgBin('pg_ctl', ['-D', replicaDir, '-w', 'promote']);
    },
    async waitForCatchUp(timeoutMs = 30_000) {
      const lsn = (await query<{ lsn: string }>(primary.url, 'select pg_current_wal_lsn()::text as lsn'))[0]!.lsn;
      await poll('the replica did not catch up', timeoutMs, async () => {
        const rows = await query<{ ok: boolean }>(
          replica.url,
          `select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn as ok`,
        );
        return rows[0]!.ok === true;
      });
    },
    stop,
  };
  return cluster;
}
