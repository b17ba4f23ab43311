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

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of running) {
      try {
        p.kill('SIGCONT');
        p.kill('SIGKILL');
      } catch {}
    }
  });
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
  running.add(p);
  p.once('exit', () => running.delete(p));
  return p;
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

/** Start a redis-server on a spare port; retries another port if that one was taken meanwhile. */
export async function startRedisServer(options: OwnRedisOptions = {}): Promise<OwnRedis> {
  installExitHook();
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
