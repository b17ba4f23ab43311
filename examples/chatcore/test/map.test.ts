/**
 * The import's `map` over generated legacy data, without a loader: every
 * dirty record the map can judge on its own is rejected for the manifest's
 * reason; the ones only the database can judge (NUL bytes, missing parents)
 * and merges/duplicates pass through, keyed so the loader collapses them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { casefold as ferryCasefold, ImportContext, RecordRejected } from '../../../src/import/context.js';
import { tinydb } from '../../../src/import/sources/index.js';
import { type ChatcoreManifest, generateChatcore, REJECT_PATTERNS } from '../generate.js';
import definition from '../import.js';
import { casefold } from '../service.js';

interface Mapped {
  key: string;
  rows?: Record<string, Record<string, unknown>>;
  rejected?: string;
}

describe('chatcore import map', () => {
  let dir: string;
  let manifest: ChatcoreManifest;
  const mapped = new Map<string, Mapped>();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'chatcore-map-'));
    const generated = await generateChatcore({ dir, users: 6, conversationsPerUser: 3, messagesPerConversation: 8 });
    manifest = generated.manifest;
    let ordinal = 0;
    for await (const record of tinydb(generated.file).records()) {
      if (record.kind !== 'record') throw new Error(record.reason);
      const key = `${record.loc.table}/${record.loc.key}`;
      const ctx = new ImportContext(record.loc, '', ordinal++);
      try {
        const rows = (await definition.map(record.value, ctx as never)) as Mapped['rows'];
        mapped.set(key, { key, rows });
      } catch (err) {
        if (!(err instanceof RecordRejected)) throw err;
        mapped.set(key, { key, rejected: err.message });
      }
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('rejects exactly the records the map can judge, for the manifest reason', () => {
    const atLoader = new Set(['nul_byte', 'foreign_key']);
    const expectedRejects = new Set<string>();
    for (const d of manifest.dirty) {
      const key = `${d.loc.table}/${d.loc.key}`;
      const got = mapped.get(key)!;
      if (d.expect === 'reject' && !atLoader.has(d.reason!)) {
        expectedRejects.add(key);
        expect(got.rejected, `${key} ${d.defect}`).toMatch(REJECT_PATTERNS[d.reason!]);
      } else {
        expect(got.rejected, `${key} ${d.defect}`).toBeUndefined();
      }
    }
    const rejected = [...mapped.values()].filter((m) => m.rejected).map((m) => m.key);
    expect(new Set(rejected)).toEqual(expectedRejects);
  });

  it('maps case duplicates onto one user and duplicate messages onto one key', () => {
    const row = (key: string, table: string) => mapped.get(key)!.rows![table]!;
    for (const d of manifest.dirty) {
      if (d.expect === 'merge') {
        const a = row(`users/${d.loc.key}`, 'users');
        const b = row(`users/${d.sameAs!.key}`, 'users');
        expect([a.id, a.username]).toEqual([b.id, b.username]);
      }
      if (d.expect === 'dedupe') {
        const a = row(`messages/${d.loc.key}`, 'messages');
        const b = row(`messages/${d.sameAs!.key}`, 'messages');
        expect([a.conversation_id, a.content_hash]).toEqual([b.conversation_id, b.content_hash]);
        expect(a.position).toBe((b.position as number) + 1);
      }
    }
  });

  it('keeps order (positions grow with time), gives every user a password hash, links ids', async () => {
    const users = [...mapped.values()].flatMap((m) => (m.rows?.users ? [m.rows.users] : []));
    expect(users.every((u) => typeof u.password_hash === 'string' && (u.password_hash as string).length > 20)).toBe(
      true,
    );
    expect(users.some((u) => String(u.password_hash).startsWith('$scrypt$'))).toBe(true);
    const messages = [...mapped.values()].flatMap((m) => (m.rows?.messages ? [m.rows.messages] : []));
    const byConversation = new Map<unknown, Record<string, unknown>[]>();
    for (const m of messages)
      byConversation.set(m.conversation_id, [...(byConversation.get(m.conversation_id) ?? []), m]);
    for (const list of byConversation.values()) {
      for (let i = 1; i < list.length; i++) {
        expect(list[i]!.position as number).toBeGreaterThan(list[i - 1]!.position as number);
        expect((list[i]!.created_at as Date).getTime()).toBeGreaterThanOrEqual(
          (list[i - 1]!.created_at as Date).getTime(),
        );
      }
    }
    // Conversations and messages agree on ids; the app folds usernames as the import does.
    const conversationIds = new Set(
      [...mapped.values()].flatMap((m) => (m.rows?.conversations ? [m.rows.conversations.id] : [])),
    );
    const orphans = new Set(manifest.dirty.filter((d) => d.defect === 'orphan').map((d) => `messages/${d.loc.key}`));
    for (const m of mapped.values()) {
      if (m.rows?.messages && !orphans.has(m.key))
        expect(conversationIds.has(m.rows.messages.conversation_id)).toBe(true);
    }
    for (const name of ['Alice', 'STRASSE', 'straße', 'ﬁle', 'İstanbul'])
      expect(casefold(name)).toBe(ferryCasefold(name));
  });
});
