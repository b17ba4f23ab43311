/**
 * demo.ts run as a fresh clone runs it (issue 16): no DATABASE_URL, no Redis
 * (REDIS_URL at a closed port), a temp cwd and TMPDIR. It must pick the
 * embedded PGlite and the JSON-file store for the old app, say so, run every
 * stage, exit 0 with nothing lost or mismatched, and leave nothing behind.
 * (The Postgres + Redis path: cutover.test.ts.)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CutoverDemoSummary } from '../demo.js';

const demo = new URL('../demo.ts', import.meta.url).pathname;
// `--import tsx` resolves from the child's cwd, a temp folder here: name the loader by its path.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

let cwd: string;
let tmp: string;
beforeAll(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'comps-demo-cwd-'));
  tmp = await mkdtemp(path.join(os.tmpdir(), 'comps-demo-tmp-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

it('runs with no database server and no Redis: PGlite + a JSON file, every stage, nothing lost, exit 0', {
  timeout: 180_000,
}, async () => {
  // Port 1 (tcpmux): privileged and never served, so refused at once. A port the kernel freed a moment
  // ago could be handed to another test's server meanwhile.
  const closedPort = 1;
  const { DATABASE_URL: _db, FERRY_DATA_DIR: _dir, REDIS_URL: _redis, ...env } = process.env;
  const proc = spawn(process.execPath, ['--import', tsx, demo, '--stage-ms', '1000', '--concurrency', '4'], {
    cwd,
    env: { ...env, REDIS_URL: `redis://127.0.0.1:${closedPort}`, TMPDIR: tmp, FERRY_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
  expect(code, `${err}\n${out}`).toBe(0);

  expect(err).toMatch(/no DATABASE_URL: embedded PGlite in /);
  expect(err).toMatch(new RegExp(`no Redis at redis://127\\.0\\.0\\.1:${closedPort}: .*JSON file`));
  const summary = JSON.parse(out) as CutoverDemoSummary;
  expect(summary.backends).toEqual({ database: 'pglite', legacy: 'json-file' });
  expect(summary.errors).toEqual([]);
  expect(summary.finalStage).toBe('complete');
  expect(summary.failed).toBe(0);
  expect(summary.lostWrites).toBe(0);
  expect(summary.mismatches).toBe(0);
  expect(summary.journalDepth).toBe(0);
  expect(summary.verify.clean).toBe(true);
  expect(summary.comparisons).toBeGreaterThanOrEqual(100); // the gate's window
  expect(summary.legacyResults).toBe(48);
  // The backfill read the file: the old app's results and those the service wrote there alone in `off`.
  expect(summary.backfill.records).toBeGreaterThan(summary.legacyResults);
  expect(summary.writesAcknowledged).toBeGreaterThan(0);
  for (const stage of Object.values(summary.stages)) {
    expect(stage.requests).toBeGreaterThan(0);
    expect(stage.p99).toBeGreaterThanOrEqual(stage.p50);
  }

  // Nothing left behind: no PGlite folder, no legacy file (tsx keeps its compile cache in TMPDIR), nothing in the cwd.
  expect((await readdir(tmp)).filter((name) => !name.startsWith('tsx-'))).toEqual([]);
  expect(await readdir(cwd)).toEqual([]);
});
