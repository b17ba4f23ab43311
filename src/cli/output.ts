import { redactText } from '../db/url.js';
import { FerryError } from '../errors.js';

/** Exit codes every command shares. */
export const EXIT_OK = 0;
/** The command ran and found a problem (unreachable database, drift...). */
export const EXIT_PROBLEM = 1;
/** The command could not run (bad usage, bad config). */
export const EXIT_ERROR = 2;

/**
 * Passwords of every URL this process knows about, for `redactText`: URLs in
 * messages are masked structurally anyway; these are only searched for bare
 * when long enough to be unambiguous (see src/db/redact.ts).
 */
export function knownSecrets(extraUrls: (string | undefined)[] = []): string[] {
  const urls = [process.env.DATABASE_URL, process.env.TEST_DATABASE_URL, process.env.REDIS_URL, ...extraUrls];
  const secrets: string[] = [];
  for (const url of urls) {
    const match = url && /^[a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:([^@/?#]+)@/i.exec(url);
    if (match?.[1]) secrets.push(decodeURIComponentSafe(match[1]), match[1]);
  }
  return secrets;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

let jsonPrinted = false;

/** Whether a command already printed its JSON report (so a late failure must not print a second document). */
export function printedJson(): boolean {
  return jsonPrinted;
}

export function printJson(value: unknown): void {
  jsonPrinted = true;
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `key   value` lines with aligned values. */
export function printTable(rows: [string, string][]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
}

export function errorPayload(err: unknown, secrets: string[]): { code: string; message: string } {
  const code = err instanceof FerryError ? err.code : ((err as { code?: string })?.code ?? 'E_UNEXPECTED');
  const message = redactText(err instanceof Error ? err.message : String(err), secrets);
  return { code: String(code), message };
}

/** Print an error for a person: the message, and the stack only with FERRY_DEBUG=1. */
export function printError(err: unknown, secrets: string[]): void {
  const { code, message } = errorPayload(err, secrets);
  process.stderr.write(`ferry: ${message}${code.startsWith('E_') ? ` [${code}]` : ''}\n`);
  if (process.env.FERRY_DEBUG && err instanceof Error && err.stack) {
    process.stderr.write(`${redactText(err.stack, secrets)}\n`);
  }
}
