/**
 * LLM Council's JSON files into Postgres — the seed's `migrate_to_postgres.py`.
 *
 *   COUNCIL_DATA=./legacy/data ferry import examples/council/import.ts
 *
 * Idempotent: every file maps to the same rows on every run.
 * - conversations: `data/<user_id>/<id>.json`, keyed by the conversation's
 *   UUID string. A file whose user_id is not its folder is rejected (the
 *   folder is what the old app trusted); files without a user_id take the
 *   folder's. Messages carry no time of their own: they get the
 *   conversation's created_at, and their order is `position`.
 * - messages: keyed by (conversation_id, position), position = index in the
 *   file after dropping a message identical to the one before it (a
 *   double-submitted question).
 * - usage: `data/usage/<user_id>.json`, keyed by user_id.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineImport, json, type MapContext } from '../../src/import/index.js';
import * as schema from './schema.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.resolve(here, process.env.COUNCIL_DATA ?? './legacy/data');
type Doc = Record<string, unknown>;
type Ctx = MapContext<any>;

const ROLES = ['user', 'assistant'] as const;
const TIERS = ['free', 'pro', 'enterprise'] as const;
const COUNTERS = ['daily_used', 'daily_limit', 'monthly_used', 'monthly_limit', 'total_queries'] as const;

export default defineImport({
  name: 'council',
  schema,
  source: {
    conversations: json.files('*/*.json', { cwd: dataDir, ignore: ['usage/**'] }),
    usage: json.files('usage/*.json', { cwd: dataDir, allowEmpty: true }),
  },
  tables: {
    conversations: { key: ['id'] },
    messages: { key: ['conversation_id', 'position'] },
    usage: { key: ['user_id'] },
  },
  map(doc: Doc, ctx) {
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      return ctx.reject('the file does not hold a JSON object');
    }
    const file = ctx.loc.file ?? '';
    return ctx.source === 'usage' ? mapUsage(doc, file, ctx) : mapConversation(doc, file, ctx);
  },
});

function mapConversation(doc: Doc, file: string, ctx: Ctx) {
  const [folder, name] = file.split('/').slice(-2) as [string, string];
  const userId = optionalString(ctx, doc, 'user_id', 'conversations') ?? folder;
  if (userId !== folder) {
    ctx.reject(`conversation belongs to user ${userId} but is stored under ${folder}/: user_id mismatch`, {
      table: 'conversations',
      column: 'user_id',
    });
  }
  const id = optionalString(ctx, doc, 'id', 'conversations') ?? name.replace(/\.json$/, '');
  if (doc.created_at == null)
    ctx.reject('missing required field "created_at"', { table: 'conversations', column: 'created_at' });
  const createdAt = ctx.timestamp(doc.created_at, 'created_at');
  if (!Array.isArray(doc.messages)) {
    if (doc.messages != null) ctx.reject(wrongType('messages', 'an array', doc.messages), { table: 'messages' });
  }
  const legacyMessages = (doc.messages ?? []) as unknown[];

  const messages: (typeof schema.messages.$inferInsert)[] = [];
  let previous: Doc | undefined;
  for (const [index, raw] of legacyMessages.entries()) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      ctx.reject(`messages[${index}] is not an object`, { table: 'messages' });
    }
    const m = raw as Doc;
    // A double-submitted question is stored twice in a row: keep one. Hashing
    // only when role and content already match spares hashing every answer's
    // stage data (a fifth of this import's CPU).
    if (previous !== undefined && sameSurface(previous, m) && ctx.hash(previous) === ctx.hash(m)) continue;
    previous = m;
    const role = requireRole(ctx, m, index);
    const position = messages.length;
    if (role === 'user') {
      messages.push({
        conversation_id: id,
        position,
        role,
        content: requireString(ctx, m, 'content', `messages[${index}].content`),
        created_at: createdAt,
      });
    } else {
      messages.push({
        conversation_id: id,
        position,
        role,
        content: null,
        stage1_data: (m.stage1 ?? null) as schema.Stage1 | null,
        stage2_data: (m.stage2 ?? null) as schema.Stage2 | null,
        stage3_data: (m.stage3 ?? null) as schema.Stage3 | null,
        metadata: (m.metadata ?? null) as schema.MessageMetadata | null,
        created_at: createdAt,
      });
    }
  }
  return {
    conversations: {
      id,
      user_id: userId,
      title: optionalString(ctx, doc, 'title', 'conversations') || 'New Conversation',
      created_at: createdAt,
      updated_at: doc.updated_at == null ? createdAt : ctx.timestamp(doc.updated_at, 'updated_at'),
    },
    messages,
  };
}

/** Role and content do not differ (compared when plain values): needed, not sufficient, for equal messages. */
function sameSurface(a: Doc, b: Doc): boolean {
  const plain = (v: unknown) => v === null || typeof v !== 'object';
  for (const field of ['role', 'content']) {
    const x = a[field];
    const y = b[field];
    if (plain(x) && plain(y) && x !== y) return false;
  }
  return true;
}

function mapUsage(doc: Doc, file: string, ctx: Ctx) {
  const userId = optionalString(ctx, doc, 'user_id', 'usage') ?? path.basename(file, '.json');
  const tier = optionalString(ctx, doc, 'tier', 'usage') ?? 'free';
  if (!(TIERS as readonly string[]).includes(tier)) {
    ctx.reject(`unknown tier ${JSON.stringify(tier)} (allowed: ${TIERS.join(', ')})`, {
      table: 'usage',
      column: 'tier',
    });
  }
  const counters: Partial<Record<(typeof COUNTERS)[number], number>> = {};
  for (const name of COUNTERS) {
    const value = doc[name];
    if (value == null) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      ctx.reject(wrongType(name, 'a whole number', value), { table: 'usage', column: name });
    }
    counters[name] = value;
  }
  const day = (column: 'last_reset_daily' | 'last_reset_monthly') =>
    doc[column] == null ? {} : { [column]: ctx.timestamp(doc[column], column).toISOString().slice(0, 10) };
  return {
    usage: {
      user_id: userId,
      tier: tier as (typeof TIERS)[number],
      ...counters,
      ...day('last_reset_daily'),
      ...day('last_reset_monthly'),
    },
  };
}

function requireRole(ctx: Ctx, m: Doc, index: number): (typeof ROLES)[number] {
  const column = `messages[${index}].role`;
  const role = m.role;
  if (role == null) return ctx.reject(`missing required field "${column}"`, { table: 'messages', column: 'role' });
  if (typeof role !== 'string')
    return ctx.reject(wrongType(column, 'a string', role), { table: 'messages', column: 'role' });
  if (!(ROLES as readonly string[]).includes(role)) {
    return ctx.reject(`unknown ${column} ${JSON.stringify(role)} (allowed: ${ROLES.join(', ')})`, {
      table: 'messages',
      column: 'role',
    });
  }
  return role as (typeof ROLES)[number];
}

function requireString(ctx: Ctx, doc: Doc, field: string, shown: string): string {
  const value = doc[field];
  if (value == null) return ctx.reject(`missing required field "${shown}"`, { table: 'messages', column: field });
  if (typeof value !== 'string')
    return ctx.reject(wrongType(shown, 'a string', value), { table: 'messages', column: field });
  return value;
}

function optionalString(ctx: Ctx, doc: Doc, field: string, table: string): string | undefined {
  const value = doc[field];
  if (value == null) return undefined;
  if (typeof value !== 'string') return ctx.reject(wrongType(field, 'a string', value), { table, column: field });
  return value;
}

function wrongType(field: string, expected: string, value: unknown): string {
  const got = Array.isArray(value) ? 'an array' : typeof value;
  return `${field} has the wrong type: expected ${expected}, got ${got} ${JSON.stringify(value)?.slice(0, 40)}`;
}
