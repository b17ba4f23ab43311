/**
 * Studio's safety rules over real HTTP, on both backends: each check is
 * shown passing the right request and refusing the wrong one (with the row
 * it would have changed left unchanged), plus meta, headers, the UI fallback
 * page and mounting under a prefix.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/connect.js';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import type { MetaResponse } from '../../src/studio/api.js';
import { withoutPassword } from '../../src/studio/meta.js';
import { studio } from '../../src/studio/server.js';
import { describeEachBackend } from '../support/backends.js';
import { tempDirs } from '../support/temp-dirs.js';
import { call, createModel, model, q, type Served, schema, serve } from './fixture.js';

const newDir = tempDirs('ferry-studio-ui-');

describeEachBackend('studio safety', (t) => {
  let handle: DbHandle;
  let writable: Served;
  let readOnly: Served;
  const nameOf1 = async () =>
    (await sql<{ name: string }>`select name from authors where id = 1`.execute(handle.db)).rows[0]!.name;
  const version1 = async () =>
    (await call(readOnly, 'GET', `/api/tables/authors/row?key=${q({ id: 1 })}`)).body.row.version;

  beforeAll(async () => {
    handle = await t.open();
    await createModel(handle);
    await sql`insert into authors (name) values ('Ada')`.execute(handle.db);
    writable = await serve(handle, { write: true, token: 'a-token-of-sixteen-chars-or-more' });
    readOnly = await serve(handle);
  });
  afterAll(async () => {
    await writable?.close();
    await readOnly?.close();
  });

  it('answers only to allowed Host names (DNS rebinding): 421 otherwise', async () => {
    expect((await call(readOnly, 'GET', '/api/meta')).status).toBe(200);
    expect((await call(readOnly, 'GET', '/api/meta', { headers: { host: `localhost:${readOnly.port}` } })).status).toBe(
      200,
    );
    const rebound = await call(readOnly, 'GET', '/api/tables', {
      headers: { host: `attacker.example:${readOnly.port}` },
    });
    expect(rebound.status).toBe(421);
    expect(rebound.body.error.code).toBe('E_STUDIO_HOST');
    expect(rebound.text).not.toContain('authors');
  });

  it("refuses requests made by another site's page (Origin, Sec-Fetch-Site): 403", async () => {
    const same = await call(readOnly, 'GET', '/api/meta', { headers: { origin: `http://${readOnly.host}` } });
    expect(same.status).toBe(200);
    const cross = await call(writable, 'PATCH', '/api/tables/authors/rows', {
      headers: { origin: 'https://evil.example', 'x-ferry-studio-token': writable.handler.token },
      body: { key: { id: 1 }, version: await version1(), values: { name: 'Pwned' } },
    });
    expect(cross.status).toBe(403);
    expect(cross.body.error.code).toBe('E_STUDIO_ORIGIN');
    const fetchMeta = await call(readOnly, 'GET', '/api/tables', { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(fetchMeta.status).toBe(403);
    expect(await nameOf1()).toBe('Ada');
  });

  it('needs write mode for edits (403) and the token (401), and writes nothing without them', async () => {
    const body = { key: { id: 1 }, version: await version1(), values: { name: 'Changed' } };
    const ro = await call(readOnly, 'PATCH', '/api/tables/authors/rows', {
      headers: { 'x-ferry-studio-token': readOnly.handler.token },
      body,
    });
    expect(ro.status).toBe(403);
    expect(ro.body.error.code).toBe('E_STUDIO_READ_ONLY');
    expect(ro.body.error.message).toMatch(/--write/);
    const none = await call(writable, 'PATCH', '/api/tables/authors/rows', { body });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('E_STUDIO_TOKEN');
    const wrong = await call(writable, 'PATCH', '/api/tables/authors/rows', {
      headers: { 'x-ferry-studio-token': 'a-token-of-sixteen-chars-or-morf' },
      body,
    });
    expect(wrong.status).toBe(401);
    for (const method of ['POST', 'DELETE']) {
      const refused = await call(writable, method, '/api/tables/authors/rows', {
        body: { ...body, values: { name: 'X' } },
      });
      expect(refused.status).toBe(401);
    }
    expect(await nameOf1()).toBe('Ada');
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from authors`.execute(handle.db);
    expect(rows[0]!.n).toBe(1);
    const right = await call(writable, 'PATCH', '/api/tables/authors/rows', {
      headers: { 'x-ferry-studio-token': writable.handler.token },
      body,
    });
    expect(right.status).toBe(200);
    expect(await nameOf1()).toBe('Changed');
  });

  it('accepts JSON bodies only (a cross-site form cannot send one)', async () => {
    const form = await call(writable, 'POST', '/api/tables/authors/rows', {
      headers: { 'x-ferry-studio-token': writable.handler.token, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'values=1',
      raw: true,
    });
    expect(form.status).toBe(400);
    expect(form.body.error.message).toMatch(/application\/json/);
  });

  it('never answers a CORS preflight with Access-Control headers, nor anything else', async () => {
    const preflight = await call(writable, 'OPTIONS', '/api/tables/authors/rows', {
      headers: { origin: `http://${writable.host}`, 'access-control-request-method': 'PATCH' },
    });
    expect(Object.keys(preflight.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    const get = await call(readOnly, 'GET', '/api/tables', { headers: { origin: `http://${readOnly.host}` } });
    expect(Object.keys(get.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('sends the security headers on API answers, errors and the page', async () => {
    for (const path of ['/api/meta', '/api/nope', '/']) {
      const { headers } = await call(readOnly, 'GET', path);
      expect(headers['content-security-policy']).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['referrer-policy']).toBe('no-referrer');
    }
  });

  it('serves a Ferry from connect(), masking by its schema', async () => {
    // PGlite's data dir has one user (this suite's handle): the Ferry gets an in-memory database there.
    const ferry = await connect({ url: t.backend === 'postgres' ? t.url() : 'memory://', schema: model });
    if (t.backend === 'pglite') {
      await ferry.createSchema();
      await ferry.db.insertInto('authors').values({ name: 'Ada' }).execute();
    }
    await ferry.db.updateTable('authors').set({ password_hash: 'hash-value' }).where('id', '=', 1).execute();
    const handler = studio(ferry);
    const server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const served: Served = { handler, port, host: `127.0.0.1:${port}`, close: async () => {} };
      const { body, text } = await call(served, 'GET', `/api/tables/authors/row?key=${q({ id: 1 })}`);
      expect(body.row.cells.password_hash).toEqual({ $masked: true });
      expect(text).not.toContain('hash-value');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ferry.close();
    }
  });

  it('refuses a short token at start', () => {
    expect(() => studio(handle, { token: 'short' })).toThrow(/at least 16 characters/);
    expect(studio(handle, { env: { FERRY_STUDIO_TOKEN: 'from-the-environment-1234' } }).token).toBe(
      'from-the-environment-1234',
    );
    const random = [studio(handle, { env: {} }).token, studio(handle, { env: {} }).token];
    expect(random[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(random[0]).not.toBe(random[1]);
  });

  it('describes the server in meta without any password', async () => {
    const { body } = await call<MetaResponse>(writable, 'GET', '/api/meta');
    expect(body).toMatchObject({ backend: t.backend, writable: true, features: { schema: true, cache: false } });
    expect((await call<MetaResponse>(readOnly, 'GET', '/api/meta')).body.writable).toBe(false);
    expect(withoutPassword('postgresql://app:****@db:5432/app?sslmode=require&password=****')).toBe(
      'postgresql://app@db:5432/app?sslmode=require',
    );
    if (t.backend === 'postgres') {
      // The test server trusts local connections, so a password in the URL is sent and ignored.
      const url = new URL(t.url());
      url.username = 'postgres';
      url.password = 'Sup3r-Secret-pw';
      const withPassword = await openDatabase({ url: url.toString() });
      const served = await serve(withPassword);
      try {
        const answer = await call<MetaResponse>(served, 'GET', '/api/meta');
        expect(answer.body.database).toBe(`postgresql://postgres@${url.host}${url.pathname}`);
        expect(answer.text).not.toContain('Sup3r');
        expect(answer.text).not.toContain('****');
      } finally {
        await served.close();
        await withPassword.close();
      }
    }
  });

  it('serves a page saying how to build the UI when it is not built, and 404s unknown routes', async () => {
    // An empty folder: the test run builds dist/studio-ui/ (global setup) for the browser tests.
    const unbuilt = await serve(handle, { uiDir: newDir() });
    try {
      const page = await call(unbuilt, 'GET', '/');
      expect(page.status).toBe(200);
      expect(page.text).toMatch(/npm run build:studio/);
    } finally {
      await unbuilt.close();
    }
    const missing = await call(readOnly, 'GET', '/api/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('E_STUDIO_NOT_FOUND');
    const method = await call(readOnly, 'PUT', '/api/tables');
    expect(method.status).toBe(404);
    expect(method.body.error.message).toMatch(/PUT is not allowed/);
  });

  it('serves the built UI: index.html fresh, hashed assets immutable, nothing outside its folder', async () => {
    const root = newDir();
    const dir = join(root, 'ui');
    mkdirSync(join(dir, 'assets'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><script src="./assets/app-1a2b.js"></script>');
    writeFileSync(join(dir, 'assets', 'app-1a2b.js'), 'console.log(1)');
    writeFileSync(join(root, 'outside.txt'), 'secret');
    const ui = await serve(handle, { uiDir: dir });
    try {
      const page = await call(ui, 'GET', '/');
      expect(page.text).toContain('app-1a2b.js');
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['cache-control']).toBe('no-cache');
      const asset = await call(ui, 'GET', '/assets/app-1a2b.js');
      expect([asset.status, asset.headers['content-type'], asset.headers['cache-control']]).toEqual([
        200,
        'text/javascript; charset=utf-8',
        'public, max-age=31536000, immutable',
      ]);
      for (const path of ['/../outside.txt', '/assets/..%2F..%2Foutside.txt', '/%2e%2e/outside.txt', '/nope.js']) {
        const refused = await call(ui, 'GET', path);
        expect(refused.status, path).toBe(404);
        expect(refused.text).not.toContain('secret');
      }
    } finally {
      await ui.close();
    }
  });

  describe('mounted under a prefix', () => {
    it('works the way Express mounts it: the prefix stripped from req.url, kept in req.originalUrl', async () => {
      const handler = studio(handle, { schema });
      const server = createServer((req, res) => {
        if (!req.url?.startsWith('/admin/studio')) return void res.end('app');
        Object.assign(req, { originalUrl: req.url, url: req.url.slice('/admin/studio'.length) || '/' });
        handler(req, res, () => res.end('next'));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const served: Served = { handler, port, host: `127.0.0.1:${port}`, close: async () => {} };
      try {
        const bare = await call(served, 'GET', '/admin/studio?x=1');
        expect([bare.status, bare.headers.location]).toEqual([308, '/admin/studio/?x=1']);
        expect((await call(served, 'GET', '/admin/studio/')).text).toMatch(/Ferry Studio/);
        expect((await call(served, 'GET', '/admin/studio/api/tables/books')).body.foreignKeys[0].refTable).toBe(
          'authors',
        );
        expect((await call(served, 'GET', '/admin/studio/nothing-here')).text).toBe('next');
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('takes a body an app already parsed (express.json() leaves req.body and an ended stream)', async () => {
      const handler = studio(handle, { schema, write: true, token: 'a-token-of-sixteen-chars-or-more' });
      const server = createServer(async (req, res) => {
        let text = '';
        for await (const chunk of req) text += chunk;
        Object.assign(req, { body: text === '' ? undefined : JSON.parse(text) });
        handler(req, res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const served: Served = { handler, port, host: `127.0.0.1:${port}`, close: async () => {} };
      try {
        const row = (await call(served, 'GET', `/api/tables/authors/row?key=${q({ id: 1 })}`)).body.row;
        const updated = await call(served, 'PATCH', '/api/tables/authors/rows', {
          headers: { 'x-ferry-studio-token': 'a-token-of-sixteen-chars-or-more' },
          body: { key: row.key, version: row.version, values: { email: 'parsed@example.com' } },
        });
        expect(updated.status, updated.text).toBe(200);
        expect(updated.body.row.cells.email).toBe('parsed@example.com');
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('serves under basePath, redirects to the trailing slash, and passes other paths to next()', async () => {
      const handler = studio(handle, { schema, basePath: '/studio' });
      const server = createServer((req, res) =>
        handler(req, res, () => {
          res.statusCode = 418;
          res.end('app');
        }),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const served: Served = { handler, port, host: `127.0.0.1:${port}`, close: async () => {} };
      try {
        expect((await call(served, 'GET', '/studio/api/tables/authors')).body.primaryKey).toEqual(['id']);
        const bare = await call(served, 'GET', '/studio');
        expect(bare.status).toBe(308);
        expect(bare.headers.location).toBe('/studio/');
        expect((await call(served, 'GET', '/studio/')).text).toMatch(/Ferry Studio/);
        const app = await call(served, 'GET', '/elsewhere');
        expect([app.status, app.text]).toEqual([418, 'app']);
        expect((await call(served, 'GET', '/studio%ZZ/api/meta')).status).toBe(418);
        expect((await call(served, 'GET', '/studio/api/tables/%E0%A4%A')).status).toBe(400);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });
});
