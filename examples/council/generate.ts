/**
 * Legacy LLM Council data as the Python app wrote it: one JSON file per
 * conversation, `data/<user_id>/<conversation_id>.json` (messages inline,
 * assistant messages with stage1/stage2/stage3/metadata), and a usage file
 * per user, `data/usage/<user_id>.json`. Byte-identical for the same options,
 * optionally with a deterministic ~1% of dirty files and a manifest saying
 * what the import should do with each.
 *
 *   node --import tsx examples/council/generate.ts --out /tmp/council --messages 1000000
 *
 * Every file is derived from (seed, indices) and written as soon as it is
 * made: memory holds one conversation (and the manifest), whatever the size.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { asciiJson, type DirtyRecord, generatorCli, pyIso, Rng, sizeFor, spread } from '../shared/legacy-data.js';

export { type DirtyRecord, REJECT_PATTERNS, type RejectCategory } from '../shared/legacy-data.js';
export { sizeFor };

export interface CouncilOptions {
  /** Output directory: `data/` (and `manifest.json`) go there. */
  dir: string;
  users?: number;
  conversationsPerUser?: number;
  /** Messages per conversation, user and assistant alternating (an odd count ends on an unanswered question). */
  messagesPerConversation?: number;
  seed?: number;
  /** Inject dirty records (default true). */
  dirty?: boolean;
  /** Share of dirty files (default 0.01); at least one of every kind is injected. */
  dirtyRate?: number;
  /** Also write `manifest.json` (default true). */
  writeManifest?: boolean;
}

export interface CouncilManifest {
  generator: 'council';
  options: Required<Omit<CouncilOptions, 'dir' | 'writeManifest'>>;
  /** The data directory: point the import at it. */
  dataDir: string;
  /** Files written under `data/`, and messages inside the conversation files. */
  legacy: { conversationFiles: number; usageFiles: number; messages: number };
  /** Rows each Postgres table should hold after a clean import. */
  expected: { conversations: number; messages: number; usage: number };
  dirty: DirtyRecord[];
}

export interface CouncilResult {
  dataDir: string;
  files: string[];
  manifest: CouncilManifest;
}

const S = { user: 1, conv: 2, msg: 3, usage: 4, dirtyConv: 5, dirtyUsage: 6 } as const;
const BASE = Date.UTC(2024, 9, 1, 9, 0, 0);
const DAY = 86_400_000;

const CONVERSATION_DEFECTS = [
  'malformed_json',
  'missing_created_at',
  'missing_role',
  'role_wrong_type',
  'role_unknown',
  'content_wrong_type',
  'timestamp_words',
  'timestamp_impossible',
  'content_nul',
  'user_mismatch',
  'duplicate_message',
  'duplicate_message',
] as const;
const USAGE_DEFECTS = ['malformed_json', 'tier_unknown', 'counter_wrong_type', 'date_impossible'] as const;

export async function generateCouncil(options: CouncilOptions): Promise<CouncilResult> {
  const o = {
    users: options.users ?? 10,
    conversationsPerUser: options.conversationsPerUser ?? 5,
    messagesPerConversation: options.messagesPerConversation ?? 6,
    seed: options.seed ?? 1,
    dirty: options.dirty ?? true,
    dirtyRate: options.dirtyRate ?? 0.01,
  };
  const { users: U, conversationsPerUser: C, messagesPerConversation: M, seed } = o;
  const rate = o.dirty ? o.dirtyRate : 0;
  const dataDir = path.join(options.dir, 'data');
  const files: string[] = [];
  const dirty: DirtyRecord[] = [];
  const legacy = { conversationFiles: 0, usageFiles: 0, messages: 0 };
  const expected = { conversations: 0, messages: 0, usage: 0 };
  const writer = new FileWriter();
  const put = (rel: string, text: string) => {
    const abs = path.join(dataDir, rel);
    files.push(abs);
    return writer.write(abs, text);
  };

  // ---------------------------------------------------------------- conversations
  const total = U * C;
  const marked =
    rate > 0 ? spread(total, Math.max(CONVERSATION_DEFECTS.length, Math.round(total * rate)), seed, S.dirtyConv) : [];
  let nextMark = 0;
  for (let i = 0; i < U; i++) {
    const uid = userId(seed, i);
    await mkdir(path.join(dataDir, uid), { recursive: true });
    for (let j = 0; j < C; j++) {
      const slot = i * C + j;
      const doc = conversation(seed, i, j, uid, M);
      const rel = `${uid}/${doc.id}.json`;
      let kind: (typeof CONVERSATION_DEFECTS)[number] | undefined;
      if (marked[nextMark] === slot) kind = CONVERSATION_DEFECTS[nextMark++ % CONVERSATION_DEFECTS.length];
      legacy.conversationFiles++;
      if (kind === undefined) {
        expected.conversations++;
        expected.messages += doc.messages.length;
        legacy.messages += doc.messages.length;
        await put(rel, asciiJson(doc, 2));
        continue;
      }
      const rng = Rng.of(seed, S.dirtyConv, slot);
      const { text, entry, messages } = dirtyConversation(kind, doc, rng);
      legacy.messages += messages;
      if (entry.expect === 'dedupe') {
        expected.conversations++;
        expected.messages += doc.messages.length;
      } else if (entry.reason === 'nul_byte') {
        // Only the bad message row is rejected; the conversation and its other messages land.
        expected.conversations++;
        expected.messages += doc.messages.length - 1;
      }
      dirty.push({ loc: { file: rel }, ...entry });
      await put(rel, text);
    }
  }

  // ---------------------------------------------------------------- usage
  await mkdir(path.join(dataDir, 'usage'), { recursive: true });
  const withUsage: number[] = [];
  for (let i = 0; i < U; i++) if (Rng.of(seed, S.usage, i).chance(0.8) || i === 0) withUsage.push(i);
  const usageMarks =
    rate > 0
      ? spread(
          withUsage.length,
          Math.max(USAGE_DEFECTS.length, Math.round(withUsage.length * rate)),
          seed,
          S.dirtyUsage,
        )
      : [];
  let nextUsage = 0;
  for (const [n, i] of withUsage.entries()) {
    const uid = userId(seed, i);
    const rel = `usage/${uid}.json`;
    const doc = usage(seed, i, uid);
    legacy.usageFiles++;
    if (usageMarks[nextUsage] !== n) {
      expected.usage++;
      await put(rel, asciiJson(doc, 2));
      continue;
    }
    const kind = USAGE_DEFECTS[nextUsage++ % USAGE_DEFECTS.length]!;
    const bad: Record<string, unknown> = { ...doc };
    let entry: Omit<DirtyRecord, 'loc'>;
    let text: string | undefined;
    if (kind === 'malformed_json') {
      const full = asciiJson(doc, 2);
      text = full.slice(0, Math.floor(full.length * 0.6));
      entry = { defect: kind, expect: 'reject', reason: 'parse', table: 'usage', note: 'truncated mid-write' };
    } else if (kind === 'tier_unknown') {
      bad.tier = 'platinum';
      entry = { defect: kind, expect: 'reject', reason: 'invalid_value', table: 'usage', column: 'tier' };
    } else if (kind === 'counter_wrong_type') {
      bad.daily_used = 'five';
      entry = { defect: kind, expect: 'reject', reason: 'wrong_type', table: 'usage', column: 'daily_used' };
    } else {
      bad.last_reset_daily = '2024-13-45';
      entry = {
        defect: kind,
        expect: 'reject',
        reason: 'invalid_timestamp',
        table: 'usage',
        column: 'last_reset_daily',
      };
    }
    dirty.push({ loc: { file: rel }, ...entry });
    await put(rel, text ?? asciiJson(bad, 2));
  }
  await writer.drain();

  const manifest: CouncilManifest = { generator: 'council', options: o, dataDir, legacy, expected, dirty };
  if (options.writeManifest ?? true) {
    const manifestFile = path.join(options.dir, 'manifest.json');
    await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    files.push(manifestFile);
  }
  return { dataDir, files, manifest };
}

// ------------------------------------------------------------ records

export type UserMessage = { role: 'user'; content: string };
export type AssistantMessage = {
  role: 'assistant';
  stage1: { model: string; response: string }[];
  stage2: { model: string; ranking: string; parsed_ranking: string[] }[];
  stage3: { model: string; response: string };
  metadata?: Record<string, unknown>;
};
export interface LegacyConversation {
  id: string;
  user_id?: string;
  title: string;
  created_at: string;
  messages: (UserMessage | AssistantMessage)[];
}

/** A Firebase-style uid: 28 letters and digits. */
function userId(seed: number, i: number): string {
  const rng = Rng.of(seed, S.user, i);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let n = 0; n < 28; n++) out += alphabet[Math.floor(rng.next() * alphabet.length)];
  return out;
}

function conversation(seed: number, i: number, j: number, uid: string, messages: number): LegacyConversation {
  const rng = Rng.of(seed, S.conv, i, j);
  const created = BASE + rng.int(0, 200) * DAY + rng.int(0, DAY);
  const list: LegacyConversation['messages'] = [];
  let title = 'New Conversation';
  for (let k = 0; k < messages; k++) {
    const m = Rng.of(seed, S.msg, i, j, k);
    if (k % 2 === 0) {
      const content = question(m);
      if (k === 0 && rng.chance(0.8)) title = content.replace(/[?.!]$/, '').slice(0, 60);
      list.push({ role: 'user', content });
    } else {
      list.push(councilAnswer(m));
    }
  }
  const doc: LegacyConversation = {
    id: rng.uuid(),
    user_id: uid,
    title,
    created_at: pyIso(created, rng.int(0, 999)),
    messages: list,
  };
  // Files from before sign-in existed carry no user_id: the folder says whose they are.
  if (rng.chance(0.05)) delete doc.user_id;
  return doc;
}

function councilAnswer(rng: Rng): AssistantMessage {
  const labels = COUNCIL.map((_, n) => `Response ${String.fromCharCode(65 + n)}`);
  const stage1 = COUNCIL.map((model) => ({ model, response: answer(rng) }));
  const rankings = COUNCIL.map((model) => {
    const order = shuffle([...labels], rng);
    return {
      model,
      ranking: `${sentence(rng)}\n\nFINAL RANKING:\n${order.map((l, n) => `${n + 1}. ${l}`).join('\n')}`,
      parsed_ranking: order,
    };
  });
  const message: AssistantMessage = {
    role: 'assistant',
    stage1,
    stage2: rankings,
    stage3: { model: CHAIRMAN, response: `${answer(rng)} ${answer(rng)}` },
  };
  // Metadata arrived in a later version: older answers lack it.
  if (rng.chance(0.7)) {
    const sums = new Map<string, number>();
    for (const r of rankings) {
      for (const [n, label] of r.parsed_ranking.entries()) sums.set(label, (sums.get(label) ?? 0) + n + 1);
    }
    message.metadata = {
      label_to_model: Object.fromEntries(labels.map((l, n) => [l, COUNCIL[n]!])),
      aggregate_rankings: labels
        .map((l, n) => ({
          model: COUNCIL[n]!,
          average_rank: Math.round(((sums.get(l) ?? 0) / rankings.length) * 100) / 100,
          rankings_count: rankings.length,
        }))
        .sort((a, b) => a.average_rank - b.average_rank || a.model.localeCompare(b.model)),
    };
  }
  return message;
}

function usage(seed: number, i: number, uid: string): Record<string, unknown> {
  const rng = Rng.of(seed, S.usage, i, 1);
  const tier = rng.chance(0.85) ? 'free' : rng.chance(0.8) ? 'pro' : 'enterprise';
  const [daily, monthly] = tier === 'free' ? [10, 100] : tier === 'pro' ? [100, 2000] : [1000, 20000];
  const day = BASE + rng.int(150, 220) * DAY;
  return {
    user_id: uid,
    tier,
    daily_used: rng.int(0, daily),
    daily_limit: daily,
    monthly_used: rng.int(0, monthly),
    monthly_limit: monthly,
    total_queries: rng.int(0, monthly * 6),
    last_reset_daily: pyIso(day).slice(0, 10),
    last_reset_monthly: `${pyIso(day).slice(0, 7)}-01`,
  };
}

function dirtyConversation(
  kind: (typeof CONVERSATION_DEFECTS)[number],
  doc: LegacyConversation,
  rng: Rng,
): { text: string; entry: Omit<DirtyRecord, 'loc'>; messages: number } {
  const bad = structuredClone(doc) as unknown as Record<string, unknown> & { messages: Record<string, unknown>[] };
  const userAt = bad.messages.findIndex((m) => m.role === 'user');
  const assistantAt = bad.messages.findIndex((m) => m.role === 'assistant');
  const on = (table: string, column?: string) => ({ defect: kind, expect: 'reject' as const, table, column });
  let entry: Omit<DirtyRecord, 'loc'>;
  switch (kind) {
    case 'malformed_json': {
      const full = asciiJson(doc, 2);
      // The app died mid-write.
      const text = full.slice(0, Math.floor(full.length * (0.3 + rng.next() * 0.5)));
      return { text, entry: { ...on('conversations'), reason: 'parse', note: 'truncated mid-write' }, messages: 0 };
    }
    case 'missing_created_at':
      delete bad.created_at;
      entry = { ...on('conversations', 'created_at'), reason: 'missing_field' };
      break;
    case 'missing_role':
      delete bad.messages[Math.max(0, assistantAt)]!.role;
      entry = { ...on('messages', 'role'), reason: 'missing_field' };
      break;
    case 'role_wrong_type':
      bad.messages[Math.max(0, userAt)]!.role = 42;
      entry = { ...on('messages', 'role'), reason: 'wrong_type' };
      break;
    case 'role_unknown':
      bad.messages[Math.max(0, userAt)]!.role = 'moderator';
      entry = { ...on('messages', 'role'), reason: 'invalid_value' };
      break;
    case 'content_wrong_type':
      bad.messages[Math.max(0, userAt)]!.content = 12;
      entry = { ...on('messages', 'content'), reason: 'wrong_type' };
      break;
    case 'timestamp_words':
      bad.created_at = 'yesterday';
      entry = { ...on('conversations', 'created_at'), reason: 'invalid_timestamp' };
      break;
    case 'timestamp_impossible':
      bad.created_at = '2024-13-45T10:00:00';
      entry = { ...on('conversations', 'created_at'), reason: 'invalid_timestamp' };
      break;
    case 'content_nul': {
      const m = bad.messages[Math.max(0, userAt)]!;
      const text = String(m.content);
      m.content = `${text.slice(0, 5)}\u0000${text.slice(5)}`;
      entry = { ...on('messages', 'content'), reason: 'nul_byte' };
      break;
    }
    case 'user_mismatch':
      bad.user_id = `${String(doc.user_id ?? 'x').slice(0, 20)}SOMEONE1`;
      entry = { ...on('conversations', 'user_id'), reason: 'user_mismatch', note: 'user_id is not the folder' };
      break;
    case 'duplicate_message': {
      // A double-submitted question: the same user message twice in a row. The import keeps one.
      const at = Math.max(0, userAt);
      bad.messages.splice(at + 1, 0, structuredClone(bad.messages[at]!));
      entry = {
        defect: kind,
        expect: 'dedupe',
        table: 'messages',
        sameAs: { index: at },
        note: `messages[${at + 1}] repeats messages[${at}]`,
      };
      break;
    }
  }
  return { text: asciiJson(bad, 2), entry, messages: bad.messages.length };
}

// ------------------------------------------------------------ text

function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let n = items.length - 1; n > 0; n--) {
    const k = Math.floor(rng.next() * (n + 1));
    [items[n], items[k]] = [items[k]!, items[n]!];
  }
  return items;
}

function sentence(rng: Rng): string {
  const s = rng.words(WORDS, 6, 14);
  return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
}

function answer(rng: Rng): string {
  return rng.chance(0.05) ? `${sentence(rng)} ${rng.pick(UNICODE_BITS)}` : sentence(rng);
}

function question(rng: Rng): string {
  return rng.chance(0.3) ? `${rng.pick(QUESTIONS)} ${sentence(rng)}` : rng.pick(QUESTIONS);
}

const COUNCIL = ['openai/gpt-5.1', 'google/gemini-3-pro-preview', 'anthropic/claude-sonnet-4.5', 'x-ai/grok-4'];
const CHAIRMAN = 'google/gemini-3-pro-preview';
const QUESTIONS = [
  'What is the best way to learn a new programming language?',
  'Explain quantum entanglement to a ten year old.',
  'Should I use PostgreSQL or MongoDB for a chat app?',
  'What are the trade-offs of remote work?',
  'Summarise the causes of the 2008 financial crisis.',
  'How do vaccines train the immune system?',
  'Write a haiku about autumn in Kyoto.',
  'Is it worth learning Rust in 2025?',
  'Compare index funds and individual stocks.',
  'What makes a good API design?',
];
const WORDS = [
  'the',
  'model',
  'answer',
  'evidence',
  'suggests',
  'however',
  'because',
  'important',
  'context',
  'approach',
  'clearly',
  'most',
  'experts',
  'agree',
  'that',
  'data',
  'trade-off',
  'performance',
  'simple',
  'robust',
  'users',
  'learning',
  'practice',
  'consistent',
  'balanced',
  'response',
  'accurate',
  'nuanced',
  'overall',
  'strong',
  'weak',
  'reasoning',
  'example',
  'concise',
  'detail',
  'ranking',
];
const UNICODE_BITS = ['京都の秋', 'Grüße', 'naïve', '🚀', 'Ωmega', 'ﬁne'];

/** Writes files a few at a time: fast for tens of thousands, bounded memory. */
class FileWriter {
  #pending = new Set<Promise<void>>();
  async write(file: string, text: string): Promise<void> {
    if (this.#pending.size >= 32) await Promise.race(this.#pending);
    const p: Promise<void> = writeFile(file, text).then(() => {
      this.#pending.delete(p);
    });
    this.#pending.add(p);
  }
  async drain(): Promise<void> {
    await Promise.all(this.#pending);
  }
}

// ------------------------------------------------------------ CLI

if (import.meta.url === `file://${process.argv[1]}`) {
  await generatorCli('examples/council/generate.ts', sizeFor, generateCouncil, (r) => {
    const { legacy, expected, dirty, dataDir } = r.manifest;
    return { dataDir, files: r.files.length, legacy, expected, dirty: dirty.length };
  });
}
