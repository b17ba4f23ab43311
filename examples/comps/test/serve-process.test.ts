/**
 * serve.ts run as people run it (a process, DATABASE_URL, REDIS_URL, PORT):
 * it serves, and SIGTERM shuts it down gracefully — readiness 503 at once,
 * the search in flight answered, exit 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshPostgresDatabase, type ProvisionedDatabase } from '../../../test/support/backends.js';

const serve = new URL('../serve.ts', import.meta.url).pathname;
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

let db: ProvisionedDatabase;
let child: ChildProcess | undefined;
beforeAll(async () => {
  db = await freshPostgresDatabase();
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await db?.cleanup();
});

it('serves, then on SIGTERM answers 503 on /readyz, finishes the search in flight and exits 0', {
  timeout: 60_000,
}, async () => {
  const proc = spawn(process.execPath, ['--import', 'tsx', serve], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL,
      PORT: '0',
      UPSTREAM_DELAY_MS: '300',
      FERRY_DEBUG: '',
      COMPS_CUTOVER: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout?.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    exited.then((code) => reject(new Error(`serve.ts exited ${code}: ${err}`)));
  });
  expect(out).toMatch(/^comps: postgres at /);
  expect((await fetch(`${url}/readyz`)).status).toBe(200);
  // Without COMPS_CUTOVER the results go straight to the database: no cutover to show.
  expect((await fetch(`${url}/cutover`)).status).toBe(404);

  // A search that waits 300 ms on the upstream, then the signal while it is in flight.
  // A card never searched before (Redis is shared, and outlives the run): the upstream is asked.
  const search = fetch(`${url}/comps?q=Shutdown+Test+Card+${randomBytes(6).toString('hex')}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  proc.kill('SIGTERM');
  await expect.poll(async () => (await fetch(`${url}/readyz`)).status).toBe(503);
  const answered = await search;
  expect(answered.status).toBe(200);
  expect(((await answered.json()) as { source: string }).source).toBe('upstream');
  expect(await exited, err).toBe(0);
});
