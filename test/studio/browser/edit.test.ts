/**
 * Ferry Studio in a real browser, in write mode, over a seeded database on
 * both backends: editing a row (and a concurrent edit made behind the UI's
 * back: a 409 with both versions, nothing overwritten), insert with the
 * schema's messages inline, delete, writes refused without the token, and
 * the SQL runner, each page checked with axe-core and saved as a screenshot.
 */
import { sql } from 'kysely';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Ferry } from '../../../src/connect.js';
import { studio } from '../../../src/studio/server.js';
import { describeEachBackend } from '../../support/backends.js';
import { expectAccessible, newStudioPage, poll, screenshot, useBrowser } from '../../support/studio-browser.js';
import { seedStudioDatabase } from '../../support/studio-seed.js';
import { type ServedStudio, serveOnLoopback } from '../../support/studio-server.js';

const TOKEN = 'studio-browser-test-token-0123456789';

const browser = useBrowser();

describeEachBackend('Studio in a browser: editing and SQL (write mode)', (t) => {
  let ferry: Ferry<any>;
  let served: ServedStudio;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    const handle = await t.open();
    ferry = await seedStudioDatabase(handle, 10);
    served = await serveOnLoopback(studio(ferry, { write: true, token: TOKEN }));
    ({ context, page } = await newStudioPage(browser()));
    // The token travels in the fragment once, then lives in sessionStorage.
    await page.goto(`${served.url}#token=${TOKEN}`);
    await page.locator('main h1').waitFor();
  });
  afterAll(async () => {
    await context?.close();
    await served?.close();
  });

  const open = async (p: Page, hash: string) => {
    await p.goto(`${served.url}${hash}`);
    await p.locator('main h1').waitFor();
  };
  const nameOf = async (id: number) =>
    (await sql<{ name: string }>`select name from authors where id = ${id}`.execute(ferry.db)).rows[0]?.name;

  it('takes the token from the URL fragment and drops it from the address bar', async () => {
    expect(page.url()).toBe(`${served.url}#/tables`);
    await expect(page.getByTestId('mode').textContent()).resolves.toBe('write mode');
  });

  it('edits a row; a change made behind its back is a conflict showing both versions, and nothing is overwritten', async () => {
    await open(page, '#/tables/authors/row?key={"id":5}');
    await page.getByRole('link', { name: 'Edit row' }).click();
    await page.getByLabel('name (required)').fill('Edited in Studio');
    await expectAccessible(page, 'the edit form');
    await screenshot(page, `${t.backend}-edit`);

    // Someone else changes the row after the form loaded it.
    await sql`update authors set name = 'Changed behind' where id = 5`.execute(ferry.db);
    await page.getByRole('button', { name: 'Save changes' }).click();
    const conflict = page.getByTestId('conflict');
    await conflict.waitFor();
    const nameRow = conflict.locator('tr', { has: page.locator('th', { hasText: /^name/ }) });
    expect(await nameRow.locator('td[data-side="mine"]').textContent()).toBe('Edited in Studio');
    expect(await nameRow.locator('td[data-side="stored"]').textContent()).toBe('Changed behind');
    expect(await nameRow.getAttribute('class')).toBe('differs');
    expect(await nameOf(5)).toBe('Changed behind');
    await expectAccessible(page, 'the conflict view');
    await screenshot(page, `${t.backend}-conflict`);

    // Take the stored version, edit it again: this time it goes through, and the SQL shows.
    await page.getByRole('button', { name: 'Discard mine, load the stored version' }).click();
    await poll(() => page.getByLabel('name (required)').inputValue()).toBe('Changed behind');
    await page.getByLabel('name (required)').fill('Edited again');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Row updated.' }).waitFor();
    expect(await page.getByTestId('sql-ran').textContent()).toMatch(/update .*authors.*Edited again/is);
    expect(await nameOf(5)).toBe('Edited again');
  });

  it('inserts a row, showing the schema’s refusal beside the field first', async () => {
    await open(page, '#/tables/authors');
    await page.getByRole('link', { name: 'Insert row' }).click();
    await page.getByLabel('name (required)').fill('x'.repeat(41));
    await page.getByLabel('email (required)').fill('new@example.com');
    await page.getByLabel('joined_at (required)').fill('2025-03-01T10:00:00Z');
    await page.getByRole('button', { name: 'Insert row' }).click();
    const fieldError = page.locator('#field-name-error');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toMatch(/40/);
    expect(await page.getByLabel('name (required)').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.error[role="alert"]').getAttribute('data-code')).toMatch(/^E_/);
    await expectAccessible(page, 'the insert form with a field error');
    await screenshot(page, `${t.backend}-insert-invalid`);

    await page.getByLabel('name (required)').fill('New author');
    await page.getByRole('button', { name: 'Insert row' }).click();
    await page.getByRole('status').filter({ hasText: 'Row inserted.' }).waitFor();
    expect(await page.getByTestId('sql-ran').textContent()).toMatch(/insert into .*authors/is);
    const stored = await sql<{
      n: number;
    }>`select count(*)::int as n from authors where email = 'new@example.com'`.execute(ferry.db);
    expect(stored.rows[0]?.n).toBe(1);
  });

  it('deletes a row after a confirmation', async () => {
    await sql`insert into authors (id, name, email, joined_at) values (900, 'Doomed', 'doomed@example.com', now())`.execute(
      ferry.db,
    );
    await open(page, '#/tables/authors/row?key={"id":900}');
    await page.getByRole('button', { name: 'Delete row' }).click();
    await page.getByRole('button', { name: 'Confirm delete' }).click();
    await page.getByRole('status').filter({ hasText: 'Row deleted.' }).waitFor();
    expect(await page.getByTestId('sql-ran').textContent()).toMatch(/delete from .*authors/is);
    expect(await nameOf(900)).toBeUndefined();
  });

  it('refuses a write from a page that has no token, and shows why', async () => {
    const other = await browser().newContext();
    try {
      const tokenless = await other.newPage();
      await open(tokenless, '#/tables/authors/row?key={"id":6}');
      await expect(tokenless.getByTestId('mode').textContent()).resolves.toBe('write mode (no token)');
      await tokenless.getByRole('link', { name: 'Edit row' }).click();
      await tokenless.getByLabel('name (required)').fill('Sneaky');
      await tokenless.getByRole('button', { name: 'Save changes' }).click();
      const alert = tokenless.locator('.error[data-code="E_STUDIO_TOKEN"]');
      await alert.waitFor();
      expect(await alert.textContent()).toContain('token');
      expect(await nameOf(6)).toBe('author 6');
    } finally {
      await other.close();
    }
  });

  it('runs a writing statement only when asked to, with the token, and EXPLAIN ANALYZE in write mode', async () => {
    await open(page, '#/sql');
    const editor = page.getByLabel(/^Statement/);
    await editor.fill("update authors set name = 'Renamed by SQL' where id = 8");
    await page.getByLabel('Allow writes (needs the token)').check();
    await page.getByRole('button', { name: 'Run' }).click();
    await poll(() => page.getByTestId('sql-status').textContent()).toMatch(/^1 rows/);
    expect(await nameOf(8)).toBe('Renamed by SQL');

    await page.getByLabel('Allow writes (needs the token)').uncheck();
    await editor.fill('select count(*) from events');
    await page.getByLabel('ANALYZE (executes the statement)').check();
    await page.getByRole('button', { name: 'Explain' }).click();
    await page.locator('.plan pre').waitFor();
    expect(await page.locator('.plan pre').textContent()).toContain('"Actual Rows"');
  });

  it('runs a query, explains it, refuses a write in the read-only transaction, and keeps a history', async () => {
    await open(page, '#/sql');
    const editor = page.getByLabel(/^Statement/);
    await editor.fill('select id, name, joined_at from authors where id <= 3 order by id');
    await page.getByRole('button', { name: 'Run' }).click();
    const result = page.getByTestId('sql-result');
    await result.waitFor();
    expect(await result.locator('tbody tr').count()).toBe(3);
    expect(await result.locator('tbody tr').first().locator('td').allTextContents()).toEqual([
      '1',
      'author 1',
      '2024-01-02 00:00:00Z',
    ]);
    await expectAccessible(page, 'the SQL runner');
    await screenshot(page, `${t.backend}-sql`);

    await page.getByRole('button', { name: 'Explain' }).click();
    await page.locator('.plan pre').waitFor();
    expect(await page.locator('.plan pre').textContent()).toContain('"Plan"');

    await editor.fill('delete from authors where id = 7');
    await editor.press('Control+Enter');
    const refused = page.locator('.error[role="alert"]');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/read-only transaction/i);
    expect(await nameOf(7)).toBe('author 7');

    const history = page.locator('ol.history li');
    // The history reloads after each run: wait for the refused statement on top.
    await poll(() => history.first().textContent()).toContain('delete from authors where id = 7');
    await history.nth(2).getByRole('button').click();
    await poll(() => editor.inputValue()).toBe('select id, name, joined_at from authors where id <= 3 order by id');
  });
});
