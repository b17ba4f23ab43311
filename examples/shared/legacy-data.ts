/**
 * Shared by the example generators (chatcore, council): deterministic randomness,
 * mulberry32 streams keyed by (seed, ...ints), so any record can be regenerated on its own —
 * the generator writes each table in its own pass without keeping the
 * previous ones in memory.
 */
import { parseArgs } from 'node:util';

/** A 32-bit hash of the seed and the parts (murmur3 finaliser per part). */
export function mix(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  static of(seed: number, ...parts: number[]): Rng {
    return new Rng(mix(seed, ...parts));
  }
  /** mulberry32: a float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  hex(length: number): string {
    let out = '';
    while (out.length < length)
      out += Math.floor(this.next() * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    return out.slice(0, length);
  }
  /** A random (version 4 shaped) UUID. */
  uuid(): string {
    const h = this.hex(32);
    const variant = ((Number.parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
  words(list: readonly string[], min: number, max: number): string {
    const n = this.int(min, max);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.pick(list));
    return out.join(' ');
  }
}

/**
 * Spread `count` marks over `total` slots, evenly with jitter: slot indices,
 * ascending, each slot marked at most once. Deterministic for (seed, salt).
 */
export function spread(total: number, count: number, seed: number, salt: number): number[] {
  const n = Math.min(count, total);
  const rng = Rng.of(seed, salt);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const lo = Math.floor((k * total) / n);
    const hi = Math.floor(((k + 1) * total) / n) - 1;
    out.push(lo + Math.floor(rng.next() * (hi - lo + 1)));
  }
  return out;
}

/** Python's `datetime.isoformat()` of a naive UTC time: `2024-03-05T12:34:56.123456`. */
export function pyIso(ms: number, micros = 0): string {
  return `${new Date(ms).toISOString().slice(0, 23)}${String(micros % 1000).padStart(3, '0')}`;
}

/** Buffered, back-pressure-aware text output. */
export class TextSink {
  #chunks: string[] = [];
  #size = 0;
  constructor(private readonly stream: NodeJS.WritableStream) {}
  async write(text: string): Promise<void> {
    this.#chunks.push(text);
    this.#size += text.length;
    if (this.#size >= 1 << 20) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.#size === 0) return;
    const data = this.#chunks.join('');
    this.#chunks = [];
    this.#size = 0;
    if (!this.stream.write(data)) await new Promise<void>((resolve) => this.stream.once('drain', () => resolve()));
  }
  async end(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    });
  }
}

/** Python's `json.dumps(..., ensure_ascii=True)` escaping of non-ASCII (TinyDB's default storage writes it). */
export function asciiJson(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, null, indent);
  return /[^\n -~]/.test(text)
    ? text.replace(/[^\n -~]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : text;
}

// ------------------------------------------------------------ manifest types

/**
 * Why the import should reject a dirty record:
 * - `parse`: the file is not valid JSON (the source yields an error record);
 * - `missing_field`: a required field is absent (`ctx.reject` in the map);
 * - `wrong_type`: a field has the wrong JSON type, e.g. `role: 42`;
 * - `invalid_value`: right type, value outside the allowed set (`role: "moderator"`);
 * - `invalid_timestamp`: an unparseable or impossible date (`ctx.timestamp`);
 * - `nul_byte`: text holding U+0000, which Postgres text cannot store (schema validation);
 * - `foreign_key`: points at a parent that does not exist (the database's foreign key);
 * - `user_mismatch`: a conversation file whose user_id is not its folder's (council).
 */
export type RejectCategory =
  | 'parse'
  | 'missing_field'
  | 'wrong_type'
  | 'invalid_value'
  | 'invalid_timestamp'
  | 'nul_byte'
  | 'foreign_key'
  | 'user_mismatch';

/** Loose patterns a reject's reason text should match, per category. */
export const REJECT_PATTERNS: Record<RejectCategory, RegExp> = {
  parse: /json|parse|unexpected|malformed|unterminated/i,
  missing_field: /missing/i,
  wrong_type: /wrong type/i,
  invalid_value: /unknown .*allowed|expected one of/i,
  invalid_timestamp: /invalid (timestamp|date)/i,
  nul_byte: /NUL|\\u0000/,
  foreign_key: /foreign key|violates|does not exist|not present/i,
  user_mismatch: /belongs to|mismatch/i,
};

/** One defect the generator put in the legacy data, and what the import should do with it. */
export interface DirtyRecord {
  /** Where the record is: TinyDB table and doc id (chatcore) or file relative to the data dir (council). */
  loc: { table?: string; key?: string; file?: string };
  /** What is wrong, e.g. `role_wrong_type`. */
  defect: string;
  /**
   * `reject`: the record goes to the rejects file for `reason`; `merge`: it
   * lands on an existing row (case-duplicate user); `dedupe`: it collapses
   * into the identical record before it.
   */
  expect: 'reject' | 'merge' | 'dedupe';
  reason?: RejectCategory;
  /** Target table and column the defect concerns. */
  table?: string;
  column?: string;
  /** For merges and dedupes: the record it joins. */
  sameAs?: { table?: string; key?: string; file?: string; index?: number };
  note?: string;
}

/** Sizes giving `messages` messages: 10 conversations per user, 20 messages each. */
export function sizeFor(messages: number) {
  const messagesPerConversation = Math.min(20, Math.max(1, messages));
  const conversationsPerUser = Math.min(10, Math.max(1, Math.ceil(messages / messagesPerConversation)));
  const users = Math.max(1, Math.round(messages / (conversationsPerUser * messagesPerConversation)));
  return { users, conversationsPerUser, messagesPerConversation };
}

export interface GeneratorSize {
  users?: number;
  conversationsPerUser?: number;
  messagesPerConversation?: number;
}

export interface GeneratorOptions extends GeneratorSize {
  dir: string;
  seed: number;
  dirty: boolean;
  dirtyRate: number;
}

/**
 * The command line both generators share:
 * `--out DIR [--messages N | --users N --conversations-per-user N --messages-per-conversation N]
 * [--seed N] [--dirty-rate R] [--clean]`. Prints what `summarise` returns, as JSON.
 */
export async function generatorCli<R>(
  script: string,
  sizeFor: (messages: number) => GeneratorSize,
  generate: (options: GeneratorOptions) => Promise<R>,
  summarise: (result: R) => Record<string, unknown>,
): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      messages: { type: 'string' },
      users: { type: 'string' },
      'conversations-per-user': { type: 'string' },
      'messages-per-conversation': { type: 'string' },
      seed: { type: 'string', default: '1' },
      'dirty-rate': { type: 'string', default: '0.01' },
      clean: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || !values.out) {
    console.log(
      `usage: node --import tsx ${script} --out DIR [--messages N | --users N ` +
        '--conversations-per-user N --messages-per-conversation N] [--seed N] [--dirty-rate 0.01] [--clean]',
    );
    process.exit(values.help ? 0 : 2);
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const started = performance.now();
  const result = await generate({
    dir: values.out,
    ...(values.messages ? sizeFor(Number(values.messages)) : {}),
    ...(values.users ? { users: num(values.users) } : {}),
    ...(values['conversations-per-user'] ? { conversationsPerUser: num(values['conversations-per-user']) } : {}),
    ...(values['messages-per-conversation']
      ? { messagesPerConversation: num(values['messages-per-conversation']) }
      : {}),
    seed: Number(values.seed),
    dirty: !values.clean,
    dirtyRate: Number(values['dirty-rate']),
  });
  console.log(JSON.stringify({ ...summarise(result), ms: Math.round(performance.now() - started) }, null, 2));
}
