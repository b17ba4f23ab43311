import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateChatcore, sizeFor } from '../generate.js';

type TinyDb = Record<string, Record<string, Record<string, unknown>>>;
const size = { users: 8, conversationsPerUser: 3, messagesPerConversation: 10 };

describe('chatcore generator', () => {
  const dirs: string[] = [];
  const out = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chatcore-gen-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const sha = async (file: string) =>
    createHash('sha256')
      .update(await readFile(file))
      .digest('hex');

  it('is deterministic: same seed and size, same bytes; another seed, other bytes', async () => {
    const a = await generateChatcore({ dir: await out(), ...size, seed: 7 });
    const b = await generateChatcore({ dir: await out(), ...size, seed: 7 });
    const c = await generateChatcore({ dir: await out(), ...size, seed: 8 });
    expect(await sha(a.file)).toBe(await sha(b.file));
    expect(a.manifest).toEqual(b.manifest);
    expect(await sha(c.file)).not.toBe(await sha(a.file));
  });

  it('writes a TinyDB file whose counts and dirty records match the manifest', async () => {
    const { file, files, manifest } = await generateChatcore({ dir: await out(), ...size, seed: 3 });
    expect(files).toEqual([file, path.join(path.dirname(file), 'manifest.json')]);
    const db = JSON.parse(await readFile(file, 'utf8')) as TinyDb;
    expect(Object.keys(db)).toEqual(['users', 'conversations', 'messages', 'sessions', '_default']);
    for (const [table, n] of Object.entries(manifest.legacy)) expect(Object.keys(db[table]!)).toHaveLength(n);
    // TinyDB doc ids: "1", "2", ... in file order.
    expect(Object.keys(db.messages!).slice(0, 3)).toEqual(['1', '2', '3']);
    const slots = size.users * size.conversationsPerUser * size.messagesPerConversation;
    const rejectedSlots = manifest.dirty.filter(
      (d) => d.loc.table === 'messages' && d.expect === 'reject' && d.defect !== 'orphan',
    ).length;
    expect(manifest.expected).toMatchObject({
      users: size.users,
      conversations: size.users * size.conversationsPerUser,
      messages: slots - rejectedSlots,
      documents: manifest.legacy._default,
    });

    const conversationIds = new Set(Object.values(db.conversations!).map((c) => c.conversation_id));
    const fold = (s: unknown) => String(s).normalize('NFKC').toUpperCase().toLowerCase();
    for (const d of manifest.dirty) {
      const doc = db[d.loc.table!]![d.loc.key!]!;
      expect(doc, `${d.loc.table}/${d.loc.key}`).toBeDefined();
      const same = d.sameAs ? db[d.sameAs.table!]![d.sameAs.key!] : undefined;
      switch (d.defect) {
        case 'case_duplicate':
          expect(doc.username).not.toBe(same!.username);
          expect(fold(doc.username)).toBe(fold(same!.username));
          break;
        case 'duplicate':
          expect(doc).toEqual(same);
          expect(Number(d.loc.key)).toBe(Number(d.sameAs!.key) + 1);
          break;
        case 'orphan':
          expect(conversationIds.has(doc.conversation_id)).toBe(false);
          break;
        case 'missing_content':
          expect(doc).not.toHaveProperty('content');
          break;
        case 'missing_username':
          expect(doc).not.toHaveProperty('username');
          break;
        case 'missing_jti':
          expect(doc).not.toHaveProperty('access_jti');
          break;
        case 'role_wrong_type':
          expect(doc.role).toBe(42);
          break;
        case 'content_nul':
          expect(doc.content).toContain('\u0000');
          break;
        case 'timestamp_words':
          expect([doc.created_at, doc.timestamp, doc.last_activity]).toContain('yesterday');
          break;
        case 'timestamp_impossible':
          expect(String(doc.created_at ?? doc.timestamp)).toMatch(/^2024-13-45/);
          break;
        case 'unknown_user':
          expect(doc.username).toMatch(/^ghost_/);
          break;
      }
    }
    // Every kind is there, even at this small size.
    expect(new Set(manifest.dirty.map((d) => d.defect))).toEqual(
      new Set([
        'case_duplicate',
        'missing_username',
        'role_unknown',
        'timestamp_impossible',
        'timestamp_words',
        'unknown_user',
        'title_wrong_type',
        'missing_content',
        'role_wrong_type',
        'content_nul',
        'duplicate',
        'orphan',
        'missing_jti',
      ]),
    );
    // Python's ensure_ascii: no raw non-ASCII in the file.
    expect(/[^\n -~]/.test(await readFile(file, 'utf8'))).toBe(false);
  });

  it('messages keep their conversation order in doc-id order', async () => {
    const { file } = await generateChatcore({ dir: await out(), ...size, dirty: false });
    const db = JSON.parse(await readFile(file, 'utf8')) as TinyDb;
    const last = new Map<unknown, string>();
    for (const m of Object.values(db.messages!)) {
      const prev = last.get(m.conversation_id);
      if (prev !== undefined) expect(String(m.timestamp) > prev).toBe(true);
      last.set(m.conversation_id, String(m.timestamp));
    }
  });

  it('clean mode writes no dirty records; sizeFor hits the requested message count', async () => {
    const { manifest } = await generateChatcore({ dir: await out(), ...size, dirty: false, writeManifest: false });
    expect(manifest.dirty).toEqual([]);
    expect(manifest.legacy.messages).toBe(manifest.expected.messages);
    expect(manifest.legacy.users).toBe(size.users);
    const s = sizeFor(1_000_000);
    expect(s.users * s.conversationsPerUser * s.messagesPerConversation).toBe(1_000_000);
  });
});
