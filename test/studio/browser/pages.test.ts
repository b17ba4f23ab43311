/**
 * Ferry Studio's other pages in a real browser, on both backends: an import's
 * runs and rejects (a real import with bad rows, filtered, downloaded), the
 * schema's ER diagram and DDL, migrations (one applied, one pending, lint,
 * drift), the cache against the real Redis (hit/miss, key lookup, delete by
 * prefix in write mode) and a cutover's mismatches side by side; each page
 * checked with axe-core and saved as a screenshot.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Cache, createCache } from '../../../src/cache/index.js';
import { CONTROL_TABLE, ensureTables, MISMATCHES_TABLE } from '../../../src/cutover/tables.js';
import type { DbHandle } from '../../../src/db/open.js';
import { Migrator } from '../../../src/migrate/runner.js';
import { studio } from '../../../src/studio/server.js';
import { describeEachBackend } from '../../support/backends.js';
import { expectAccessible, newStudioPage, poll, screenshot, useBrowser } from '../../support/studio-browser.js';
import { importAccountsWithRejects, seedStudioDatabase } from '../../support/studio-seed.js';
import { type ServedStudio, serveOnLoopback } from '../../support/studio-server.js';
import { tempDirs } from '../../support/temp-dirs.js';

const TOKEN = 'studio-browser-pages-token-0123456789';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const newDir = tempDirs('ferry-studio-ui-');

const browser = useBrowser();

describeEachBackend('Studio in a browser: imports, schema, migrations, cache, cutover', (t) => {
  let handle: DbHandle;
  let served: ServedStudio;
  let context: BrowserContext;
  let page: Page;
  let importName: string;
  let redis: Redis;
  let cache: Cache;
  const prefix = `ferrytest:studio-ui:${process.pid}:${randomBytes(4).toString('hex')}`;
  const applied = '20260101000000_widgets';
  const pending = '20260102000000_widget_index';

  beforeAll(async () => {
    handle = await t.open();
    const ferry = await seedStudioDatabase(handle, 10);
    importName = await importAccountsWithRejects(handle);

    const dir = newDir();
    const write = (id: string, up: string) => {
      mkdirSync(join(dir, id), { recursive: true });
      writeFileSync(join(dir, id, 'up.sql'), up);
      writeFileSync(join(dir, id, 'down.sql'), '-- ferry:empty\n');
    };
    write(applied, 'create table widgets (id serial primary key, name text);\n');
    write(pending, 'create index widgets_name on widgets (name);\n');
    await new Migrator(handle.db, { dir }).up({ to: applied });

    await ensureTables(handle);
    await sql`insert into ${sql.table(CONTROL_TABLE)} (name, stage, comparisons, mismatches) values ('users', 'shadow', 200, 3)`.execute(
      handle.db,
    );
    await sql`insert into ${sql.table(MISMATCHES_TABLE)} (name, key, old_value, new_value, fields)
      values ('users', 'user:1', '{"email":"a@x"}', '{"email":"A@x"}', '["email"]')`.execute(handle.db);

    redis = new Redis(REDIS_URL);
    cache = createCache({ namespace: `${prefix}:c`, redis: REDIS_URL, logger: false });
    await cache.ready();
    await cache.get('missing');
    await cache.set('k', 1);
    await cache.get('k');
    await redis.set(`${prefix}:sess:{u1}:j1`, 'a');
    await redis.set(`${prefix}:rate:ip1`, '3', 'PX', 60_000);
    await redis.set(`${prefix}:tmp:1`, 'x');
    await redis.set(`${prefix}:tmp:2`, 'y');

    served = await serveOnLoopback(
      studio(ferry, {
        write: true,
        token: TOKEN,
        migrationsDir: dir,
        cache,
        redis,
        redisUrl: REDIS_URL,
        sessionPrefix: `${prefix}:sess`,
        rateLimitPrefix: `${prefix}:rate`,
      }),
    );
    ({ context, page } = await newStudioPage(browser()));
    await page.goto(`${served.url}#token=${TOKEN}`);
    await page.locator('main h1').waitFor();
  });
  afterAll(async () => {
    await context?.close();
    await served?.close();
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    await cache?.close();
  });

  const open = async (p: Page, hash: string) => {
    await p.goto(`${served.url}${hash}`);
    await p.locator('main h1').waitFor();
  };

  it("browses an import's runs and rejects, filtered by table, SQLSTATE and reason, and downloads them", async () => {
    await open(page, '#/imports');
    const run = page.locator('section.card', { hasText: importName });
    await run.waitFor();
    const accountsRow = run.locator('tbody tr', { has: page.locator('th', { hasText: 'accounts' }) });
    expect(await accountsRow.locator('td').allTextContents()).toEqual(['3', '0', '0', '0', '2']);
    await expectAccessible(page, 'the imports page');
    await screenshot(page, `${t.backend}-imports`);

    await run.getByRole('link', { name: `Rejects of ${importName}` }).click();
    const rows = page.getByRole('table', { name: 'Rejects' }).locator('tbody tr');
    await poll(() => rows.count()).toBe(2);
    // The sensitive column stays masked in the rejected data.
    expect(await page.locator('main').textContent()).not.toContain('hash-bob');
    await expectAccessible(page, 'the rejects page');
    await screenshot(page, `${t.backend}-rejects`);

    await page.getByLabel('SQLSTATE').selectOption('23505');
    await poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator('td').nth(4).textContent()).toBe('23505');
    await page.getByLabel('SQLSTATE').selectOption('');
    await page.getByLabel('Reason contains').fill('longer than 12');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator('td.reason').textContent()).toContain('display_name');

    const download = page.getByRole('link', { name: 'Download NDJSON' });
    const href = await download.getAttribute('href');
    expect(href).toContain(`rejects.ndjson?reason=longer+than+12`);
    const ndjson = await page.evaluate(async (url) => (await fetch(url)).text(), href!);
    const lines = ndjson.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).reason).toContain('display_name');
  });

  it('shows the ER diagram and the DDL, whole and per table', async () => {
    await open(page, '#/schema');
    await page.getByTestId('schema-ddl').waitFor();
    expect(await page.getByTestId('schema-ddl').textContent()).toMatch(/create table .*authors/i);
    const diagram = page.getByRole('img', { name: /^ER diagram of/ });
    await poll(() =>
      diagram.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
    ).toBeGreaterThan(0);
    await expectAccessible(page, 'the schema page');
    await screenshot(page, `${t.backend}-schema`);

    await page.getByRole('link', { name: 'posts', exact: true }).click();
    await page.getByTestId('table-ddl').waitFor();
    expect(await page.getByTestId('table-ddl').textContent()).toMatch(/references .*authors/i);
  });

  it('shows applied and pending migrations with checksums, lint findings and drift', async () => {
    await open(page, '#/migrations');
    await page.getByTestId('drift').waitFor();
    const tables = page.locator('table.list');
    expect(await tables.nth(0).locator('tbody tr').allTextContents()).toEqual([expect.stringContaining(applied)]);
    expect(await tables.nth(1).locator('tbody tr').allTextContents()).toEqual([expect.stringContaining(pending)]);
    expect(await tables.nth(1).locator('code').textContent()).toMatch(/^[0-9a-f]{16}$/);
    expect(await page.getByTestId('drift').textContent()).toMatch(/^drift/);
    expect(await page.locator('main').textContent()).toContain(`pending migration ${pending} is not applied`);
    await expectAccessible(page, 'the migrations page');
    await screenshot(page, `${t.backend}-migrations`);
  });

  it('shows the cache tiers and breaker, looks keys up, and deletes by prefix after a confirmation', async () => {
    await open(page, '#/cache');
    const tiers = page.getByRole('table', { name: 'Cache tiers' });
    await tiers.waitFor();
    expect(await tiers.locator('tbody th').allTextContents()).toEqual(['L1 (in process)', 'L2 (Redis)']);
    expect(await page.getByTestId('breaker').textContent()).toMatch(/^(closed|open|half-open)$/);
    expect(await page.locator('dl.facts').textContent()).toContain('Sessions1');

    await page.getByLabel('Key prefix').fill(`${prefix}:tmp:`);
    await page.getByRole('button', { name: 'Look up' }).click();
    const keys = page.getByRole('table', { name: 'Matching keys' }).locator('tbody tr td:first-child');
    await poll(async () => (await keys.allTextContents()).sort()).toEqual([`${prefix}:tmp:1`, `${prefix}:tmp:2`]);
    await expectAccessible(page, 'the cache page');
    await screenshot(page, `${t.backend}-cache`);

    await page.getByRole('button', { name: 'Delete by prefix' }).click();
    await page.getByRole('button', { name: 'Confirm delete' }).click();
    await page.getByRole('status').filter({ hasText: '2 keys deleted.' }).waitFor();
    expect(await redis.exists(`${prefix}:tmp:1`, `${prefix}:tmp:2`)).toBe(0);
    expect(await redis.exists(`${prefix}:rate:ip1`)).toBe(1);
  });

  it("shows a cutover's stage and its mismatches side by side", async () => {
    await open(page, '#/cutover');
    const card = page.locator('section.card', { hasText: 'users' });
    await card.waitFor();
    expect(await card.locator('h2').textContent()).toBe('users shadow');
    expect(await card.locator('dl.facts').textContent()).toContain('3 (1.50 %)');
    const mismatch = card.getByRole('table', { name: 'Recent mismatches of users' }).locator('tbody tr');
    expect(await mismatch.locator('td').nth(0).textContent()).toBe('user:1');
    await mismatch.locator('td').nth(2).locator('summary').click();
    await mismatch.locator('td').nth(3).locator('summary').click();
    expect(await mismatch.locator('td').nth(2).locator('li').textContent()).toBe('email: "a@x"');
    expect(await mismatch.locator('td').nth(3).locator('li').textContent()).toBe('email: "A@x"');
    await expectAccessible(page, 'the cutover page');
    await screenshot(page, `${t.backend}-cutover`);
  });
});
