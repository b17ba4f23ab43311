/**
 * ChatCore's TinyDB file into Postgres — the seed's `migrate_tinydb_to_postgresql.py`.
 *
 *   CHATCORE_DATA=./legacy/db.json ferry import examples/chatcore/import.ts
 *
 * Every legacy record maps to the same row on every run (idempotent):
 * - users: keyed by the casefolded username, so "Alice" and "alice" merge
 *   into one account; id = uuid(username). Users the old SSO bridge made have
 *   no password: they get an unusable hash, written once (`insertOnly`).
 * - conversations: keyed by id — the legacy id when it is a UUID, else a UUID
 *   derived from it — so messages find their conversation without a lookup.
 * - messages: keyed by (conversation_id, content_hash), the hash of role,
 *   content and timestamp: a message saved twice collapses to one row.
 *   `position` is the TinyDB doc id, which grows with time: order is kept.
 * - sessions: keyed by access_jti; documents (`_default`): by uuid(type, id).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineImport, type MapContext, tinydb } from '../../src/import/index.js';
import * as schema from './schema.js';

const here = path.dirname(fileURLToPath(import.meta.url));
type Doc = Record<string, unknown>;
type Ctx = MapContext<any>;

const USER_ROLES = ['admin', 'user'] as const;
const MESSAGE_ROLES = ['user', 'assistant', 'system'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export default defineImport({
  name: 'chatcore',
  schema,
  source: tinydb(process.env.CHATCORE_DATA ?? './legacy/db.json', { cwd: here }),
  tables: {
    users: { key: ['username'], insertOnly: ['password_hash'] },
    conversations: { key: ['id'] },
    messages: { key: ['conversation_id', 'content_hash'] },
    sessions: { key: ['access_jti'] },
    documents: { key: ['id'] },
  },
  async map(doc: Doc, ctx) {
    switch (ctx.loc.table) {
      case 'users': {
        const username = ctx.casefold(requireString(ctx, doc, 'username', 'users'));
        const role = oneOf(ctx, doc, 'role', USER_ROLES, 'users') ?? 'user';
        const password = optionalString(ctx, doc, 'password_hash', 'users');
        return {
          users: {
            id: userId(ctx, username),
            username,
            password_hash: password || (await ctx.unusablePassword()),
            role,
            ...(doc.created_at == null ? {} : { created_at: ctx.timestamp(doc.created_at, 'created_at') }),
            ...(doc.updated_at == null ? {} : { updated_at: ctx.timestamp(doc.updated_at, 'updated_at') }),
          },
        };
      }
      case 'conversations': {
        const legacyId = requireString(ctx, doc, 'conversation_id', 'conversations', 'id');
        const username = requireString(ctx, doc, 'username', 'conversations', 'user_id');
        const created = ctx.timestamp(doc.created_at, 'created_at');
        return {
          conversations: {
            id: conversationId(ctx, legacyId),
            user_id: userId(ctx, ctx.casefold(username)),
            title: optionalString(ctx, doc, 'title', 'conversations') || 'New Conversation',
            created_at: created,
            updated_at: doc.updated_at == null ? created : ctx.timestamp(doc.updated_at, 'updated_at'),
          },
        };
      }
      case 'messages': {
        const legacyConversation = requireString(ctx, doc, 'conversation_id', 'messages');
        const username = requireString(ctx, doc, 'username', 'messages', 'user_id');
        const role =
          oneOf(ctx, doc, 'role', MESSAGE_ROLES, 'messages') ??
          ctx.reject('missing required field "role"', { table: 'messages', column: 'role' });
        const content = requireString(ctx, doc, 'content', 'messages');
        const createdAt = ctx.timestamp(doc.timestamp ?? doc.created_at, 'created_at');
        return {
          messages: {
            conversation_id: conversationId(ctx, legacyConversation),
            user_id: userId(ctx, ctx.casefold(username)),
            role,
            content,
            position: Number(ctx.loc.key),
            content_hash: ctx.hash(role, content, createdAt.toISOString()),
            created_at: createdAt,
          },
        };
      }
      case 'sessions': {
        const username = requireString(ctx, doc, 'username', 'sessions', 'user_id');
        const created = doc.created_at == null ? undefined : ctx.timestamp(doc.created_at, 'created_at');
        return {
          sessions: {
            user_id: userId(ctx, ctx.casefold(username)),
            access_jti: requireString(ctx, doc, 'access_jti', 'sessions'),
            ip_address: optionalString(ctx, doc, 'ip_address', 'sessions') ?? null,
            user_agent: optionalString(ctx, doc, 'user_agent', 'sessions') ?? null,
            ...(created ? { created_at: created } : {}),
            last_activity: doc.last_activity == null ? created : ctx.timestamp(doc.last_activity, 'last_activity'),
            expires_at: doc.expires_at == null ? null : ctx.timestamp(doc.expires_at, 'expires_at'),
          },
        };
      }
      case '_default': {
        // Company data: employees, departments, projects, procedures.
        const type = requireString(ctx, doc, 'type', 'documents', 'doc_type');
        const legacyId = doc.id == null ? `doc:${ctx.loc.key}` : String(doc.id);
        return {
          documents: {
            id: ctx.uuid('chatcore.document', type, legacyId),
            doc_type: type,
            body: doc,
            ...(doc.created_at == null ? {} : { created_at: ctx.timestamp(doc.created_at, 'created_at') }),
          },
        };
      }
      default:
        return ctx.reject(`no mapping for TinyDB table "${ctx.loc.table}"`);
    }
  },
});

/** The id of the user with this (casefolded) username: the same on every run and in every table. */
export const userId = (ctx: Pick<Ctx, 'uuid'>, username: string) => ctx.uuid('chatcore.user', username);

/** Legacy conversation ids that are UUIDs are kept; older `conv_<time>_<hex>` ones get a derived UUID. */
export const conversationId = (ctx: Pick<Ctx, 'uuid'>, legacyId: string) =>
  UUID.test(legacyId) ? legacyId.toLowerCase() : ctx.uuid('chatcore.conversation', legacyId);

function requireString(ctx: Ctx, doc: Doc, field: string, table: string, column = field): string {
  const value = doc[field];
  if (value === undefined || value === null || value === '') {
    return ctx.reject(`missing required field "${field}"`, { table, column });
  }
  if (typeof value !== 'string') return ctx.reject(wrongType(field, 'a string', value), { table, column });
  return value;
}

function optionalString(ctx: Ctx, doc: Doc, field: string, table: string, column = field): string | undefined {
  const value = doc[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return ctx.reject(wrongType(field, 'a string', value), { table, column });
  return value;
}

function oneOf<const V extends string>(
  ctx: Ctx,
  doc: Doc,
  field: string,
  allowed: readonly V[],
  table: string,
): V | undefined {
  const value = optionalString(ctx, doc, field, table);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    return ctx.reject(`unknown ${field} ${JSON.stringify(value)} (allowed: ${allowed.join(', ')})`, {
      table,
      column: field,
    });
  }
  return value as V;
}

function wrongType(field: string, expected: string, value: unknown): string {
  const got = Array.isArray(value) ? 'an array' : typeof value;
  return `${field} has the wrong type: expected ${expected}, got ${got} ${JSON.stringify(value)?.slice(0, 40)}`;
}
