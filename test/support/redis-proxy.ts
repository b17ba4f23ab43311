/**
 * A TCP proxy in front of the shared Redis that a test can cut and restore,
 * to simulate an outage without touching the Redis server other test files
 * use concurrently.
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Destroy every open connection and refuse new ones (a hard network cut). */
  cut(): void;
  /** Accept connections again. */
  restore(): void;
  /** Hold new data instead of forwarding it (a server that stopped answering). */
  stall(on: boolean): void;
  close(): Promise<void>;
}

export async function startProxy(target = { host: '127.0.0.1', port: 6379 }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let down = false;
  let stalled = false;
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        if (!stalled) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const cut = () => {
    down = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cut,
    restore() {
      down = false;
    },
    stall(on) {
      stalled = on;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
