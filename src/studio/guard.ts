/**
 * The checks every request passes before a route sees it, in this order:
 * the Host (421: a DNS-rebinding page reaches Studio under its own name),
 * the Origin (403: a request another site's page made), then, for writes,
 * write mode (403) and the token (401, compared in constant time). Reads
 * need no token: a cross-site page cannot read the answers (no CORS) and a
 * rebinding one is stopped by the Host check.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { FerryError } from '../errors.js';
import type { StudioContext } from './context.js';
import { E_STUDIO_HOST, E_STUDIO_ORIGIN, E_STUDIO_READ_ONLY, E_STUDIO_TOKEN } from './errors.js';

export const TOKEN_HEADER = 'x-ferry-studio-token';

/** The host name of a Host header, lower-cased, without its port (`[::1]:4983` → `[::1]`). */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

export function checkHost(ctx: StudioContext, req: IncomingMessage): void {
  const host = req.headers.host;
  if (!host || !ctx.allowedHosts.has(hostName(host))) {
    throw new FerryError(
      E_STUDIO_HOST,
      `Studio does not answer to the host ${JSON.stringify(host ?? '')}: allowed are ${[...ctx.allowedHosts].join(', ')}. ` +
        'Open it by one of those names, or add yours to allowedHosts.',
    );
  }
}

/**
 * A browser names the page that made a request in `Origin` (every POST,
 * PATCH and DELETE; cross-origin GETs too): it must be Studio's own, the
 * scheme and Host the request came to. `Sec-Fetch-Site: cross-site` is
 * refused too, for browsers that leave Origin out of a GET.
 */
export function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site') throw originError(String(origin ?? '(a cross-site page)'));
  if (origin === undefined) return;
  let host: string | null = null;
  try {
    host = origin === 'null' ? null : new URL(origin).host.toLowerCase();
  } catch {
    host = null;
  }
  if (host === null || host !== String(req.headers.host ?? '').toLowerCase()) throw originError(origin);
}

function originError(origin: string): FerryError {
  return new FerryError(
    E_STUDIO_ORIGIN,
    `Studio refuses requests made by another site's page (Origin ${origin}): use Studio's own page.`,
  );
}

/** A write: write mode on, and the right token in its header. */
export function checkWrite(ctx: StudioContext, req: IncomingMessage, what: string): void {
  if (!ctx.write) {
    throw new FerryError(
      E_STUDIO_READ_ONLY,
      `Studio is read-only: ${what} is refused. Start it with \`ferry studio --write\` (or studio(ferry, { write: true })) to edit.`,
    );
  }
  const given = req.headers[TOKEN_HEADER];
  if (typeof given !== 'string' || !sameToken(given, ctx.token)) {
    throw new FerryError(
      E_STUDIO_TOKEN,
      given === undefined
        ? `${what} needs the Studio token in the ${TOKEN_HEADER} header: open the URL \`ferry studio --write\` printed (it carries #token=...).`
        : `The Studio token in ${TOKEN_HEADER} is wrong: open the URL \`ferry studio --write\` printed (the token changes at each start unless FERRY_STUDIO_TOKEN is set).`,
    );
  }
}

/** Constant-time comparison: hashing both first makes the lengths equal without revealing the token's. */
function sameToken(given: string, token: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}
