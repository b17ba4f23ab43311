import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCouncil, type LegacyConversation, sizeFor } from '../generate.js';

const size = { users: 6, conversationsPerUser: 5, messagesPerConversation: 6 };

describe('council generator', () => {
  const dirs: string[] = [];
  const out = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'council-gen-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  /** One hash over every file's relative path and bytes. */
  const treeHash = async (dataDir: string) => {
    const hash = createHash('sha256');
    const files = (await readdir(dataDir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.relative(dataDir, path.join(e.parentPath, e.name)))
      .sort();
    for (const f of files)
      hash
        .update(f)
        .update('\0')
        .update(await readFile(path.join(dataDir, f)));
    return { files: files.length, hash: hash.digest('hex') };
  };

  it('is deterministic: same seed and size, same files and bytes; another seed, other ones', async () => {
    const a = await generateCouncil({ dir: await out(), ...size, seed: 11 });
    const b = await generateCouncil({ dir: await out(), ...size, seed: 11 });
    const c = await generateCouncil({ dir: await out(), ...size, seed: 12 });
    expect(await treeHash(a.dataDir)).toEqual(await treeHash(b.dataDir));
    expect({ ...a.manifest, dataDir: '' }).toEqual({ ...b.manifest, dataDir: '' });
    expect((await treeHash(c.dataDir)).hash).not.toBe((await treeHash(a.dataDir)).hash);
  });

  it('writes data/<user_id>/<id>.json and data/usage/<user_id>.json as the manifest says', async () => {
    const { dataDir, files, manifest } = await generateCouncil({ dir: await out(), ...size, seed: 5 });
    expect(files.at(-1)).toBe(path.join(path.dirname(dataDir), 'manifest.json'));
    const tree = await treeHash(dataDir);
    expect(tree.files).toBe(manifest.legacy.conversationFiles + manifest.legacy.usageFiles);
    expect(manifest.legacy.conversationFiles).toBe(size.users * size.conversationsPerUser);

    const dirty = new Map(manifest.dirty.map((d) => [d.loc.file!, d]));
    let conversations = 0;
    let messages = 0;
    for (const file of files.filter((f) => f.endsWith('.json') && f.startsWith(dataDir))) {
      const rel = path.relative(dataDir, file);
      const text = await readFile(file, 'utf8');
      const d = dirty.get(rel);
      if (d?.defect === 'malformed_json') {
        expect(() => JSON.parse(text)).toThrow();
        continue;
      }
      const doc = JSON.parse(text);
      if (rel.startsWith('usage/')) {
        expect(path.basename(rel, '.json')).toBe(doc.user_id);
        if (d?.defect === 'tier_unknown') expect(doc.tier).toBe('platinum');
        if (d?.defect === 'counter_wrong_type') expect(doc.daily_used).toBe('five');
        if (d?.defect === 'date_impossible') expect(doc.last_reset_daily).toBe('2024-13-45');
        continue;
      }
      const conv = doc as LegacyConversation & Record<string, any>;
      const [folder, name] = rel.split('/');
      expect(name).toBe(`${conv.id}.json`);
      if (d?.defect === 'user_mismatch') expect(conv.user_id).not.toBe(folder);
      else if (conv.user_id !== undefined) expect(conv.user_id).toBe(folder);
      // A NUL byte rejects only its message row; other rejects take the whole file.
      if (d?.expect === 'reject' && d.defect !== 'content_nul') continue;
      conversations++;
      messages += conv.messages.length - (d?.defect === 'duplicate_message' || d?.defect === 'content_nul' ? 1 : 0);
      if (d?.defect === 'duplicate_message') {
        const at = d.sameAs!.index!;
        expect(conv.messages[at + 1]).toEqual(conv.messages[at]);
      } else {
        expect(conv.messages.map((m) => m.role)).toEqual([
          'user',
          'assistant',
          'user',
          'assistant',
          'user',
          'assistant',
        ]);
      }
      const answer = conv.messages.find((m) => m.role === 'assistant') as Extract<
        LegacyConversation['messages'][number],
        { role: 'assistant' }
      >;
      expect(answer.stage1.length).toBeGreaterThan(1);
      expect(answer.stage2[0]!.parsed_ranking).toHaveLength(answer.stage1.length);
      expect(typeof answer.stage3.response).toBe('string');
    }
    expect({ conversations, messages }).toEqual({
      conversations: manifest.expected.conversations,
      messages: manifest.expected.messages,
    });
    const byDefect = (defect: string) => manifest.dirty.find((d) => d.defect === defect);
    expect(byDefect('content_nul')).toMatchObject({ expect: 'reject', reason: 'nul_byte' });
    expect(
      JSON.parse(await readFile(path.join(dataDir, byDefect('content_nul')!.loc.file!), 'utf8')).messages[0].content,
    ).toContain('\u0000');
    // 11 kinds of conversation defects, 4 of usage (malformed_json is in both).
    expect(new Set(manifest.dirty.map((d) => d.defect)).size).toBe(14);
  });

  it('clean mode writes no dirty files; sizeFor hits a million messages exactly', async () => {
    const { manifest } = await generateCouncil({ dir: await out(), ...size, dirty: false });
    expect(manifest.dirty).toEqual([]);
    expect(manifest.expected.messages).toBe(size.users * size.conversationsPerUser * size.messagesPerConversation);
    expect(manifest.expected.usage).toBe(manifest.legacy.usageFiles);
    const s = sizeFor(1_000_000);
    expect(s.users * s.conversationsPerUser * s.messagesPerConversation).toBe(1_000_000);
  });
});
