/**
 * A TCP proxy between a cache and the shared Redis, for chaos tests that must
 * not disturb the Redis server other test files are using.
 *
 * - `up`: bytes flow both ways.
 * - `down`: every connection is reset and new ones are closed at once (Redis stopped).
 * - `slow`: connections stay open but nothing is delivered; bytes are held and
 *   delivered in order on `up()` (a stalled network: replies arrive late).
 * - `blackhole`: connections stay open, bytes are dropped; on `up()` those
 *   connections are reset (as TCP would eventually), new ones work.
 */
import net from 'node:net';
import { afterEach } from 'vitest';

export type ProxyMode = 'up' | 'down' | 'slow' | 'blackhole';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  held: { to: net.Socket; data: Buffer }[];
  poisoned: boolean;
}

export class RedisProxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<Pair>();
  #mode: ProxyMode = 'up';
  port = 0;
  connections = 0;

  constructor(
    readonly targetHost = '127.0.0.1',
    readonly targetPort = 6379,
  ) {
    this.#server = net.createServer((client) => this.#accept(client));
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  #accept(client: net.Socket): void {
    this.connections++;
    if (this.#mode === 'down') {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair: Pair = { client, upstream, held: [], poisoned: this.#mode === 'blackhole' };
    this.#pairs.add(pair);
    const forward = (to: net.Socket) => (data: Buffer) => {
      if (this.#mode === 'up' && !pair.poisoned) to.write(data);
      else if (this.#mode === 'slow' && !pair.poisoned) pair.held.push({ to, data });
      else pair.poisoned = true; // blackhole: dropped, the stream is now out of sync
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }

  set(mode: ProxyMode): void {
    this.#mode = mode;
    if (mode === 'down') {
      for (const p of this.#pairs) {
        p.client.resetAndDestroy();
        p.upstream.destroy();
      }
      this.#pairs.clear();
    }
    if (mode === 'up') {
      for (const p of [...this.#pairs]) {
        if (p.poisoned) {
          p.client.resetAndDestroy();
          p.upstream.destroy();
          this.#pairs.delete(p);
          continue;
        }
        for (const h of p.held) h.to.write(h.data);
        p.held = [];
      }
    }
  }

  up(): void {
    this.set('up');
  }

  async close(): Promise<void> {
    this.set('down');
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const opened: RedisProxy[] = [];
let closingRegistered = false;

/** A listening proxy, closed after each test when the file called `autoCloseProxies()`. */
export async function makeProxy(): Promise<RedisProxy> {
  const p = await new RedisProxy().listen();
  opened.push(p);
  return p;
}

/** Close every proxy made with `makeProxy` after each test (call once at a test file's top level). */
export function autoCloseProxies(): void {
  if (closingRegistered) return;
  closingRegistered = true;
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((p) => p.close()));
  });
}
