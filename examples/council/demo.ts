/**
 * LLM Council on Ferry, from a fresh clone with no server: the seed's folder
 * of JSON files (the local-development backend) moved into the embedded
 * PostgreSQL, and the quota the JSON app never enforced safely.
 *
 *   npx tsx examples/council/demo.ts [--dir DIR]    # default .ferry/council-demo, started afresh
 *
 * 1. Generate a small legacy folder, some files broken on purpose.
 * 2. Read it through the seed's JSON storage (storage-json.ts).
 * 3. Migrate the embedded database, back the folder up, import it: bad files
 *    are skipped and reported, the rest lands.
 * 4. The Postgres storage answers as the JSON storage did.
 * 5. Quota: concurrent queries against daily and monthly limits, with the
 *    clock pinned so the UTC resets show.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDatabase } from '../../src/db/open.js';
import { backupSources } from '../../src/import/backup.js';
import { defineImport, json, runImport } from '../../src/import/index.js';
import { namedSources } from '../../src/import/records.js';
import { connect } from '../../src/index.js';
import { Migrator } from '../../src/migrate/index.js';
import { generateCouncil } from './generate.js';
import councilImport from './import.js';
import { migrationsDir } from './open-storage.js';
import * as schema from './schema.js';
import { CouncilStorage } from './storage.js';
import { JsonCouncilStorage } from './storage-json.js';
import type { CouncilStore, QuotaResult } from './store.js';

export interface DemoSummary {
  legacy: { conversationFiles: number; usageFiles: number; badFiles: number };
  imported: { conversations: number; messages: number; usage: number };
  expected: { conversations: number; messages: number; usage: number };
  rejects: number;
  backupFiles: number;
  sameAnswers: boolean;
  quota: { day1: [number, number]; day2: [number, number]; nextMonth: boolean };
}

export async function runCouncilDemo(dir: string, log: (line: string) => void = console.log): Promise<DemoSummary> {
  await rm(dir, { recursive: true, force: true });
  const url = `pglite:${path.join(dir, 'pglite')}`;

  log("== 1. Legacy data: the JSON app's folder (data/<user>/<conversation>.json, data/usage/<user>.json)");
  const legacy = await generateCouncil({
    dir: path.join(dir, 'legacy'),
    users: 20,
    conversationsPerUser: 5,
    messagesPerConversation: 4,
    seed: 3,
  });
  const m = legacy.manifest;
  const badFiles = m.dirty.filter((d) => d.expect === 'reject').length;
  log(
    `wrote ${m.legacy.conversationFiles} conversation files and ${m.legacy.usageFiles} usage files; ` +
      `${badFiles} broken on purpose, ${m.dirty.length - badFiles} with a double-submitted question`,
  );

  log("\n== 2. The seed's JSON storage reads it (no database)");
  const jsonStore = new JsonCouncilStorage(legacy.dataDir);
  const user = await firstCleanUser(
    m.dirty.map((d) => d.loc.file ?? ''),
    legacy.dataDir,
  );
  const before = await jsonStore.listConversations(user);
  log(`user ${user}: ${before.length} conversations, newest "${before[0]?.title}"`);

  log(`\n== 3. Migrate, back up and import into the embedded PostgreSQL (${path.join(dir, 'pglite')})`);
  const definition = defineImport({
    ...councilImport,
    source: {
      conversations: json.files('*/*.json', { cwd: legacy.dataDir, ignore: ['usage/**'] }),
      usage: json.files('usage/*.json', { cwd: legacy.dataDir, allowEmpty: true }),
    },
  });
  const rejectsFile = path.join(dir, 'council.rejects.ndjson');
  const handle = await openDatabase({ url });
  let report: Awaited<ReturnType<typeof runImport>>;
  let backupFiles: number;
  try {
    const migrated = await new Migrator(handle.db, { dir: migrationsDir }).up();
    if (!migrated.ok) throw new Error('the migrations failed');
    log(`migrations: ${migrated.results.filter((r) => r.status === 'applied').length} applied`);
    const backup = await backupSources(namedSources(definition.source), path.join(dir, 'backup'));
    backupFiles = backup.files.length;
    log(`backup: ${backupFiles} files copied to ${path.join(dir, 'backup')}, each with its SHA-256 in manifest.json`);
    report = await runImport({ db: handle, definition, rejectsFile });
  } finally {
    await handle.close();
  }
  const imported = {
    conversations: report.tables.conversations?.inserted ?? 0,
    messages: report.tables.messages?.inserted ?? 0,
    usage: report.tables.usage?.inserted ?? 0,
  };
  log(
    `imported ${imported.conversations} conversations, ${imported.messages} messages, ${imported.usage} usage rows ` +
      `(the generator expected ${m.expected.conversations}, ${m.expected.messages}, ${m.expected.usage})`,
  );
  const rejects = (await readFile(rejectsFile, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { location: { file?: string }; reason: string });
  log(`skipped and reported ${rejects.length} bad records, the import went on past each:`);
  for (const r of rejects.slice(0, 5)) {
    log(`  ${r.location.file ?? '?'}: ${r.reason.split('\n')[0]?.slice(0, 100)}`);
  }
  if (rejects.length > 5) log(`  … ${rejects.length - 5} more in ${rejectsFile}`);

  const ferry = await connect({ schema, url });
  try {
    log('\n== 4. The Postgres storage, same interface');
    const pg = new CouncilStorage(ferry);
    const after = await pg.listConversations(user);
    let sameAnswers = JSON.stringify(after) === JSON.stringify(before);
    for (const c of after) {
      const [a, b] = [await pg.getConversation(c.id, user), await jsonStore.getConversation(c.id, user)];
      sameAnswers &&= JSON.stringify(a) === JSON.stringify(b);
    }
    log(
      `user ${user}: ${after.length} conversations; every list and conversation as the JSON storage gave it: ${sameAnswers ? 'yes' : 'NO'}`,
    );
    for (const c of after.slice(0, 3)) log(`  ${c.createdAt.slice(0, 10)}  ${c.messageCount} messages  ${c.title}`);

    log('\n== 5. Quota: one SQL statement decides and counts (clock pinned to show the UTC resets)');
    const quota = await quotaDemo(pg, log);
    const summary: DemoSummary = {
      legacy: { conversationFiles: m.legacy.conversationFiles, usageFiles: m.legacy.usageFiles, badFiles },
      imported,
      expected: m.expected,
      rejects: rejects.length,
      backupFiles,
      sameAnswers,
      quota,
    };
    log(`\nDone. Summary: ${JSON.stringify(summary)}`);
    return summary;
  } finally {
    await ferry.close();
  }
}

async function quotaDemo(store: CouncilStore, log: (line: string) => void): Promise<DemoSummary['quota']> {
  const burst = async (n: number, now: Date) => {
    const results = await Promise.all(Array.from({ length: n }, () => store.checkAndIncrementUsage('demo-user', now)));
    const refused = results.filter((r) => !r.allowed);
    const ok = results.length - refused.length;
    const last = results.reduce((a, b) => (b.daily.used + b.monthly.used > a.daily.used + a.monthly.used ? b : a));
    log(
      `  ${now.toISOString()}: ${n} concurrent queries → ${ok} allowed, ${refused.length} refused` +
        (refused[0] ? ` (${refused[0].limitedBy} limit; resets ${refused[0].resetsAt.toISOString()})` : '') +
        `; counters daily ${show(last, 'daily')}, monthly ${show(last, 'monthly')}`,
    );
    return [ok, refused.length] as [number, number];
  };
  await store.setUsageLimits('demo-user', { dailyLimit: 5, monthlyLimit: 8 }, new Date('2025-03-01T00:00:00Z'));
  log('  demo-user: 5 queries a day, 8 a month');
  const day1 = await burst(12, new Date('2025-03-30T23:59:59Z'));
  const day2 = await burst(5, new Date('2025-03-31T00:00:00Z'));
  const next = await store.checkAndIncrementUsage('demo-user', new Date('2025-04-01T00:00:00Z'));
  log(
    `  2025-04-01T00:00:00.000Z: a new month → ${next.allowed ? 'allowed' : 'refused'}, monthly ${show(next, 'monthly')}`,
  );
  return { day1, day2, nextMonth: next.allowed };
}

const show = (r: QuotaResult, which: 'daily' | 'monthly') => `${r[which].used}/${r[which].limit}`;

/** A user none of whose files was broken, so both storages hold all of their conversations. */
async function firstCleanUser(dirty: string[], dataDir: string): Promise<string> {
  const users = (await readdir(dataDir)).filter((u) => u !== 'usage').sort();
  return users.find((u) => !dirty.some((f) => f.startsWith(`${u}/`))) ?? users[0]!;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const { values } = parseArgs({ options: { dir: { type: 'string' } } });
  try {
    await runCouncilDemo(path.resolve(values.dir ?? path.join(root, '.ferry', 'council-demo')));
  } catch (err) {
    process.stderr.write(`council demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
