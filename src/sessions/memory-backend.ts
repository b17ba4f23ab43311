import {
  type Backend,
  type CreateResult,
  plain,
  type Read,
  type Rec,
  type TouchResult,
  type WriteResult,
} from './backend.js';

/**
 * The same operations in one process. Each method does its work without
 * awaiting in between, so it is as atomic as a Lua script.
 */
export class MemoryBackend implements Backend {
  readonly #sessions = new Map<string, Map<string, Rec & { gen: number; persistedAt: number }>>();
  readonly #tombs = new Map<string, number>();
  readonly #gens = new Map<string, number>();
  readonly #sweeper: NodeJS.Timeout;

  constructor() {
    this.#sweeper = setInterval(() => this.#sweep(), 30_000);
    this.#sweeper.unref();
  }

  #sweep() {
    const now = Date.now();
    for (const [u, m] of this.#sessions) {
      for (const [j, r] of m) if (r.expiresAt <= now) m.delete(j);
      if (m.size === 0) this.#sessions.delete(u);
    }
    for (const [k, until] of this.#tombs) if (until <= now) this.#tombs.delete(k);
  }

  #userMap(u: string) {
    let m = this.#sessions.get(u);
    if (!m) {
      m = new Map();
      this.#sessions.set(u, m);
    }
    return m;
  }

  #tombed(u: string, jti: string, now: number) {
    const until = this.#tombs.get(`${u}\0${jti}`);
    return until !== undefined && until > now;
  }

  #load(
    u: string,
    jti: string,
    now: number,
  ): { rec: (Rec & { gen: number; persistedAt: number }) | null; dead: boolean } {
    const m = this.#sessions.get(u);
    const r = m?.get(jti);
    if (!r) return { rec: null, dead: false };
    if (r.expiresAt <= now || r.gen !== (this.#gens.get(u) ?? 0)) {
      m!.delete(jti);
      return { rec: null, dead: true };
    }
    return { rec: r, dead: false };
  }

  async create(u: string, jti: string, data: string, ttlMs: number, expectGen: number | null): Promise<CreateResult> {
    const now = Date.now();
    if (this.#load(u, jti, now).rec || this.#tombed(u, jti, now)) return { status: 'taken' };
    const gen = this.#gens.get(u) ?? 0;
    if (expectGen !== null && expectGen !== gen) return { status: 'revoked' };
    const rec = {
      data,
      createdAt: now,
      lastActivityAt: now,
      expiresAt: now + ttlMs,
      version: 1,
      gen,
      persistedAt: now,
    };
    const m = this.#userMap(u);
    m.set(jti, rec);
    return { status: 'ok', rec: plain(rec) };
  }

  async read(u: string, jti: string): Promise<Read> {
    const now = Date.now();
    const gen = this.#gens.get(u) ?? 0;
    const { rec, dead } = this.#load(u, jti, now);
    if (rec) return { status: 'hit', gen, rec: plain(rec) };
    return { status: dead || this.#tombed(u, jti, now) ? 'gone' : 'miss', gen };
  }

  async touch(u: string, jti: string, ttlMs: number, persistEveryMs: number): Promise<TouchResult> {
    const now = Date.now();
    const { rec, dead } = this.#load(u, jti, now);
    if (!rec) return { status: dead || this.#tombed(u, jti, now) ? 'gone' : 'miss' };
    rec.lastActivityAt = now;
    rec.expiresAt = now + ttlMs;
    const persistDue = now - rec.persistedAt >= persistEveryMs;
    if (persistDue) rec.persistedAt = now;
    return { status: 'hit', rec: plain(rec), persistDue };
  }

  async write(u: string, jti: string, data: string, expectVersion: number | null): Promise<WriteResult> {
    const now = Date.now();
    const { rec, dead } = this.#load(u, jti, now);
    if (!rec) return { status: dead || this.#tombed(u, jti, now) ? 'gone' : 'miss' };
    if (expectVersion !== null && expectVersion !== rec.version) return { status: 'conflict' };
    rec.data = data;
    rec.version += 1;
    return { status: 'hit', rec: plain(rec) };
  }

  async revoke(u: string, jti: string, tombstoneMs: number): Promise<boolean> {
    const now = Date.now();
    const live = this.#load(u, jti, now).rec !== null;
    this.#sessions.get(u)?.delete(jti);
    this.#tombs.set(`${u}\0${jti}`, now + tombstoneMs);
    return live;
  }

  async revokeAll(u: string): Promise<number> {
    this.#gens.set(u, (this.#gens.get(u) ?? 0) + 1);
    const n = this.#sessions.get(u)?.size ?? 0;
    this.#sessions.delete(u);
    return n;
  }

  async list(u: string): Promise<Array<{ jti: string; rec: Rec }>> {
    const now = Date.now();
    const out: Array<{ jti: string; rec: Rec }> = [];
    for (const jti of [...(this.#sessions.get(u)?.keys() ?? [])]) {
      const { rec } = this.#load(u, jti, now);
      if (rec) out.push({ jti, rec: plain(rec) });
    }
    return out;
  }

  async fill(u: string, jti: string, rec: Rec, expectGen: number): Promise<boolean> {
    const now = Date.now();
    if (this.#load(u, jti, now).rec || this.#tombed(u, jti, now)) return false;
    const gen = this.#gens.get(u) ?? 0;
    if (gen !== expectGen || rec.expiresAt <= now) return false;
    const m = this.#userMap(u);
    m.set(jti, { ...rec, gen, persistedAt: rec.lastActivityAt });
    return true;
  }

  async gen(u: string): Promise<number> {
    return this.#gens.get(u) ?? 0;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }
}
