/**
 * The demo as a newcomer runs it (`npx tsx examples/council/demo.ts`): its own
 * process, no DATABASE_URL, the embedded database in a temporary folder. It
 * must exit 0, import exactly what the generator says should land, report
 * every broken file, answer through Postgres as the JSON storage did, and
 * show the quota refusing and resetting.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runTsx } from '../../../test/support/run-tsx.js';
import type { DemoSummary } from '../demo.js';

const demo = new URL('../demo.ts', import.meta.url).pathname;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'council-demo-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const run = (args: string[]) => runTsx(demo, args, { unset: ['DATABASE_URL', 'COUNCIL_STORAGE'] });

it('runs end to end on the embedded database and prints what happened', { timeout: 120_000 }, async () => {
  const work = path.join(dir, 'demo');
  const { code, out, err } = await run(['--dir', work]);
  expect(code, err || out).toBe(0);
  expect(err).toBe('');
  const line = out.split('\n').find((l) => l.startsWith('Done. Summary: '));
  expect(line, out).toBeDefined();
  const summary = JSON.parse(line!.slice('Done. Summary: '.length)) as DemoSummary;

  expect(summary.imported).toEqual(summary.expected);
  expect(summary.expected.conversations).toBeGreaterThan(0);
  expect(summary.rejects).toBe(summary.legacy.badFiles);
  expect(summary.rejects).toBeGreaterThan(0);
  expect(summary.backupFiles).toBe(summary.legacy.conversationFiles + summary.legacy.usageFiles);
  expect(summary.sameAnswers).toBe(true);
  expect(summary.quota).toEqual({ day1: [5, 7], day2: [3, 2], nextMonth: true });

  // What it printed is what it left behind.
  const rejects = (await readFile(path.join(work, 'council.rejects.ndjson'), 'utf8')).trim().split('\n');
  expect(rejects).toHaveLength(summary.rejects);
  const manifest = JSON.parse(await readFile(path.join(work, 'backup', 'manifest.json'), 'utf8'));
  expect(manifest.files).toHaveLength(summary.backupFiles);
  expect(existsSync(path.join(work, 'pglite'))).toBe(true);
  expect(out).toMatch(/skipped and reported \d+ bad records/);
  expect(out).toMatch(/12 concurrent queries → 5 allowed, 7 refused \(daily limit; resets 2025-03-31T00:00:00\.000Z\)/);
  expect(out).toMatch(
    /5 concurrent queries → 3 allowed, 2 refused \(monthly limit; resets 2025-04-01T00:00:00\.000Z\)/,
  );
});
