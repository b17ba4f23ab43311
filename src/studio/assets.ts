/**
 * The browser UI: the files of `<package root>/dist/studio-ui/` (built by
 * `npm run build:studio`), found from this module's own location so it works
 * from src/ under tsx and from dist/ once built. Without them, `/` answers a
 * short page saying how to build them; the API works either way.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

/** `<root>/dist/studio-ui`: this file is `<root>/src/studio/assets.ts` or `<root>/dist/studio/assets.js`. */
export function uiDirectory(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'studio-ui');
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ferry Studio</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Ferry Studio</h1>
<p>The Studio server is running, but its browser UI has not been built in this checkout.</p>
<p>Build it with <code>npm run build:studio</code> (it writes <code>dist/studio-ui/</code>), then reload this page.</p>
<p>The API answers meanwhile: try <a href="api/meta">api/meta</a> or <a href="api/tables">api/tables</a>.</p>
</body></html>
`;

/**
 * Serve `path` (relative to the mount point, e.g. `/`, `/assets/app-1a2b.js`)
 * from the UI folder. Returns false when there is no such file (the caller
 * answers 404 or passes on).
 */
export async function serveAsset(res: ServerResponse, path: string, dir = uiDirectory()): Promise<boolean> {
  const index = path === '/' || path === '/index.html';
  if (!existsSync(join(dir, 'index.html'))) {
    if (!index) return false;
    send(res, 200, TYPES['.html']!, Buffer.from(NOT_BUILT), 'no-store');
    return true;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(index ? '/index.html' : path);
  } catch {
    return false; // a malformed %-escape names no file
  }
  const relative = normalize(decoded).replace(/^([/\\])+/, '');
  const file = join(dir, relative);
  // normalize() resolved any `..`: what is left must still be inside the folder.
  if (!file.startsWith(dir + sep) || relative.split(/[/\\]/).includes('..')) return false;
  try {
    if (!(await stat(file)).isFile()) return false;
  } catch {
    return false;
  }
  // Hashed assets never change; index.html names them and must be fetched fresh.
  const cache = relative.startsWith('assets') ? 'public, max-age=31536000, immutable' : 'no-cache';
  send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', await readFile(file), cache);
  return true;
}

function send(res: ServerResponse, status: number, type: string, body: Buffer, cache: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', cache);
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
