/**
 * `ferry cutover ...` from a shell: a cutover the app (this test process)
 * registered, moved and verified by the CLI in child processes; exit 0 when
 * done, 1 on a refused gate or a verify difference, 2 on usage.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '../../src/cutover/advance.js';
import { defineCutover } from '../../src/cutover/cutover.js';
import { memoryStore } from '../../src/cutover/stores/memory.js';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { adminQuery, adminUrl } from '../support/admin.js';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
// The whole runtime, as a real verify file imports it (ioredis with it: loaded beside the CLI's own copy).
const runtime = new URL('../../src/cutover/index.ts', import.meta.url).pathname;
const dbName = `ferry_cutover_cli_${process.pid}`;
const url = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
const project = mkdtempSync(join(tmpdir(), 'ferry-cutover-cli-'));
let handle: DbHandle;

const rows = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, { id: `c${i}`, price: i }]));

beforeAll(async () => {
  await adminQuery(`drop database if exists ${dbName}`);
  await adminQuery(`create database ${dbName}`);
  writeFileSync(join(project, 'ferry.config.ts'), 'export default {};\n');
  writeFileSync(join(project, 'package.json'), '{"type": "module"}\n');
  // The verify file: two Maps read from old.json and new.json beside it.
  writeFileSync(
    join(project, 'stores.ts'),
    `import { readFileSync } from 'node:fs';
import { memoryStore } from ${JSON.stringify(runtime)};
const load = (f: string) => new Map(Object.entries(JSON.parse(readFileSync(new URL(f, import.meta.url), 'utf8'))));
export default () => ({ old: memoryStore(load('./old.json'), { label: 'old' }), new: memoryStore(load('./new.json'), { label: 'new' }) });
`,
  );
  writeFileSync(join(project, 'old.json'), JSON.stringify(rows(300)));
  writeFileSync(join(project, 'new.json'), JSON.stringify({ ...rows(300), c42: { id: 'c42', price: 43 } }));
  // The app: one shadow read that mismatches, then it stops (no live instance left to wait for).
  handle = await openDatabase({ url });
  const old = new Map([['k', { price: 1 }]]);
  const neu = new Map([['k', { price: 2 }]]);
  const app = defineCutover({
    name: 'cards',
    old: memoryStore(old),
    new: memoryStore(neu),
    db: handle,
    initialStage: 'shadow',
  });
  await app.read('k');
  await app.close();
}, 60_000);
afterAll(async () => {
  await handle?.close();
  rmSync(project, { recursive: true, force: true });
  await adminQuery(`drop database if exists ${dbName} with (force)`);
});

function ferry(args: string[]) {
  const r = spawnSync(process.execPath, [bin, 'cutover', ...args], {
    cwd: project,
    env: { ...process.env, DATABASE_URL: url, REDIS_URL: undefined },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('ferry cutover', () => {
  it('status, mismatches; the gate refuses (exit 1, with its figures) until verify is clean', {
    timeout: 120_000,
  }, async () => {
    const s = ferry(['status', '--json']);
    expect(s.code, s.err).toBe(0);
    expect(JSON.parse(s.out).cutovers).toMatchObject([{ name: 'cards', stage: 'shadow', comparisons: 1 }]);
    expect(ferry(['status', 'cards']).out).toMatch(/stage\s+shadow/);

    const m = ferry(['mismatches', 'cards', '--json']);
    expect(m.code, m.err).toBe(0);
    expect(JSON.parse(m.out)).toMatchObject({ total: 1, mismatches: [{ key: 'k', fields: ['price'] }] });

    const refused = ferry(['advance', 'cards']);
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toMatch(/gate: only 1 shadow comparisons recorded, the gate needs the newest 100/);
    expect(refused.err).toMatch(/gate: no verify recorded/);

    const dirty = ferry(['verify', 'cards', '--file', 'stores.ts']);
    expect(dirty.code, dirty.err).toBe(1);
    expect(dirty.out).toMatch(/DIFFERENT: cards: old 300 rows, new 300 rows/);
    expect(dirty.out).toMatch(/different\s+"c42"\s+\(price\)/);

    writeFileSync(join(project, 'new.json'), JSON.stringify(rows(300)));
    const clean = ferry(['verify', 'cards', '--file', 'stores.ts']);
    expect(clean.code, clean.out + clean.err).toBe(0);
    expect((await status(handle, 'cards'))[0]!.verify).toMatchObject({ clean: true });

    const gated = ferry(['advance', 'cards', '--window', '1', '--max-mismatch-rate', '0.5', '--json']);
    expect(gated.code).toBe(1);
    expect(JSON.parse(gated.out).refusals).toEqual([
      '1 of the newest 1 shadow comparisons mismatched (rate 1.0000 > 0.5)',
    ]);
    const forced = ferry(['advance', 'cards', '--window', '1', '--force']);
    expect(forced.code, forced.err).toBe(0);
    expect(forced.out).toMatch(/cards: advanced shadow → live/);
    expect(forced.out).toMatch(/forced past: 1 of the newest 1/);
  });

  it('rollback, ramp; usage errors exit 2', { timeout: 120_000 }, async () => {
    expect(ferry(['rollback', 'cards', '--to', 'complete']).code).toBe(2);
    const back = ferry(['rollback', 'cards', '--json']);
    expect(back.code, back.err).toBe(0);
    expect(JSON.parse(back.out)).toMatchObject({ from: 'live', to: 'shadow' });
    expect(ferry(['ramp', 'cards', '101']).code).toBe(2);
    expect(ferry(['ramp', 'cards', '10%']).code).toBe(0);
    expect((await status(handle, 'cards'))[0]).toMatchObject({ stage: 'shadow', ramp: 10 });
    const help = ferry(['advance', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--force/);
  });
});
