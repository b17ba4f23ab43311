/**
 * A second run of the same import waits for the first, and says whom it waits for.
 * PostgreSQL only: on PGlite the data-dir lock keeps a second process out altogether.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.js';
import { defineImport } from '../../src/import/define.js';
import { runImport } from '../../src/import/loader.js';
import type { Source, SourceRecord } from '../../src/import/source.js';
import { integer, table, text, varchar } from '../../src/index.js';
import { freshPostgresDatabase, type ProvisionedDatabase, TEST_BACKENDS } from '../support/backends.js';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const src = new URL('../../src/index.js', import.meta.url).pathname;
const sources = new URL('../../src/import/index.js', import.meta.url).pathname;
const project = mkdtempSync(join(tmpdir(), 'ferry-import-lock-'));

const people = table('people', { email: varchar(200).primaryKey(), name: text().notNull(), age: integer() });

describe.skipIf(!TEST_BACKENDS.includes('postgres'))('ferry import while another run holds the import', () => {
  let database: ProvisionedDatabase;
  beforeAll(async () => {
    database = await freshPostgresDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('create table people (email varchar(200) primary key, name text not null, age integer)');
    await client.end();
    writeFileSync(join(project, 'ferry.config.ts'), `export default { schema: './schema.ts' };\n`);
    writeFileSync(
      join(project, 'schema.ts'),
      `import { integer, table, text, varchar } from ${JSON.stringify(src)};
export const people = table('people', { email: varchar(200).primaryKey(), name: text().notNull(), age: integer() });
`,
    );
    writeFileSync(
      join(project, 'chatcore.ts'),
      `import { defineImport, ndjson } from ${JSON.stringify(sources)};
import * as schema from './schema.ts';
export default defineImport({
  schema,
  source: ndjson('./people.ndjson'),
  tables: { people: { key: ['email'] } },
  map: (p) => ({ people: { email: p.email, name: p.name, age: null } }),
});
`,
    );
    writeFileSync(join(project, 'people.ndjson'), `${JSON.stringify({ email: 'cli@example.com', name: 'Cli' })}\n`);
  });
  afterAll(async () => {
    await database?.cleanup();
    rmSync(project, { recursive: true, force: true });
  });

  it('prints "waiting for another run of <name> (pid, host)" on stderr, then runs', { timeout: 180_000 }, async () => {
    // The first run: in this process, its source stalls after one record until `open()`.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let reading!: () => void;
    const started = new Promise<void>((resolve) => {
      reading = resolve;
    });
    const stalled: Source = {
      label: 'stalled',
      files: async () => [],
      async *records(): AsyncIterable<SourceRecord> {
        reading();
        yield { kind: 'record', value: { email: 'first@example.com', name: 'First' }, loc: { source: 'stalled' } };
        await gate;
      },
    };
    const handle = await openDatabase({ url: database.url });
    try {
      const first = runImport({
        db: handle,
        name: 'chatcore',
        rejectsFile: null,
        definition: defineImport({
          schema: { people },
          source: stalled,
          tables: { people: { key: ['email'] } },
          map: (r: { email: string; name: string }) => ({ people: { email: r.email, name: r.name, age: null } }),
        }),
      });
      await started; // the run holds its lock from before it reads

      const second = spawn(process.execPath, [bin, 'import', 'chatcore.ts', '--json'], {
        cwd: project,
        env: { ...process.env, DATABASE_URL: database.url, FERRY_DATA_DIR: undefined },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      second.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      const exited = new Promise<number | null>((resolve) => second.on('close', resolve));
      const waiting = new Promise<string>((resolve, reject) => {
        second.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          if (stderr.includes('\n') && /waiting for another run/.test(stderr)) resolve(stderr);
        });
        void exited.then((code) =>
          reject(new Error(`the second run ended (exit ${code}) without waiting:\n${stderr}`)),
        );
      });
      expect(await waiting).toContain(
        `ferry: waiting for another run of "chatcore" (pid ${process.pid}, host ${os.hostname()})\n`,
      );

      open();
      expect(await first).toMatchObject({ records: 1 });
      const code = await exited;
      expect(code, stderr).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ ok: true, records: 1, tables: { people: { inserted: 1 } } });
      expect(stderr.match(/waiting for another run/g)).toHaveLength(1);
    } finally {
      open();
      await handle.close();
    }
  });
});
