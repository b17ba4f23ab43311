/**
 * What the Studio browser tests share: Debian's Chromium driven by
 * playwright-core (one browser per test file), an axe-core check of the page
 * as it is, and screenshots saved under test-artifacts/studio/.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import axe from 'axe-core';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';

export const CHROMIUM = process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/studio/', import.meta.url));

/** Headless Chromium with no network of its own (no updates, no first-run, no background fetches). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** One browser for the test file: launched before its tests, closed after them. Returns its getter. */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('the browser is launched in beforeAll: use it inside hooks and tests');
    return browser;
  };
}

/**
 * A context and page as every Studio browser test uses them: a desktop
 * viewport, and a missing element failing in 10 s with what was awaited
 * rather than at the test's timeout.
 */
export async function newStudioPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(10_000);
  return { context, page: await context.newPage() };
}

/** Wait for what the page shows: polled every 50 ms, up to 15 s (a machine under load), no wall-clock goal. */
export function poll<T>(fn: () => Promise<T>): ReturnType<typeof expect.poll<T>> {
  return expect.poll(fn, { timeout: 15_000, interval: 50 });
}

/**
 * Run axe-core on the page and fail on any violation of serious or critical
 * impact, listing them. axe is evaluated through the DevTools protocol,
 * which Studio's Content-Security-Policy (no inline script) does not block.
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    // Runs in the page (this file's tsconfig has no DOM lib: reach the page's globals through globalThis).
    const page = globalThis as unknown as { axe: typeof axe; document: axe.ElementContext };
    const result = await page.axe.run(page.document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious, `axe violations on ${what}`).toEqual([]);
}

/** Save a full-page screenshot as test-artifacts/studio/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
