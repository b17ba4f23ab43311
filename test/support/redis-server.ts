/**
 * A redis-server of a test's own, on a spare loopback port, that the test may
 * pause (SIGSTOP: a hung server whose sockets stay open), resume, kill
 * (SIGKILL) and restart on the same port — never the shared Redis at 6379,
 * which other test files use concurrently.
 *
 *   const redis = await startRedisServer();
 *   ... createCache({ redis: redis.url, ... })
 *   redis.pause(); await sleep(2_500); redis.resume();
 *   await redis.kill(); await redis.restart();
 *   await redis.stop();           // also done when the test process exits
 *
 * No persistence (`--save ''`, no AOF): a restarted server is empty, as a
 * Redis used as a cache usually is after a crash.
 *
 * With `{ tls }` (files from test/support/tls-certs.ts) it listens in TLS
 * only (`--port 0 --tls-port <port>`, no client certificates asked) and
 * `url` is `rediss://`; with `{ password }` it requires AUTH (`requirepass`)
 * and `url` carries it as `default:<password>@`, Upstash's form.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { killOnExit } from './kill-on-exit.js';

export interface OwnRedisOptions {
  /** Serve TLS only, with this certificate (see tls-certs.ts). */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Require this password (`requirepass`); the URL carries it. */
  password?: string;
}

export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  /** The server's pid (changes on restart). */
  readonly pid: number;
  /** SIGSTOP: the server stops answering; connections stay open. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL, and wait for the process to be gone (connections are reset). */
  kill(): Promise<void>;
  /** Start again on the same port (after kill), empty; resolves once it answers PING. */
  restart(): Promise<void>;
  /** Kill it for good (idempotent). */
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the kernel's pick). */
export async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once a PING on 127.0.0.1:port gets +PONG (or -NOAUTH: a server
 * with a password is up too); rejects after `timeoutMs`. `tls`: over TLS,
 * without checking the certificate (this only asks whether it answers).
 */
export async function waitForRedis(port: number, timeoutMs = 10_000, options: { tls?: boolean } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = options.tls
        ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
        : net.connect(port, '127.0.0.1');
      let data = '';
      const done = (v: boolean) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(500, () => done(false));
      sock.once('error', () => done(false));
      sock.on('data', (d) => {
        data += d.toString();
        if (data.includes('\r\n')) done(data.startsWith('+PONG') || data.startsWith('-NOAUTH'));
      });
      sock.once(options.tls ? 'secureConnect' : 'connect', () => sock.write('PING\r\n'));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function spawnServer(port: number, options: OwnRedisOptions = {}): ChildProcess {
  const listen = options.tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        options.tls.certFile,
        '--tls-key-file',
        options.tls.keyFile,
        '--tls-ca-cert-file',
        options.tls.caFile,
        '--tls-auth-clients',
        'no',
      ]
    : ['--port', String(port)];
  const auth = options.password !== undefined ? ['--requirepass', options.password] : [];
  const p = spawn(
    'redis-server',
    [...listen, ...auth, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    { stdio: 'ignore' },
  );
  killOnExit(p);
  return p;
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

/** Start a redis-server on a spare port; retries another port if that one was taken meanwhile. */
export async function startRedisServer(options: OwnRedisOptions = {}): Promise<OwnRedis> {
  const wait = (port: number) => waitForRedis(port, 10_000, { tls: Boolean(options.tls) });
  let port = 0;
  let proc: ChildProcess | undefined;
  for (let attempt = 0; ; attempt++) {
    port = await sparePort();
    proc = spawnServer(port, options);
    try {
      await Promise.race([
        wait(port),
        exited(proc).then(() => {
          throw new Error(`redis-server exited at start on port ${port}`);
        }),
      ]);
      break;
    } catch (err) {
      proc.kill('SIGKILL');
      if (attempt >= 4) throw err;
    }
  }
  let current = proc!;
  let stopped = false;
  return {
    port,
    url: `${options.tls ? 'rediss' : 'redis'}://${
      options.password !== undefined ? `default:${encodeURIComponent(options.password)}@` : ''
    }127.0.0.1:${port}`,
    get pid() {
      return current.pid ?? -1;
    },
    pause() {
      current.kill('SIGSTOP');
    },
    resume() {
      current.kill('SIGCONT');
    },
    async kill() {
      const p = current;
      p.kill('SIGCONT');
      p.kill('SIGKILL');
      await exited(p);
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop()');
      await exited(current);
      // The port may linger in TIME_WAIT for clients, never for a listener: rebinding works at once.
      current = spawnServer(port, options);
      await wait(port);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const p = current;
      try {
        p.kill('SIGCONT');
        p.kill('SIGKILL');
      } catch {}
      await exited(p);
    },
  };
}

// ------------------------------------------------------------------ cluster

export interface OwnRedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...` (every node, masters first). */
  readonly url: string;
  /** Every node's port, in creation order (the first `masters` were created as masters). */
  readonly ports: readonly number[];
  /** `host:port` of each current master, from CLUSTER NODES of a live node. */
  masters(): Promise<string[]>;
  /** Port of the node serving `slot` as master right now. */
  masterOf(slot: number): Promise<number>;
  /** Port of a replica of the master at `masterPort`. */
  replicaOf(masterPort: number): Promise<number>;
  /**
   * Promote `replicaPort` with a manual `CLUSTER FAILOVER` (the master hands
   * over after the replica caught up: no write is lost) and wait until every
   * live node agrees on the new master and the cluster is `ok`.
   */
  failover(replicaPort: number): Promise<void>;
  /**
   * SIGKILL the node at `port` (a master: its replica is promoted once the
   * others notice, after cluster-node-timeout) and wait until the cluster is
   * `ok` again without it.
   */
  kill(port: number): Promise<void>;
  /** Send one command to one node and return its reply as text (redis-cli). */
  cli(port: number, ...args: string[]): Promise<string>;
  /** Kill every node (idempotent); also done when the test process exits. */
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters with one replica each, on spare
 * loopback ports, each node in a temp dir of its own (nodes.conf), created
 * with `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`.
 * Resolves once every node reports `cluster_state:ok` and knows every other
 * node, and every replica's link to its master is up. Everything started is
 * killed again if the start fails.
 */
export async function startRedisCluster(options: { masters?: number } = {}): Promise<OwnRedisCluster> {
  const masters = options.masters ?? 3;
  const count = masters * 2;
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { execFile } = await import('node:child_process');
  const root = mkdtempSync(join(tmpdir(), 'ferry-cluster-'));
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const p of procs) {
      try {
        p.kill('SIGCONT');
        p.kill('SIGKILL');
      } catch {}
    }
    await Promise.all(procs.map(exited));
    rmSync(root, { recursive: true, force: true });
  };
  const cli = (port: number, ...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['-h', '127.0.0.1', '-p', String(port), ...args],
        { timeout: 30_000 },
        (err, out, errOut) =>
          err ? reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${errOut || err.message}`)) : resolve(out),
      );
    });
  const poll = async (what: string, fn: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await fn().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`redis cluster: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const nodes = async (port: number) =>
    (await cli(port, 'cluster', 'nodes'))
      .trim()
      .split('\n')
      .map((line) => {
        const [id, addr, flags, masterId, , , , state, ...slots] = line.split(' ');
        return {
          id: id!,
          port: Number(addr!.split('@')[0]!.split(':')[1]),
          flags: flags!.split(','),
          masterId: masterId!,
          connected: state === 'connected',
          slots: slots as string[],
        };
      });
  const live = () => ports.filter((_, i) => procs[i]!.exitCode === null && procs[i]!.signalCode === null);
  const settled = async () => {
    for (const port of live()) {
      const info = await cli(port, 'cluster', 'info');
      if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${count}`)) return false;
      if (!info.includes('cluster_slots_ok:16384')) return false;
    }
    for (const port of live()) {
      const role = await cli(port, 'info', 'replication');
      if (role.includes('role:slave') && !role.includes('master_link_status:up')) return false;
    }
    // Every live node sees the same masters.
    const views = await Promise.all(
      live().map(async (p) =>
        (await nodes(p))
          .filter((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.length > 0)
          .map((n) => n.port)
          .sort()
          .join(','),
      ),
    );
    return views.every((v) => v === views[0]);
  };
  try {
    for (let i = 0; i < count; i++) {
      const dir = mkdtempSync(join(root, 'node-'));
      for (let attempt = 0; ; attempt++) {
        const port = await sparePort();
        const busPort = await sparePort();
        const p = spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--cluster-port',
            String(busPort),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, 'nodes.conf'),
            '--cluster-node-timeout',
            '2000',
            '--dir',
            dir,
            '--save',
            '',
            '--appendonly',
            'no',
            '--loglevel',
            'warning',
          ],
          { stdio: 'ignore' },
        );
        killOnExit(p);
        try {
          await Promise.race([
            waitForRedis(port),
            exited(p).then(() => {
              throw new Error(`redis-server exited at start on port ${port}`);
            }),
          ]);
          procs.push(p);
          ports.push(port);
          break;
        } catch (err) {
          p.kill('SIGKILL');
          if (attempt >= 4) throw err;
        }
      }
    }
    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
        { timeout: 60_000 },
        (err, out, errOut) => (err ? reject(new Error(`redis-cli --cluster create: ${errOut || out}`)) : resolve()),
      );
    });
    await poll('cluster_state:ok on every node', settled);
  } catch (err) {
    await stop();
    throw err;
  }
  const masterOf = async (slot: number) => {
    for (const port of live()) {
      try {
        for (const n of await nodes(port)) {
          if (!n.flags.includes('master') || n.flags.includes('fail')) continue;
          for (const range of n.slots) {
            if (range.startsWith('[')) continue;
            const [a, b] = range.split('-').map(Number);
            if (slot >= a! && slot <= (b ?? a)!) return n.port;
          }
        }
      } catch {}
    }
    throw new Error(`redis cluster: no master serves slot ${slot}`);
  };
  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    masters: async () =>
      (await nodes(live()[0]!))
        .filter((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.length > 0)
        .map((n) => `127.0.0.1:${n.port}`),
    masterOf,
    async replicaOf(masterPort) {
      const all = await nodes(masterPort);
      const me = all.find((n) => n.flags.includes('myself'))!;
      const r = all.find((n) => n.masterId === me.id && !n.flags.includes('fail'));
      if (!r) throw new Error(`redis cluster: no replica of 127.0.0.1:${masterPort}`);
      return r.port;
    },
    async failover(replicaPort) {
      await cli(replicaPort, 'cluster', 'failover');
      await poll(`127.0.0.1:${replicaPort} to become master`, async () =>
        (await cli(replicaPort, 'info', 'replication')).includes('role:master'),
      );
      await poll('the cluster to settle after the failover', settled);
    },
    async kill(port) {
      const p = procs[ports.indexOf(port)];
      if (!p) throw new Error(`redis cluster: no node on port ${port}`);
      p.kill('SIGCONT');
      p.kill('SIGKILL');
      await exited(p);
      await poll(`the cluster to fail over from 127.0.0.1:${port}`, async () => {
        for (const n of await nodes(live()[0]!)) if (n.port === port && !n.flags.includes('fail')) return false;
        return settled();
      });
    },
    cli,
    stop,
  };
}
