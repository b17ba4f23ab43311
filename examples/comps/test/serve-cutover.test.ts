/**
 * serve.ts with `COMPS_CUTOVER=1`, run as a process: `GET /cutover` shows
 * the instance's stage, searches go through the cutover (in `off`, the old
 * store alone), and an `advance()` from another process moves it (the
 * instance follows; a search then writes both stores). Twice: the old
 * results as Redis keys (`COMPS_LEGACY_PREFIX`), and in a JSON file
 * (`COMPS_LEGACY_FILE`) with no Redis at all (REDIS_URL at a closed port,
 * the instance polls the stage).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advance } from '../../../src/cutover/index.js';
import { connect } from '../../../src/index.js';
import { freshPostgresDatabase, type ProvisionedDatabase } from '../../../test/support/backends.js';
import { COMPS_CUTOVER } from '../cutover.js';
import { type CompsFerry, compsSchema, postgresSearchStore, type SearchResult, searchKey } from '../store.js';

const serve = new URL('../serve.ts', import.meta.url).pathname;
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

interface Legacy {
  env(): Promise<Record<string, string>>;
  /** Whether the old store holds `key`. */
  has(key: string): Promise<boolean>;
  redisUrl?: string;
  cleanup(): Promise<void>;
}

function redisKeys(): Legacy {
  const prefix = `kuyaserve${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  return {
    env: async () => ({ REDIS_URL, COMPS_LEGACY_PREFIX: prefix }),
    has: async (key) => (await redis.exists(`${prefix}:${key}`)) === 1,
    redisUrl: REDIS_URL,
    async cleanup() {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(keys);
      redis.disconnect();
    },
  };
}

function jsonFile(): Legacy {
  let dir: string | undefined;
  let file = '';
  return {
    async env() {
      dir = await mkdtemp(path.join(os.tmpdir(), 'comps-serve-legacy-'));
      file = path.join(dir, 'legacy.json');
      // Port 1: never served, refused at once (see demo-process.test.ts).
      return { REDIS_URL: 'redis://127.0.0.1:1', COMPS_LEGACY_FILE: file };
    },
    async has(key) {
      const text = await readFile(file, 'utf8').catch(() => '{"results":[]}');
      return (JSON.parse(text) as { results: SearchResult[] }).results.some((r) => r.key === key);
    },
    cleanup: async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

for (const [title, make] of [
  ['the old results as Redis keys', redisKeys],
  ['the old results in a JSON file, no Redis', jsonFile],
] as const) {
  describe(`serve.ts with COMPS_CUTOVER=1: ${title}`, () => {
    let db: ProvisionedDatabase;
    let ferry: CompsFerry;
    let legacy: Legacy;
    let child: ChildProcess | undefined;
    beforeAll(async () => {
      db = await freshPostgresDatabase();
      legacy = make();
    });
    afterAll(async () => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      await ferry?.close();
      await legacy?.cleanup();
      await db?.cleanup();
    });

    it('shows its stage on GET /cutover, writes the old store in off, follows advance() to dual-write', {
      timeout: 90_000,
    }, async () => {
      const proc = spawn(process.execPath, ['--import', 'tsx', serve], {
        env: {
          ...process.env,
          ...(await legacy.env()),
          DATABASE_URL: db.url,
          COMPS_CUTOVER: '1',
          PORT: '0',
          UPSTREAM_DELAY_MS: '5',
          FERRY_DEBUG: '',
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
      const cutover = async () => {
        const res = await fetch(`${url}/cutover`);
        expect(res.status).toBe(200);
        return (await res.json()) as { name: string; stage: string; writes: number };
      };
      ferry = await connect({ schema: compsSchema, url: db.url });
      const postgres = postgresSearchStore(ferry);
      const search = async (card: string) => {
        const res = await fetch(`${url}/comps?q=${encodeURIComponent(card)}`);
        expect(res.status, await res.clone().text()).toBe(200);
        expect(((await res.json()) as { source: string }).source).toBe('upstream');
        return searchKey('sold', card);
      };

      const before = await cutover();
      expect(before).toMatchObject({ name: COMPS_CUTOVER, stage: 'off', writes: 0 });
      // `off`: exactly the old app, the result in the old store alone.
      const first = await search(`Serve Cutover Card ${randomBytes(4).toString('hex')}`);
      expect(await legacy.has(first)).toBe(true);
      expect(await postgres.get(first)).toBeUndefined();
      expect((await cutover()).writes).toBe(1);

      // Moved from this process; returns once the instance follows (Redis rings it, else its poll).
      await advance(ferry, COMPS_CUTOVER, { by: 'serve test', ...(legacy.redisUrl ? { redis: legacy.redisUrl } : {}) });
      expect((await cutover()).stage).toBe('dual-write');
      const second = await search(`Serve Cutover Card ${randomBytes(4).toString('hex')}`);
      expect(await legacy.has(second)).toBe(true);
      expect((await postgres.get(second))?.key).toBe(second);

      proc.kill('SIGTERM');
      expect(await exited, err).toBe(0);
    });
  });
}
