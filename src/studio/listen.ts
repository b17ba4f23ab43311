/**
 * Serve a Studio handler on its own `node:http` server (what `ferry studio`
 * does): listening resolves with the port actually bound (port 0 picks a
 * free one); close() stops accepting and ends idle keep-alive connections.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StudioHandler } from './server.js';

export interface Listening {
  port: number;
  close(): Promise<void>;
}

export function listen(handler: StudioHandler, port: number, host: string): Promise<Listening> {
  const server = createServer((req, res) => handler(req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}
