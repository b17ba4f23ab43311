/**
 * `ferry studio` as a user runs it: its own process on the project's
 * database (both backends), printing the URL (with the token in write mode),
 * serving the API, stopping on SIGTERM; a non-loopback --host refused.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachBackend } from '../support/backends.js';
import { tempDirs } from '../support/temp-dirs.js';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const newDir = tempDirs('ferry-studio-cli-');
/** The project's schema module imports Ferry's DSL from this checkout, by absolute path. */
const schemaDsl = new URL('../../src/schema/index.js', import.meta.url).pathname;

describeEachBackend('ferry studio', (t) => {
  let project: string;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    project = newDir();
    writeFileSync(
      join(project, 'schema.ts'),
      `import { serial, table, text } from '${schemaDsl}';\n` +
        "export const notes = table('notes', { id: serial().primaryKey(), body: text().notNull(), secret: text().sensitive() });\n",
    );
    writeFileSync(join(project, 'ferry.config.ts'), "export default { schema: './schema.ts' };\n");
    mkdirSync(join(project, 'migrations'));
    env = { ...process.env, REDIS_URL: '', FERRY_STUDIO_TOKEN: '' };
    if (t.backend === 'postgres') env.DATABASE_URL = t.url();
    else {
      env.DATABASE_URL = '';
      env.FERRY_DATA_DIR = t.url().slice('pglite:'.length);
    }
    const handle = await t.open();
    await handle.db.schema
      .createTable('notes')
      .addColumn('id', 'serial', (c) => c.primaryKey())
      .addColumn('body', 'text')
      .addColumn('secret', 'text')
      .execute();
    await handle.close();
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  /** Start `ferry studio <args> --json` and read its report. */
  async function start(args: string[]): Promise<{ child: ChildProcess; info: Record<string, any> }> {
    const child = spawn(process.execPath, [bin, 'studio', '--port', '0', '--json', ...args], {
      cwd: project,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
    });
    // The report is pretty-printed JSON, as every --json of the CLI: read lines until it parses.
    const info = await new Promise<Record<string, any>>((resolve, reject) => {
      let text = '';
      createInterface({ input: child.stdout! }).on('line', (line) => {
        text += line;
        try {
          resolve(JSON.parse(text));
        } catch {
          // not complete yet
        }
      });
      child.once('exit', (code) => reject(new Error(`ferry studio exited ${code}: ${err}`)));
    });
    return { child, info };
  }

  const stop = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });

  it('serves read-only on 127.0.0.1 and stops on SIGTERM', async () => {
    const { child, info } = await start([]);
    expect(info).toMatchObject({ ok: true, writable: false });
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const meta = (await (await fetch(new URL('api/meta', info.url))).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ backend: t.backend, writable: false, features: { migrations: true } });
    const table = (await (await fetch(new URL('api/tables/notes', info.url))).json()) as {
      columns: { name: string; sensitive: boolean }[];
    };
    expect(table.columns.find((c) => c.name === 'secret')?.sensitive).toBe(true);
    const refused = await fetch(new URL('api/tables/notes/rows', info.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ values: { body: 'x' } }),
    });
    expect(refused.status).toBe(403);
    expect(await stop(child)).toBe(0);
  }, 60_000);

  it('prints the token in the URL fragment in write mode, and it lets edits through', async () => {
    const { child, info } = await start(['--write']);
    const token = /#token=([0-9a-f]{64})$/.exec(info.url)?.[1];
    expect(token).toBeDefined();
    const inserted = await fetch(new URL('api/tables/notes/rows', info.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-ferry-studio-token': token! },
      body: JSON.stringify({ values: { body: 'from studio', secret: 's3' } }),
    });
    expect(inserted.status).toBe(201);
    expect(((await inserted.json()) as { row: { cells: unknown } }).row.cells).toMatchObject({
      body: 'from studio',
      secret: { $masked: true },
    });
    expect(await stop(child)).toBe(0);
  }, 60_000);

  it('refuses a non-loopback --host without --allow-remote, and documents itself', () => {
    const r = spawnSync(process.execPath, [bin, 'studio', '--host', '0.0.0.0'], {
      cwd: project,
      env,
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a loopback address.*--allow-remote/s);
    const help = spawnSync(process.execPath, [bin, 'studio', '--help'], { cwd: project, env, encoding: 'utf8' });
    expect(help.stdout).toMatch(/--write/);
    expect(help.stdout).toMatch(/Safe by default: binds 127\.0\.0\.1/);
  });
});
