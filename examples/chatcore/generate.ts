/**
 * Legacy ChatCore data: a TinyDB file (`{"users": {"1": {...}}, "conversations": ..., "messages": ...,
 * "sessions": ..., "_default": ...}`) as the Python app wrote it, at any size,
 * byte-identical for the same options, optionally with a deterministic ~1% of
 * dirty records and a manifest saying what each should become.
 *
 *   node --import tsx examples/chatcore/generate.ts --out /tmp/chatcore --messages 1000000
 *
 * Streaming: every record is derived from (seed, indices), so each table is
 * written in its own pass and nothing but the dirty manifest is kept in memory.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  asciiJson,
  type DirtyRecord,
  generatorCli,
  pyIso,
  Rng,
  sizeFor,
  spread,
  TextSink,
} from '../shared/legacy-data.js';

export { type DirtyRecord, REJECT_PATTERNS, type RejectCategory } from '../shared/legacy-data.js';
export { sizeFor };

export interface ChatcoreOptions {
  /** Output directory: `db.json` (and `manifest.json`) go there. */
  dir: string;
  users?: number;
  conversationsPerUser?: number;
  messagesPerConversation?: number;
  seed?: number;
  /** Inject dirty records (default true). */
  dirty?: boolean;
  /** Share of dirty records (default 0.01); at least one of every kind is injected. */
  dirtyRate?: number;
  /** Also write `manifest.json` (default true). */
  writeManifest?: boolean;
}

export interface ChatcoreManifest {
  generator: 'chatcore';
  options: Required<Omit<ChatcoreOptions, 'dir' | 'writeManifest'>>;
  /** Records per TinyDB table, as written (dirty ones included). */
  legacy: Record<'users' | 'conversations' | 'messages' | 'sessions' | '_default', number>;
  /** Rows each Postgres table should hold after a clean import of this file. */
  expected: Record<'users' | 'conversations' | 'messages' | 'sessions' | 'documents', number>;
  dirty: DirtyRecord[];
}

export interface ChatcoreResult {
  /** The TinyDB file. */
  file: string;
  /** Every file written. */
  files: string[];
  manifest: ChatcoreManifest;
}

// Stream salts: each kind of record draws from its own family of streams.
const S = { user: 1, conv: 2, time: 3, msg: 4, session: 5, doc: 6, dirtyMsg: 7, extraMsg: 8, extraUser: 9 } as const;
const BASE = Date.UTC(2023, 0, 2, 8, 0, 0);
const DAY = 86_400_000;

export async function generateChatcore(options: ChatcoreOptions): Promise<ChatcoreResult> {
  const o = {
    users: options.users ?? 10,
    conversationsPerUser: options.conversationsPerUser ?? 5,
    messagesPerConversation: options.messagesPerConversation ?? 20,
    seed: options.seed ?? 1,
    dirty: options.dirty ?? true,
    dirtyRate: options.dirtyRate ?? 0.01,
  };
  const U = o.users;
  const C = o.conversationsPerUser;
  const M = o.messagesPerConversation;
  const seed = o.seed;
  const rate = o.dirty ? o.dirtyRate : 0;
  await mkdir(options.dir, { recursive: true });
  const file = path.join(options.dir, 'db.json');
  const sink = new TextSink(createWriteStream(file));
  const dirty: DirtyRecord[] = [];
  const legacy = { users: 0, conversations: 0, messages: 0, sessions: 0, _default: 0 };
  const expected = { users: U, conversations: U * C, messages: 0, sessions: 0, documents: 0 };

  let first = true;
  const openTable = async (name: string) => {
    await sink.write(`${first ? '{' : ', '}${JSON.stringify(name)}: {`);
    first = false;
  };
  const docWriter = (table: keyof typeof legacy) => {
    let id = 0;
    return async (doc: unknown): Promise<string> => {
      id++;
      legacy[table]++;
      await sink.write(`${id === 1 ? '' : ', '}"${id}": ${asciiJson(doc)}`);
      return String(id);
    };
  };

  // ---------------------------------------------------------------- users
  const user = userFactory(seed, U);
  await openTable('users');
  const writeUser = docWriter('users');
  for (let i = 0; i < U; i++) await writeUser(user(i).doc);
  if (rate > 0) {
    const kinds = ['case_duplicate', 'missing_username', 'role_unknown', 'timestamp_impossible'] as const;
    const count = Math.max(kinds.length, Math.round(U * rate * 2));
    for (let n = 0; n < count; n++) {
      const kind = kinds[n % kinds.length]!;
      const rng = Rng.of(seed, S.extraUser, n);
      const target = rng.int(0, U - 1);
      const base = user(target);
      const doc: Record<string, unknown> = { ...base.doc };
      let entry: Omit<DirtyRecord, 'loc'>;
      if (kind === 'case_duplicate') {
        // The legacy app compared usernames case-sensitively: "Alice" registered again.
        doc.username = flipCase(base.username, rng);
        doc.password_hash = bcryptLike(rng);
        doc.created_at = pyIso(base.createdMs + rng.int(1, 90) * DAY, rng.int(0, 999));
        entry = {
          defect: kind,
          expect: 'merge',
          table: 'users',
          column: 'username',
          sameAs: { table: 'users', key: String(target + 1) },
          note: `${doc.username} is ${base.username} in another case`,
        };
      } else if (kind === 'missing_username') {
        delete doc.username;
        entry = { defect: kind, expect: 'reject', reason: 'missing_field', table: 'users', column: 'username' };
      } else if (kind === 'role_unknown') {
        doc.username = `${base.username}_${rng.hex(4)}`;
        doc.role = 'superuser';
        entry = { defect: kind, expect: 'reject', reason: 'invalid_value', table: 'users', column: 'role' };
      } else {
        doc.username = `${base.username}_${rng.hex(4)}`;
        doc.created_at = '2024-13-45T10:00:00';
        entry = {
          defect: kind,
          expect: 'reject',
          reason: 'invalid_timestamp',
          table: 'users',
          column: 'created_at',
        };
      }
      const key = await writeUser(doc);
      dirty.push({ loc: { table: 'users', key }, ...entry });
    }
  }
  await sink.write('}');

  // ---------------------------------------------------------------- conversations
  const conversation = conversationFactory(seed, user, M);
  await openTable('conversations');
  const writeConv = docWriter('conversations');
  for (let i = 0; i < U; i++) {
    for (let j = 0; j < C; j++) await writeConv(conversation(i, j).doc);
  }
  if (rate > 0) {
    const kinds = ['missing_username', 'timestamp_words', 'unknown_user', 'title_wrong_type'] as const;
    const count = Math.max(kinds.length, Math.round(U * C * rate));
    for (let n = 0; n < count; n++) {
      const kind = kinds[n % kinds.length]!;
      const rng = Rng.of(seed, S.conv, 0xdead, n);
      const base = conversation(rng.int(0, U - 1), rng.int(0, C - 1));
      const doc: Record<string, unknown> = { ...base.doc, conversation_id: rng.uuid() };
      let entry: Omit<DirtyRecord, 'loc'>;
      if (kind === 'missing_username') {
        delete doc.username;
        entry = {
          defect: kind,
          expect: 'reject',
          reason: 'missing_field',
          table: 'conversations',
          column: 'user_id',
        };
      } else if (kind === 'timestamp_words') {
        doc.created_at = 'yesterday';
        entry = {
          defect: kind,
          expect: 'reject',
          reason: 'invalid_timestamp',
          table: 'conversations',
          column: 'created_at',
        };
      } else if (kind === 'unknown_user') {
        doc.username = `ghost_${rng.hex(8)}`;
        entry = {
          defect: kind,
          expect: 'reject',
          reason: 'foreign_key',
          table: 'conversations',
          column: 'user_id',
        };
      } else {
        doc.title = 12345;
        entry = { defect: kind, expect: 'reject', reason: 'wrong_type', table: 'conversations', column: 'title' };
      }
      const key = await writeConv(doc);
      dirty.push({ loc: { table: 'conversations', key }, ...entry });
    }
  }
  await sink.write('}');

  // ---------------------------------------------------------------- messages
  const total = U * C * M;
  const msgKinds = [
    'missing_content',
    'role_wrong_type',
    'role_unknown',
    'timestamp_words',
    'timestamp_impossible',
    'content_nul',
  ] as const;
  const extraKinds = ['duplicate', 'orphan'] as const;
  const dirtySlots =
    rate > 0 ? spread(total, Math.max(msgKinds.length, Math.round(total * rate * 0.6)), seed, S.dirtyMsg) : [];
  const extraSlots =
    rate > 0 ? spread(total, Math.max(extraKinds.length, Math.round(total * rate * 0.4)), seed, S.extraMsg) : [];
  let nextDirty = 0;
  let nextExtra = 0;
  await openTable('messages');
  const writeMsg = docWriter('messages');
  let slot = 0;
  for (let i = 0; i < U; i++) {
    for (let j = 0; j < C; j++) {
      const conv = conversation(i, j);
      for (let k = 0; k < M; k++, slot++) {
        let doc = message(seed, conv, i, j, k);
        let substituted = false;
        if (dirtySlots[nextDirty] === slot) {
          const kind = msgKinds[nextDirty % msgKinds.length]!;
          nextDirty++;
          substituted = true;
          const { doc: bad, entry } = dirtyMessage(kind, doc);
          doc = bad;
          const key = await writeMsg(doc);
          dirty.push({ loc: { table: 'messages', key }, ...entry });
        } else {
          await writeMsg(doc);
          expected.messages++;
        }
        if (extraSlots[nextExtra] === slot) {
          // A clean message written twice (a retried save), or one pointing at a conversation that is gone.
          let kind = extraKinds[nextExtra % extraKinds.length]!;
          nextExtra++;
          if (kind === 'duplicate' && substituted) kind = 'orphan';
          if (kind === 'duplicate') {
            const original = String(legacy.messages);
            const key = await writeMsg(doc);
            dirty.push({
              loc: { table: 'messages', key },
              defect: 'duplicate',
              expect: 'dedupe',
              table: 'messages',
              column: 'content_hash',
              sameAs: { table: 'messages', key: original },
            });
          } else {
            const rng = Rng.of(seed, S.extraMsg, slot);
            const orphan = { ...message(seed, conv, i, j, k), conversation_id: rng.uuid() };
            const key = await writeMsg(orphan);
            dirty.push({
              loc: { table: 'messages', key },
              defect: 'orphan',
              expect: 'reject',
              reason: 'foreign_key',
              table: 'messages',
              column: 'conversation_id',
              note: `conversation ${orphan.conversation_id} does not exist`,
            });
          }
        }
      }
    }
  }
  await sink.write('}');

  // ---------------------------------------------------------------- sessions
  await openTable('sessions');
  const writeSession = docWriter('sessions');
  for (let i = 0; i < U; i++) {
    const u = user(i);
    const rng = Rng.of(seed, S.session, i);
    const n = rng.int(1, 2);
    for (let s = 0; s < n; s++) {
      const created = u.createdMs + rng.int(1, 400) * DAY + rng.int(0, DAY);
      await writeSession({
        username: u.username,
        access_jti: rng.hex(32),
        refresh_jti: rng.hex(32),
        ip_address: `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
        user_agent: rng.pick(USER_AGENTS),
        created_at: pyIso(created, rng.int(0, 999)),
        // time.time() floats, as the session manager stored them
        last_activity: Math.round(created + rng.int(0, 7 * DAY)) / 1000,
      });
      expected.sessions++;
    }
  }
  if (rate > 0) {
    const kinds = ['missing_jti', 'timestamp_words'] as const;
    const count = Math.max(kinds.length, Math.round(expected.sessions * rate));
    for (let n = 0; n < count; n++) {
      const kind = kinds[n % kinds.length]!;
      const rng = Rng.of(seed, S.session, 0xbad, n);
      const u = user(rng.int(0, U - 1));
      const doc: Record<string, unknown> = {
        username: u.username,
        access_jti: rng.hex(32),
        created_at: pyIso(u.createdMs + DAY),
        last_activity: (u.createdMs + 2 * DAY) / 1000,
      };
      if (kind === 'missing_jti') delete doc.access_jti;
      else doc.last_activity = 'yesterday';
      const key = await writeSession(doc);
      dirty.push(
        kind === 'missing_jti'
          ? {
              loc: { table: 'sessions', key },
              defect: kind,
              expect: 'reject',
              reason: 'missing_field',
              table: 'sessions',
              column: 'access_jti',
            }
          : {
              loc: { table: 'sessions', key },
              defect: kind,
              expect: 'reject',
              reason: 'invalid_timestamp',
              table: 'sessions',
              column: 'last_activity',
            },
      );
    }
  }
  await sink.write('}');

  // ---------------------------------------------------------------- _default: company documents
  await openTable('_default');
  const writeDoc = docWriter('_default');
  for (const doc of companyDocuments(seed, U)) {
    await writeDoc(doc);
    expected.documents++;
  }
  await sink.write('}}');
  await sink.end();

  const manifest: ChatcoreManifest = { generator: 'chatcore', options: o, legacy, expected, dirty };
  const files = [file];
  if (options.writeManifest ?? true) {
    const manifestFile = path.join(options.dir, 'manifest.json');
    await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    files.push(manifestFile);
  }
  return { file, files, manifest };
}

// ------------------------------------------------------------ record factories

interface UserInfo {
  username: string;
  createdMs: number;
  doc: Record<string, unknown>;
}

function userFactory(seed: number, users: number) {
  let cached: { i: number; value: UserInfo } | undefined;
  return (i: number): UserInfo => {
    if (cached?.i === i) return cached.value;
    const rng = Rng.of(seed, S.user, i);
    const firstName = rng.pick(FIRST_NAMES);
    const lastName = rng.pick(LAST_NAMES);
    // The seed's default accounts first, then people; some typed their name capitalised.
    let username = SEED_USERS[i] ?? `${firstName.toLowerCase()}.${lastName.toLowerCase()}${i}`;
    if (i >= SEED_USERS.length && rng.chance(0.15)) username = username[0]!.toUpperCase() + username.slice(1);
    const createdMs = BASE + Math.floor((i * 365 * DAY) / Math.max(1, users)) + rng.int(0, 3_600_000);
    const doc: Record<string, unknown> = {
      username,
      full_name: `${firstName} ${lastName}`,
      email: `${username.toLowerCase()}@chatcore.example`,
      role: i === 0 || rng.chance(0.02) ? 'admin' : 'user',
      created_at: pyIso(createdMs, rng.int(0, 999)),
      is_active: i < SEED_USERS.length || rng.chance(0.95),
    };
    // Accounts made by the old SSO bridge have no password.
    if (i < SEED_USERS.length || !rng.chance(0.1)) doc.password_hash = bcryptLike(rng);
    const value = { username, createdMs, doc };
    cached = { i, value };
    return value;
  };
}

export interface ConversationInfo {
  legacyId: string;
  username: string;
  /** Message timestamps, ms. */
  times: number[];
  doc: Record<string, unknown>;
}

function conversationFactory(seed: number, user: (i: number) => UserInfo, messages: number) {
  return (i: number, j: number): ConversationInfo => {
    const u = user(i);
    const rng = Rng.of(seed, S.conv, i, j);
    const created = u.createdMs + rng.int(1, 300) * DAY + rng.int(0, DAY);
    // Older versions named conversations by time; newer ones by UUID.
    const legacyId = rng.chance(0.1) ? `conv_${Math.floor(created / 1000)}_${rng.hex(6)}` : rng.uuid();
    // The old API stored the username as the client sent it.
    const username = rng.chance(0.1) ? flipCase(u.username, rng) : u.username;
    const time = Rng.of(seed, S.time, i, j);
    const times: number[] = [];
    let t = created + time.int(0, 5_000);
    for (let k = 0; k < messages; k++) {
      if (k > 0) t += k % 2 === 1 ? time.int(2_000, 45_000) : time.int(15_000, 900_000);
      times.push(t);
    }
    const doc = {
      conversation_id: legacyId,
      username,
      title: rng.chance(0.2) ? 'New Conversation' : `${rng.pick(TOPICS)} ${rng.pick(TOPIC_SUFFIXES)}`,
      created_at: pyIso(created, rng.int(0, 999)),
      updated_at: pyIso(times.at(-1) ?? created, rng.int(0, 999)),
    };
    return { legacyId, username, times, doc };
  };
}

function message(seed: number, conv: ConversationInfo, i: number, j: number, k: number): Record<string, unknown> {
  const rng = Rng.of(seed, S.msg, i, j, k);
  const role = k % 2 === 0 ? 'user' : 'assistant';
  return {
    conversation_id: conv.legacyId,
    username: conv.username,
    role,
    content: role === 'user' ? userText(rng) : assistantText(rng),
    timestamp: pyIso(conv.times[k]!, rng.int(0, 999)),
  };
}

function dirtyMessage(
  kind:
    | 'missing_content'
    | 'role_wrong_type'
    | 'role_unknown'
    | 'timestamp_words'
    | 'timestamp_impossible'
    | 'content_nul',
  clean: Record<string, unknown>,
): { doc: Record<string, unknown>; entry: Omit<DirtyRecord, 'loc'> } {
  const doc = { ...clean };
  const on = (column: string) => ({ defect: kind, expect: 'reject' as const, table: 'messages', column });
  switch (kind) {
    case 'missing_content':
      delete doc.content;
      return { doc, entry: { ...on('content'), reason: 'missing_field' } };
    case 'role_wrong_type':
      doc.role = 42;
      return { doc, entry: { ...on('role'), reason: 'wrong_type' } };
    case 'role_unknown':
      doc.role = 'moderator';
      return { doc, entry: { ...on('role'), reason: 'invalid_value' } };
    case 'timestamp_words':
      doc.timestamp = 'yesterday';
      return { doc, entry: { ...on('created_at'), reason: 'invalid_timestamp' } };
    case 'timestamp_impossible':
      doc.timestamp = '2024-13-45T25:61:00';
      return { doc, entry: { ...on('created_at'), reason: 'invalid_timestamp' } };
    case 'content_nul': {
      const text = String(doc.content);
      const at = Math.floor(text.length / 2);
      doc.content = `${text.slice(0, at)}\u0000${text.slice(at)}`;
      return { doc, entry: { ...on('content'), reason: 'nul_byte' } };
    }
  }
}

function* companyDocuments(seed: number, users: number): Generator<Record<string, unknown>> {
  const rng = Rng.of(seed, S.doc);
  const departments = DEPARTMENTS.map((name, n) => ({ id: `D${String(n + 1).padStart(2, '0')}`, name }));
  for (const d of departments) {
    yield { type: 'department', id: d.id, name: d.name, budget: rng.int(50, 900) * 1000, floor: rng.int(1, 12) };
  }
  const employees = Math.max(5, Math.ceil(users / 2));
  for (let n = 1; n <= employees; n++) {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    yield {
      type: 'employee',
      id: `E${String(n).padStart(5, '0')}`,
      name: `${first} ${last}`,
      email: `${first}.${last}${n}@corp.example`.toLowerCase(),
      department: rng.pick(departments).id,
      title: rng.pick(JOB_TITLES),
      hired_on: pyIso(BASE - rng.int(30, 4000) * DAY).slice(0, 10),
      skills: Array.from({ length: rng.int(1, 4) }, () => rng.pick(SKILLS)),
    };
  }
  const projects = Math.max(3, Math.ceil(users / 5));
  for (let n = 1; n <= projects; n++) {
    yield {
      type: 'project',
      id: `P${String(n).padStart(4, '0')}`,
      name: `${rng.pick(TOPICS)} ${rng.pick(['rollout', 'migration', 'pilot', 'revamp'])}`,
      status: rng.pick(['planned', 'active', 'done', 'on_hold']),
      department: rng.pick(departments).id,
      members: Array.from({ length: rng.int(2, 6) }, () => `E${String(rng.int(1, employees)).padStart(5, '0')}`),
      created_at: pyIso(BASE + rng.int(0, 365) * DAY),
    };
  }
  for (const [n, title] of PROCEDURES.entries()) {
    yield {
      type: 'procedure',
      id: `PR${String(n + 1).padStart(3, '0')}`,
      title,
      steps: Array.from({ length: rng.int(3, 7) }, (_, s) => `${s + 1}. ${sentence(rng)}`),
      owner: rng.pick(departments).id,
    };
  }
}

// ------------------------------------------------------------ text

function flipCase(username: string, rng: Rng): string {
  const variants = [
    username.toUpperCase(),
    username[0]!.toUpperCase() + username.slice(1),
    username.replace(/[a-z]/g, (c, at: number) => (at % 2 ? c.toUpperCase() : c)),
  ].filter((v) => v !== username);
  return variants.length > 0 ? rng.pick(variants) : username.toUpperCase();
}

function bcryptLike(rng: Rng): string {
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '$2b$12$';
  for (let n = 0; n < 53; n++) out += alphabet[Math.floor(rng.next() * alphabet.length)];
  return out;
}

function sentence(rng: Rng): string {
  const s = rng.words(WORDS, 5, 14);
  return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
}

function userText(rng: Rng): string {
  const q = rng.pick(QUESTIONS);
  return rng.chance(0.3) ? `${q} ${sentence(rng)}` : rng.chance(0.05) ? `${q} ${rng.pick(UNICODE_BITS)}` : q;
}

function assistantText(rng: Rng): string {
  const parts = [sentence(rng), sentence(rng)];
  if (rng.chance(0.4)) parts.push(`\n\n- ${rng.words(WORDS, 3, 6)}\n- ${rng.words(WORDS, 3, 6)}`);
  if (rng.chance(0.2)) parts.push(`\n\n\`\`\`python\nprint("${rng.pick(WORDS)}")\n\`\`\``);
  if (rng.chance(0.05)) parts.push(` ${rng.pick(UNICODE_BITS)}`);
  return parts.join(' ');
}

const SEED_USERS = ['admin', 'user2', 'user3'];
const FIRST_NAMES = [
  'Alice',
  'Bruno',
  'Chen',
  'Dana',
  'Emre',
  'Fatima',
  'Gustav',
  'Hana',
  'Ivan',
  'Jamal',
  'Kofi',
  'Lea',
  'Mateo',
  'Nadia',
  'Oskar',
  'Priya',
  'Quinn',
  'Rosa',
  'Sven',
  'Tomás',
  'Uma',
  'Vera',
  'Wei',
  'Yusuf',
  'Zoë',
];
const LAST_NAMES = [
  'Andersen',
  'Baker',
  'Costa',
  'Dubois',
  'Eriksen',
  'Fischer',
  'García',
  'Haddad',
  'Ito',
  'Jensen',
  'Kowalski',
  'Laurent',
  'Müller',
  'Nakamura',
  'Okafor',
  'Petrov',
  'Rossi',
  'Schmidt',
  'Tanaka',
  'Weber',
];
const TOPICS = [
  'Quarterly report',
  'Onboarding',
  'Vacation policy',
  'Expense claims',
  'VPN access',
  'Sales forecast',
  'Hiring plan',
  'Office move',
  'Security audit',
  'Customer churn',
  'Pricing',
  'Release notes',
];
const TOPIC_SUFFIXES = ['questions', 'draft', 'help', 'summary', 'review', 'ideas', 'follow-up'];
const QUESTIONS = [
  'How many vacation days do I have left?',
  'Who is the manager of the sales department?',
  'Summarise the onboarding procedure.',
  'Which projects is engineering working on?',
  'Can you draft an email to the team about Friday?',
  'What is the expense limit for travel?',
  'How do I reset my VPN token?',
  'List the open positions in marketing.',
  'Explain the Q3 numbers in simple terms.',
  'thanks!',
  'ok',
  'Translate this into German please.',
];
const WORDS = [
  'the',
  'team',
  'report',
  'policy',
  'project',
  'budget',
  'deadline',
  'review',
  'customer',
  'process',
  'approval',
  'manager',
  'department',
  'quarter',
  'growth',
  'request',
  'access',
  'document',
  'meeting',
  'schedule',
  'update',
  'should',
  'will',
  'can',
  'needs',
  'includes',
  'requires',
  'before',
  'after',
  'during',
  'with',
  'for',
  'each',
  'new',
  'current',
  'annual',
  'weekly',
  'shared',
  'internal',
  'final',
];
const UNICODE_BITS = ['Grüße aus München', 'naïve café', '東京オフィス', 'спасибо', '👍', '🚀 launch', 'ﬁle ﬂow'];
const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'People', 'Support', 'Legal'];
const JOB_TITLES = [
  'Engineer',
  'Senior Engineer',
  'Account Executive',
  'Designer',
  'Analyst',
  'Team Lead',
  'Recruiter',
  'Counsel',
];
const SKILLS = ['python', 'sql', 'negotiation', 'figma', 'excel', 'kubernetes', 'writing', 'german', 'accounting'];
const PROCEDURES = [
  'Expense reimbursement',
  'Laptop request',
  'Incident response',
  'Vacation request',
  'Customer escalation',
  'New hire onboarding',
  'Offboarding',
  'Purchase order',
  'Security review',
  'Travel booking',
];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Version/17.2 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'python-requests/2.31.0',
];

// ------------------------------------------------------------ CLI

if (import.meta.url === `file://${process.argv[1]}`) {
  await generatorCli('examples/chatcore/generate.ts', sizeFor, generateChatcore, (r) => {
    const { legacy, expected, dirty } = r.manifest;
    return { files: r.files, legacy, expected, dirty: dirty.length };
  });
}
