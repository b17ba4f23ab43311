/**
 * Sessions in Redis: every operation is one Lua script (redis-scripts.ts).
 *
 * Keys (`prefix` default `sess`; the braces are a cluster hash tag, so one
 * user's keys share a slot): `sess:{user}:<jti>` (hash),
 * `sess:{user}:<jti>~revoked` (tombstone), `sess:{user}:~gen` (generation, no
 * TTL), `sess:{user}:~index` (sorted set of jtis by expiry).
 */
import { checkScriptSlots, isClusterClient } from '../redis/cluster.js';
import type { RedisLike } from '../redis/connection.js';
import type { Backend, CreateResult, Read, Rec, TouchResult, WriteResult } from './backend.js';
import { SCRIPTS } from './redis-scripts.js';

type Script = (...args: (string | number)[]) => Promise<any>;
type RedisWithScripts = RedisLike & { [K in keyof typeof SCRIPTS]: Script };

function recFrom(a: string[], from: number): Rec {
  return {
    data: a[from]!,
    createdAt: Number(a[from + 1]),
    lastActivityAt: Number(a[from + 2]),
    expiresAt: Number(a[from + 3]),
    version: Number(a[from + 4]),
  };
}

const userPrefix = (prefix: string, u: string) => `${prefix}:{${u}}:`;
function sessionKeys(prefix: string, u: string, jti: string) {
  const p = userPrefix(prefix, u);
  return { sess: p + jti, tomb: `${p}${jti}~revoked`, gen: `${p}~gen`, index: `${p}~index` };
}

/**
 * On a Redis Cluster, throw E_REDIS_CROSSSLOT unless each script's keys share
 * a slot with the client's `keyPrefix`: every script touches one user's keys,
 * under the {user} hash tag, and a keyPrefix can change what is hashed.
 */
export function checkSessionSlots(client: RedisLike, prefix: string): void {
  if (!isClusterClient(client)) return;
  const k = sessionKeys(prefix, 'u', 'j');
  checkScriptSlots(
    'createSessionStore',
    {
      ferrySessCreate: [k.sess, k.tomb, k.gen, k.index],
      ferrySessRevoke: [k.sess, k.tomb, k.index],
      ferrySessRevokeAll: [k.gen, k.index, `${userPrefix(prefix, 'u')}j`],
    },
    client.options?.keyPrefix,
  );
}

export class RedisBackend implements Backend {
  readonly #c: RedisWithScripts;
  readonly #prefix: string;
  readonly #close: () => Promise<void>;

  constructor(client: RedisLike, prefix: string, close: () => Promise<void>) {
    this.#prefix = prefix;
    for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) {
      if (!(name in client)) client.defineCommand(name, { numberOfKeys, lua });
    }
    this.#c = client as RedisWithScripts;
    this.#close = close;
  }

  get client(): RedisLike {
    return this.#c;
  }

  #user(u: string) {
    return userPrefix(this.#prefix, u);
  }
  #keys(u: string, jti: string) {
    return sessionKeys(this.#prefix, u, jti);
  }

  async create(u: string, jti: string, data: string, ttlMs: number, expectGen: number | null): Promise<CreateResult> {
    const k = this.#keys(u, jti);
    const r: string[] = await this.#c.ferrySessCreate(
      k.sess,
      k.tomb,
      k.gen,
      k.index,
      data,
      ttlMs,
      jti,
      expectGen ?? '',
    );
    if (r[0] === 'ok') return { status: 'ok', rec: recFrom(r, 1) };
    return { status: r[0] as 'taken' | 'revoked' };
  }

  async read(u: string, jti: string): Promise<Read> {
    const k = this.#keys(u, jti);
    const r: string[] = await this.#c.ferrySessRead(k.sess, k.tomb, k.gen);
    const gen = Number(r[1]);
    if (r[0] === 'hit') return { status: 'hit', gen, rec: recFrom(r, 2) };
    return { status: r[0] as 'miss' | 'gone', gen };
  }

  async touch(u: string, jti: string, ttlMs: number, persistEveryMs: number): Promise<TouchResult> {
    const k = this.#keys(u, jti);
    const r: string[] = await this.#c.ferrySessTouch(k.sess, k.tomb, k.gen, k.index, ttlMs, jti, persistEveryMs);
    if (r[0] === 'hit') return { status: 'hit', rec: recFrom(r, 1), persistDue: r[6] === '1' };
    return { status: r[0] as 'miss' | 'gone' };
  }

  async write(u: string, jti: string, data: string, expectVersion: number | null): Promise<WriteResult> {
    const k = this.#keys(u, jti);
    const r: string[] = await this.#c.ferrySessWrite(k.sess, k.tomb, k.gen, data, expectVersion ?? '');
    if (r[0] === 'hit') return { status: 'hit', rec: recFrom(r, 1) };
    return { status: r[0] as 'miss' | 'gone' | 'conflict' };
  }

  async revoke(u: string, jti: string, tombstoneMs: number): Promise<boolean> {
    const k = this.#keys(u, jti);
    return (await this.#c.ferrySessRevoke(k.sess, k.tomb, k.index, tombstoneMs, jti)) === 1;
  }

  async revokeAll(u: string): Promise<number> {
    const k = this.#keys(u, '');
    return Number(await this.#c.ferrySessRevokeAll(k.gen, k.index, this.#user(u)));
  }

  async list(u: string): Promise<Array<{ jti: string; rec: Rec; order?: string }>> {
    const k = this.#keys(u, '');
    const r: string[] = await this.#c.ferrySessList(k.index, k.gen, this.#user(u));
    const out: Array<{ jti: string; rec: Rec; order: string }> = [];
    for (let i = 0; i < r.length; i += 7) out.push({ jti: r[i]!, rec: recFrom(r, i + 1), order: r[i + 6]! });
    return out;
  }

  async fill(u: string, jti: string, rec: Rec, expectGen: number): Promise<boolean> {
    const k = this.#keys(u, jti);
    const r = await this.#c.ferrySessFill(
      k.sess,
      k.tomb,
      k.gen,
      k.index,
      rec.data,
      rec.createdAt,
      rec.lastActivityAt,
      rec.expiresAt,
      expectGen,
      jti,
      rec.version,
    );
    return r === 1;
  }

  async gen(u: string): Promise<number> {
    return Number((await this.#c.get(this.#keys(u, '').gen)) ?? 0);
  }

  close(): Promise<void> {
    return this.#close();
  }
}
