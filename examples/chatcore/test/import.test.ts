/**
 * The chatcore import end to end on both backends: generated TinyDB data with
 * every kind of dirty record, imported through the example's own import file.
 * Each injected defect must be rejected for its reason (or merged/deduped),
 * nothing else may be rejected, the row counts must be the generator's, a
 * second run must change nothing, and verify must agree.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineImport, runImport, tinydb, verifyImport } from '../../../src/import/index.js';
import { Migrator } from '../../../src/migrate/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { REJECT_PATTERNS } from '../../shared/legacy-data.js';
import { type ChatcoreResult, generateChatcore } from '../generate.js';
import chatcoreImport from '../import.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let dir: string;
let legacy: ChatcoreResult;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'chatcore-import-'));
  legacy = await generateChatcore({
    dir,
    users: 40,
    conversationsPerUser: 4,
    messagesPerConversation: 12,
    seed: 7,
    dirtyRate: 0.02,
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('chatcore generator', () => {
  it('injects every defect kind the import must handle', () => {
    const reasons = new Set(legacy.manifest.dirty.map((d) => d.reason ?? d.expect));
    for (const r of [
      'missing_field',
      'wrong_type',
      'invalid_value',
      'invalid_timestamp',
      'nul_byte',
      'foreign_key',
      'merge',
      'dedupe',
    ]) {
      expect(reasons).toContain(r);
    }
  });
});

describeEachBackend('chatcore import', (t) => {
  const definition = () => defineImport({ ...chatcoreImport, source: tinydb(legacy.file) });

  beforeAll(async () => {
    const handle = await t.open();
    const result = await new Migrator(handle.db, { dir: path.join(here, '..', 'migrations') }).up();
    expect(result.ok).toBe(true);
  });

  it('imports the legacy file: each bad record rejected for its reason, the rest exactly once', async () => {
    const db = await t.open();
    const rejectsFile = path.join(dir, `rejects-${t.backend}.ndjson`);
    const report = await runImport({ db, definition: definition(), rejectsFile, batchSize: 300 });

    const counts: Record<string, number> = {};
    for (const table of Object.keys(legacy.manifest.expected)) {
      const { rows } = await sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(db.db);
      counts[table] = Number(rows[0]?.n);
    }
    expect(counts).toEqual(legacy.manifest.expected);

    const rejects = (await readFile(rejectsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const expectedRejects = legacy.manifest.dirty.filter((d) => d.expect === 'reject');
    for (const d of expectedRejects) {
      const found = rejects.filter((r) => r.location.table === d.loc.table && String(r.location.key) === d.loc.key);
      expect(found, `${d.defect} at ${d.loc.table}/${d.loc.key}`).not.toHaveLength(0);
      expect(found[0].reason, d.defect).toMatch(REJECT_PATTERNS[d.reason as keyof typeof REJECT_PATTERNS]);
    }
    // Nothing that was not injected as bad is rejected.
    expect(rejects).toHaveLength(expectedRejects.length);
    expect(report.tables.users?.duplicates).toBe(legacy.manifest.dirty.filter((d) => d.expect === 'merge').length);
    expect(report.tables.messages?.duplicates).toBe(legacy.manifest.dirty.filter((d) => d.expect === 'dedupe').length);
  });

  it('a second run changes nothing, and verify agrees', async () => {
    const db = await t.open();
    const again = await runImport({ db, definition: definition(), batchSize: 300 });
    for (const [table, s] of Object.entries(again.tables)) {
      expect({ table, inserted: s.inserted, updated: s.updated }).toEqual({ table, inserted: 0, updated: 0 });
    }
    const verified = await verifyImport({ db, definition: definition() });
    expect(verified.tables.filter((x) => x.missing || x.different || x.extra)).toEqual([]);
    expect(verified.ok).toBe(true);
  });

  it('keeps message order and case-merged users', async () => {
    const db = await t.open();
    const { rows } = await sql<{ bad: string }>`
      select count(*) as bad from (
        select created_at < lag(created_at) over (partition by conversation_id order by position) as back
        from messages) m where back`.execute(db.db);
    expect(Number(rows[0]?.bad)).toBe(0);
    const upper = await sql<{ n: string }>`select count(*) as n from users where username <> lower(username)`.execute(
      db.db,
    );
    expect(Number(upper.rows[0]?.n)).toBe(0);
  });
});
