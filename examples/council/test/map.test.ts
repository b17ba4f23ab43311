/**
 * The import's `map` over generated legacy files, without a loader: each
 * dirty file the map (or the source, for malformed JSON) can judge is
 * rejected for the manifest's reason; NUL bytes are left for the loader's
 * schema validation; a double-submitted message is dropped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportContext, RecordRejected } from '../../../src/import/context.js';
import type { Source } from '../../../src/import/source.js';
import { type CouncilManifest, generateCouncil, REJECT_PATTERNS } from '../generate.js';

interface Mapped {
  rows?: Record<string, any>;
  rejected?: string;
}

describe('council import map', () => {
  let dir: string;
  let manifest: CouncilManifest;
  const mapped = new Map<string, Mapped>();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'council-map-'));
    const generated = await generateCouncil({ dir, users: 6, conversationsPerUser: 5, messagesPerConversation: 6 });
    manifest = generated.manifest;
    // The import file reads COUNCIL_DATA when it is loaded.
    process.env.COUNCIL_DATA = generated.dataDir;
    const definition = (await import('../import.js')).default;
    let ordinal = 0;
    for (const [name, source] of Object.entries(definition.source as Record<string, Source>)) {
      for await (const record of source.records()) {
        const file = record.loc.file!;
        if (record.kind === 'error') {
          mapped.set(file, { rejected: record.reason });
          continue;
        }
        try {
          const rows = await definition.map(
            record.value as never,
            new ImportContext(record.loc, name, ordinal++) as never,
          );
          mapped.set(file, { rows });
        } catch (err) {
          if (!(err instanceof RecordRejected)) throw err;
          mapped.set(file, { rejected: err.message });
        }
      }
    }
  });
  afterAll(async () => {
    delete process.env.COUNCIL_DATA;
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects exactly the dirty files the map can judge, for the manifest reason', () => {
    const expectedRejects = new Set<string>();
    for (const d of manifest.dirty) {
      const got = mapped.get(d.loc.file!);
      expect(got, d.loc.file).toBeDefined();
      if (d.expect === 'reject' && d.reason !== 'nul_byte') {
        expectedRejects.add(d.loc.file!);
        expect(got!.rejected, `${d.loc.file} ${d.defect}`).toMatch(REJECT_PATTERNS[d.reason!]);
      } else {
        expect(got!.rejected, `${d.loc.file} ${d.defect}`).toBeUndefined();
      }
    }
    const rejected = [...mapped].filter(([, m]) => m.rejected).map(([file]) => file);
    expect(new Set(rejected)).toEqual(expectedRejects);
  });

  it('maps the rest to the expected rows, positions 0..n-1, duplicates dropped', () => {
    const nul = new Set(manifest.dirty.filter((d) => d.reason === 'nul_byte').map((d) => d.loc.file));
    let conversations = 0;
    let messages = 0;
    let usage = 0;
    for (const [file, m] of mapped) {
      if (!m.rows) continue;
      if (m.rows.usage) usage++;
      if (!m.rows.conversations) continue;
      conversations++;
      const list = m.rows.messages as { position: number; conversation_id: string; role: string }[];
      // The loader rejects the NUL message row alone (schema check), not the record.
      messages += list.length - (nul.has(file) ? 1 : 0);
      expect(list.map((x) => x.position)).toEqual(list.map((_, i) => i));
      expect(new Set(list.map((x) => x.conversation_id))).toEqual(new Set([m.rows.conversations.id]));
      expect(m.rows.conversations.user_id).toBe(file.split('/')[0]);
      for (const x of list) expect(x.role === 'user' ? 'content' in x : 'stage1_data' in x).toBe(true);
    }
    expect({ conversations, messages, usage }).toEqual(manifest.expected);
  });
});
