/**
 * Ferry Studio in a real browser (Debian's Chromium through playwright-core),
 * read-only, over a seeded database on both backends: the tables list, the
 * grid of a 100,000-row table paged by keyset to its last page and back,
 * sort, filters, search, typed cells, relations both ways, keyboard-only
 * use of the grid, and an axe-core check and a screenshot of each page.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Ferry } from '../../../src/connect.js';
import type { DbHandle } from '../../../src/db/open.js';
import { studio } from '../../../src/studio/server.js';
import { describeEachBackend } from '../../support/backends.js';
import { expectAccessible, newStudioPage, poll, screenshot, useBrowser } from '../../support/studio-browser.js';
import { seedStudioDatabase } from '../../support/studio-seed.js';
import { type ServedStudio, serveOnLoopback } from '../../support/studio-server.js';

const EVENTS = 100_000;

const browser = useBrowser();

/** The texts of one column's cells in the grid, top to bottom. */
const column = (page: Page, name: string) => page.locator(`table.grid td[data-column="${name}"]`).allTextContents();
const ids = async (page: Page) => (await column(page, 'id')).map(Number);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describeEachBackend('Studio in a browser: browsing (read-only)', (t) => {
  let handle: DbHandle;
  let ferry: Ferry<any>;
  let served: ServedStudio;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    handle = await t.open();
    ferry = await seedStudioDatabase(handle, EVENTS);
    served = await serveOnLoopback(studio(ferry));
    ({ context, page } = await newStudioPage(browser()));
  });
  afterAll(async () => {
    await context?.close();
    await served?.close();
  });

  const open = async (hash: string) => {
    await page.goto(`${served.url}${hash}`);
    await page.locator('main h1').waitFor();
  };
  /** Wait until the grid shows a settled page (not loading). */
  const settled = () => page.locator('table.grid[aria-busy="false"]').waitFor();

  it('lists the tables with estimated row counts and sizes', async () => {
    await open('#/tables');
    const events = page.locator('table.list tr', { has: page.getByRole('link', { name: 'events', exact: true }) });
    await poll(() => events.locator('td').nth(1).textContent()).toBe(`~${EVENTS.toLocaleString('en-US')}`);
    expect(await events.locator('td').nth(2).textContent()).toMatch(/^\d+(\.\d)? (kB|MB)$/);
    for (const name of ['authors', 'posts', 'comments', 'accounts']) {
      await expect(page.getByRole('link', { name, exact: true }).count()).resolves.toBe(1);
    }
    await expect(page.getByTestId('mode').textContent()).resolves.toBe('read-only');
    await expectAccessible(page, 'the tables list');
    await screenshot(page, `${t.backend}-tables`);
  });

  it(`pages a ${EVENTS.toLocaleString('en-US')}-row table by keyset to its last page and back`, async () => {
    await open('#/tables/events');
    await settled();
    expect(await ids(page)).toEqual(range(1, 50));
    await expect(page.getByRole('button', { name: 'Previous page' }).isDisabled()).resolves.toBe(true);

    await page.getByRole('button', { name: 'Next page' }).click();
    await poll(() => ids(page)).toEqual(range(51, 100));
    await page.getByRole('button', { name: 'Next page' }).click();
    await poll(() => ids(page)).toEqual(range(101, 150));
    await page.getByRole('button', { name: 'Previous page' }).click();
    await poll(() => ids(page)).toEqual(range(51, 100));

    await page.getByRole('button', { name: 'Last page' }).click();
    await poll(() => ids(page)).toEqual(range(EVENTS - 49, EVENTS));
    await expect(page.getByRole('button', { name: 'Next page' }).isDisabled()).resolves.toBe(true);
    await screenshot(page, `${t.backend}-grid-last-page`);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await poll(() => ids(page)).toEqual(range(EVENTS - 99, EVENTS - 50));
    await page.getByRole('button', { name: 'Previous page' }).click();
    await poll(() => ids(page)).toEqual(range(EVENTS - 149, EVENTS - 100));
    await page.getByRole('button', { name: 'Next page' }).click();
    await poll(() => ids(page)).toEqual(range(EVENTS - 99, EVENTS - 50));
    // The browser's own Back button walks the same pages (each page is a URL).
    await page.goBack();
    await poll(() => ids(page)).toEqual(range(EVENTS - 149, EVENTS - 100));

    await page.getByRole('button', { name: 'First page' }).click();
    await poll(() => ids(page)).toEqual(range(1, 50));
    expect(await page.getByTestId('page-status').textContent()).toBe(
      `50 rows shown (of ~${EVENTS.toLocaleString('en-US')})`,
    );
    // Never a COUNT(*): the page's SQL is one keyset read.
    expect(await page.locator('details.sql pre').textContent()).not.toMatch(/count\(/i);
    await expectAccessible(page, 'the grid');
    await screenshot(page, `${t.backend}-grid`);
  });

  it('sorts by a column, both ways, and pages within that order', async () => {
    await open('#/tables/events?limit=25');
    await settled();
    const sortN = page.locator('table.grid thead').getByRole('button', { name: 'n', exact: true });
    await sortN.click();
    await poll(() => column(page, 'n')).toEqual(Array(25).fill('0'));
    // n = id % 1000, ties broken by the key: ids 1000, 2000, ...
    expect(await ids(page)).toEqual(range(1, 25).map((i) => i * 1000));
    expect(await page.locator('th[aria-sort="ascending"]').textContent()).toBe('n ▲');
    await sortN.click();
    await poll(() => column(page, 'n')).toEqual(Array(25).fill('999'));
    expect(await page.locator('th[aria-sort="descending"]').textContent()).toBe('n ▼');
    // Descending, ties are broken by the key descending too: ids 99999, 98999, ...
    expect(await ids(page)).toEqual(range(1, 25).map((i) => EVENTS - 1000 * i + 999));
    await page.getByRole('button', { name: 'Next page' }).click();
    await poll(() => ids(page)).toEqual(range(26, 50).map((i) => EVENTS - 1000 * i + 999));
    // So the order flipped is the exact reverse, and "Last page" works under any sort: n = 0, ids 25000..1000.
    await page.getByRole('button', { name: 'Last page' }).click();
    await poll(() => ids(page)).toEqual(
      range(1, 25)
        .map((i) => i * 1000)
        .reverse(),
    );
    await page.getByRole('button', { name: 'Previous page' }).click();
    await poll(() => ids(page)).toEqual(
      range(26, 50)
        .map((i) => i * 1000)
        .reverse(),
    );

    // Sorted by the key itself, descending: the last page is ids 25..1, and paging back from it works.
    const sortId = page.locator('table.grid thead').getByRole('button', { name: /^id/ });
    await sortId.click();
    await poll(() => ids(page)).toEqual(range(1, 25));
    await sortId.click();
    await poll(() => ids(page)).toEqual(range(EVENTS - 24, EVENTS).reverse());
    await page.getByRole('button', { name: 'Last page' }).click();
    await poll(() => ids(page)).toEqual(range(1, 25).reverse());
    await page.getByRole('button', { name: 'Previous page' }).click();
    await poll(() => ids(page)).toEqual(range(26, 50).reverse());
  });

  it('filters by columns with operators, and searches text', async () => {
    await open('#/tables/events');
    await settled();
    await page.getByLabel('Filter column').selectOption('kind');
    await page.getByLabel('Operator').selectOption({ label: '=' });
    await page.getByLabel('Filter value').fill('buy');
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Filter column').selectOption('n');
    await page.getByLabel('Operator').selectOption({ label: '<' });
    await page.getByLabel('Filter value').fill('9');
    await page.getByRole('button', { name: 'Add filter' }).click();
    // kind 'buy' is id % 3 = 2; n < 9 is id % 1000 < 9: ids 2, 5, 8, 1001, 1004, 1007, ...
    const expected = range(1, 100_000)
      .filter((id) => id % 3 === 2 && id % 1000 < 9)
      .slice(0, 50);
    await poll(() => ids(page)).toEqual(expected);
    expect(await page.getByTestId('page-status').textContent()).toContain('filtered');
    expect(await page.getByRole('list', { name: 'Active filters' }).textContent()).toContain('kind = buy');
    await expectAccessible(page, 'the filtered grid');
    await screenshot(page, `${t.backend}-grid-filtered`);

    await page.getByRole('button', { name: 'Remove filter kind = buy' }).click();
    await poll(() => ids(page)).toEqual(
      range(1, 100_000)
        .filter((id) => id % 1000 < 9)
        .slice(0, 50),
    );
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await poll(() => ids(page)).toEqual(range(1, 50));

    // `in` (comma-separated, typed by the column) and `contains` (case-insensitive).
    await page.getByLabel('Filter column').selectOption('n');
    await page.getByLabel('Operator').selectOption({ label: 'in' });
    await page.getByLabel('Filter value').fill('1, 2');
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Filter column').selectOption('kind');
    await page.getByLabel('Operator').selectOption({ label: 'contains' });
    await page.getByLabel('Filter value').fill('LIC');
    await page.getByRole('button', { name: 'Add filter' }).click();
    // n in (1, 2) and kind 'click' (id % 3 = 0): ids 1002, 2001, 4002, 5001, ...
    await poll(() => ids(page)).toEqual(
      range(1, 100_000)
        .filter((id) => (id % 1000 === 1 || id % 1000 === 2) && id % 3 === 0)
        .slice(0, 50),
    );
    // A value the column cannot take is refused in the page, naming the column.
    await page.getByLabel('Filter column').selectOption('n');
    await page.getByLabel('Operator').selectOption({ label: '>' });
    await page.getByLabel('Filter value').fill('many');
    await page.getByRole('button', { name: 'Add filter' }).click();
    expect(await page.locator('#filter-problem').textContent()).toBe('n needs a number');
    await page.getByRole('button', { name: 'Clear filters' }).click();

    await open('#/tables/posts');
    await settled();
    await page.getByLabel('Search text columns').fill('17');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await poll(() => column(page, 'title')).toEqual(['Post number 17']);
  });

  it('shows typed cells: masked, JSON tree, arrays, bytea sizes, timestamps in UTC with local time', async () => {
    await open('#/tables/authors');
    await settled();
    const first = page.locator('table.grid tbody tr').first();
    expect(await first.locator('td[data-column="password_hash"]').textContent()).toBe('••••');
    expect(await page.content()).not.toContain('secret-hash-');
    expect(await first.locator('td[data-column="tags"]').textContent()).toBe('[tag1, common]');
    expect(await first.locator('td[data-column="avatar"]').textContent()).toBe('bytea, 1 bytes');
    const joined = first.locator('td[data-column="joined_at"] time');
    expect(await joined.textContent()).toBe('2024-01-02 00:00:00Z');
    expect(await joined.getAttribute('title')).toMatch(/^Local: /);
    const profile = first.locator('td[data-column="profile"] > details');
    await expect(profile.locator('li').first().isVisible()).resolves.toBe(false);
    await profile.locator(':scope > summary').click();
    expect(await profile.locator(':scope > ul > li').allTextContents()).toEqual(
      expect.arrayContaining(['city: "Town 1"', 'n: 1']),
    );
  });

  it('follows a foreign key to the parent row, and from the parent to its children', async () => {
    await open('#/tables/posts');
    await settled();
    // Post 5 is by author 3 (posts 1-3 are author 1's, then post g is author g - 2).
    const post5 = page.locator('table.grid tbody tr').nth(4);
    expect(await post5.locator('td[data-column="id"]').textContent()).toBe('5');
    await post5.locator('td[data-column="author_id"] a').click();
    await page.getByRole('heading', { name: 'authors row id=3' }).waitFor();
    expect(await page.locator('dd[data-column="name"]').textContent()).toBe('author 3');

    // Children, counted after the row shows: one post (5) and comments 3-6.
    const children = page.locator('ul.children li');
    await poll(async () => (await children.allTextContents()).sort()).toEqual([
      expect.stringMatching(/^comments via .*\(author_id\): 4 rows$/),
      expect.stringMatching(/^posts via .*\(author_id\): 1 row$/),
    ]);
    await expectAccessible(page, 'a row with its children');
    await screenshot(page, `${t.backend}-row`);
    await children.getByRole('link', { name: 'comments', exact: true }).click();
    await settled();
    await poll(() => ids(page)).toEqual([3, 4, 5, 6]);
    expect(await page.getByRole('list', { name: 'Active filters' }).textContent()).toContain('author_id = 3');

    // And back up from a comment to its post, then to that post's author.
    await page.locator('table.grid tbody tr').first().locator('td[data-column="post_id"] a').click();
    await page.getByRole('heading', { name: 'posts row id=1' }).waitFor();
    await page.locator('dd[data-column="author_id"] a').click();
    await page.getByRole('heading', { name: 'authors row id=1' }).waitFor();
    await poll(async () => (await children.allTextContents()).sort()).toEqual([
      expect.stringMatching(/^comments via .*: 0 rows$/),
      expect.stringMatching(/^posts via .*: 3 rows$/),
    ]);
  });

  it('is usable with the keyboard alone: tab to the grid, arrow between rows, Enter opens one', async () => {
    await open('#/tables/events');
    await settled();
    const focused = () => page.evaluate(() => (globalThis as any).document.activeElement?.className ?? '');
    let tabs = 0;
    while ((await focused()) !== 'row-open' && tabs < 60) {
      await page.keyboard.press('Tab');
      tabs++;
    }
    expect(await focused()).toBe('row-open');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'events row id=3' }).waitFor();
    // Focus lands on the new page's heading, so the keyboard continues from there.
    // (moved there by an effect after the render, hence the poll).
    await poll(() => page.evaluate(() => (globalThis as any).document.activeElement?.tagName)).toBe('H1');
  });

  it('pages with the keyboard too: Next page and Previous page by Tab and Enter', async () => {
    await open('#/tables/events');
    await settled();
    await page.getByRole('button', { name: 'Last page' }).focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await poll(() => ids(page)).toEqual(range(51, 100));
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await poll(() => ids(page)).toEqual(range(1, 50));
  });

  it('works under a mount prefix (an app serving it at /studio/)', async () => {
    const handler = studio(ferry, { basePath: '/studio' });
    const mounted = await serveOnLoopback((req, res) => {
      if (req.url?.startsWith('/studio')) handler(req, res);
      else {
        res.statusCode = 404;
        res.end('the app');
      }
    });
    try {
      await page.goto(`${mounted.url}studio`);
      // Redirected to /studio/ (the assets are relative to it), then routed by the fragment.
      await page.locator('main h1').waitFor();
      expect(new URL(page.url()).pathname).toBe('/studio/');
      await page.getByRole('link', { name: 'posts', exact: true }).click();
      await settled();
      await page.locator('table.grid tbody tr').nth(4).locator('td[data-column="author_id"] a').click();
      await page.getByRole('heading', { name: 'authors row id=3' }).waitFor();
      expect(await page.locator('dd[data-column="name"]').textContent()).toBe('author 3');
    } finally {
      await mounted.close();
    }
  });

  it('read-only: no edit controls, and the server refuses a write anyway', async () => {
    await open('#/tables/authors');
    await settled();
    await expect(page.getByRole('link', { name: 'Insert row' }).count()).resolves.toBe(0);
    await open('#/tables/authors/row?key={"id":2}');
    await page.locator('dd[data-column="name"]').waitFor();
    await expect(page.getByRole('link', { name: 'Edit row' }).count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: 'Delete row' }).count()).resolves.toBe(0);
    await open('#/tables/authors/new');
    expect(await page.getByRole('alert').first().textContent()).toContain('read-only');
    const answer = await page.evaluate(async () => {
      const res = await fetch('api/tables/authors/rows', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ values: { name: 'x' } }),
      });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    });
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('E_STUDIO_READ_ONLY');
  });
});
