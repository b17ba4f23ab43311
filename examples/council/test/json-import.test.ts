/**
 * The JSON-file store and the import agree on the files: the store reads the
 * legacy folder the generator writes (naive Python timestamps, files without
 * a user_id), what it writes imports as is, and after the import the Postgres
 * store answers every call exactly as the JSON store did — the precondition
 * for moving the JSON backend live (the cutover issue).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../../src/db/open.js';
import { defineImport, json, runImport } from '../../../src/import/index.js';
import { connect, type DatabaseOf, type Ferry } from '../../../src/index.js';
import { Migrator } from '../../../src/migrate/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { type CouncilResult, generateCouncil } from '../generate.js';
import councilImport from '../import.js';
import { migrationsDir } from '../open-storage.js';
import * as schema from '../schema.js';
import { CouncilStorage } from '../storage.js';
import { JsonCouncilStorage } from '../storage-json.js';

let dir: string;
let legacy: CouncilResult;
let users: string[];
let jsonStore: JsonCouncilStorage;
const stage = {
  stage1: [{ model: 'm1', response: 'naïve 🚀' }],
  stage2: [{ model: 'm1', ranking: 'FINAL RANKING:\n1. Response A', parsed_ranking: ['Response A'] }],
  stage3: { model: 'chair', response: 'done' },
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'council-json-import-'));
  legacy = await generateCouncil({ dir, users: 5, conversationsPerUser: 3, messagesPerConversation: 5, dirty: false });
  users = (await readdir(legacy.dataDir)).filter((n) => n !== 'usage').sort();
  jsonStore = new JsonCouncilStorage(legacy.dataDir);

  // The legacy app keeps running on its files: a new conversation, an answer, queries counted.
  const [first, second] = users as [string, string];
  const conv = await jsonStore.createConversation(first);
  await jsonStore.addUserMessage(conv.id, 'Is PGlite real Postgres?', first);
  await jsonStore.addAssistantMessage(conv.id, stage.stage1, stage.stage2, stage.stage3, first, { label_to_model: {} });
  await jsonStore.updateConversationTitle(conv.id, 'PGlite', first);
  const old = (await jsonStore.listConversations(second)).at(-1)!;
  await jsonStore.addUserMessage(old.id, 'And one more thing.', second);
  for (const u of users) await jsonStore.checkAndIncrementUsage(u, new Date('2025-01-15T10:00:00Z'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it('reads the legacy files as the Python app wrote them', async () => {
  const [first] = users as [string];
  const file = legacy.files.find((f) => f.includes(`${path.sep}${first}${path.sep}`))!;
  const raw = JSON.parse(await readFile(file, 'utf8'));
  expect(raw.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/); // naive, microseconds
  const got = await jsonStore.getConversation(raw.id, first);
  expect(got?.createdAt).toBe(`${raw.created_at.slice(0, 23)}Z`);
  expect(got?.messages).toEqual(raw.messages);
  expect(got?.messages).toHaveLength(5);
});

describeEachBackend('council JSON store vs Postgres store after the import', (t) => {
  let ferry: Ferry<DatabaseOf<typeof schema>>;
  beforeAll(async () => {
    // The import takes a database handle; an embedded database allows one opener at a time.
    const db = await openDatabase({ url: t.url() });
    expect((await new Migrator(db.db, { dir: migrationsDir }).up()).ok).toBe(true);
    const definition = defineImport({
      ...councilImport,
      source: {
        conversations: json.files('*/*.json', { cwd: legacy.dataDir, ignore: ['usage/**'] }),
        usage: json.files('usage/*.json', { cwd: legacy.dataDir, allowEmpty: true }),
      },
    });
    const report = await runImport({ db, definition, rejectsFile: path.join(dir, `rejects-${t.backend}.ndjson`) });
    await db.close();
    expect(report.rejects).toBe(0);
    ferry = await connect({ url: t.url(), schema });
  });
  afterAll(() => ferry?.close());

  it('every list, conversation and usage row is the same through both stores', async () => {
    const pg = new CouncilStorage(ferry);
    let conversations = 0;
    for (const u of users) {
      const list = await jsonStore.listConversations(u);
      expect(await pg.listConversations(u)).toEqual(list);
      for (const c of list) {
        expect(await pg.getConversation(c.id, u)).toEqual(await jsonStore.getConversation(c.id, u));
        conversations++;
      }
      expect(await pg.getUsage(u)).toEqual(await jsonStore.getUsage(u));
    }
    expect(conversations).toBe(users.length * 3 + 1);
    expect(await ferry.repo(schema.usage).count()).toBe(users.length);
  });
});
