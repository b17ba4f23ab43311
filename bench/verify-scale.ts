/**
 * Issue 13's measurement, standalone (not part of `npm run bench`): `ferry
 * import` then `ferry verify` of the chatcore demo data through the real CLI,
 * with wall time and peak RSS of each (from `/usr/bin/time -v`), and verify's
 * time as a share of the import's.
 *
 *   node --import tsx bench/verify-scale.ts --messages 200000 --backend postgres
 *   node --import tsx bench/verify-scale.ts --messages 1000000 --backend pglite
 *
 * Postgres: a scratch database `ferry_verify_<pid>` on the server of
 * DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
 * dropped at the end. PGlite: a data dir under the OS temp folder, removed at
 * the end. Data: generated once per size under $TMPDIR/ferry-verify-data.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { generateChatcore } from '../examples/chatcore/generate.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    backend: { type: 'string', default: 'postgres' },
  },
});
const messages = Number(values.messages);
const backend = values.backend === 'pglite' ? 'pglite' : 'postgres';

// The demo's own shape: 10 conversations of 20 messages per user.
const dataDir = path.join(tmpdir(), 'ferry-verify-data', `chatcore-${messages}`);
if (!existsSync(path.join(dataDir, 'db.json'))) {
  await generateChatcore({
    dir: dataDir,
    users: Math.max(1, Math.round(messages / 200)),
    conversationsPerUser: 10,
    messagesPerConversation: 20,
    seed: 4,
  });
}

const env: NodeJS.ProcessEnv = { ...process.env, CHATCORE_DATA: path.join(dataDir, 'db.json') };
let cleanup: () => Promise<void>;
if (backend === 'postgres') {
  const admin = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
  const name = `ferry_verify_${process.pid}`;
  const run = async (text: string) => {
    const client = new pg.Client({ connectionString: admin.href });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(admin.href);
  url.pathname = `/${name}`;
  env.DATABASE_URL = url.href;
  delete env.FERRY_DATA_DIR;
  cleanup = () => run(`drop database if exists ${name} with (force)`);
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'ferry-verify-pglite-'));
  delete env.DATABASE_URL;
  env.FERRY_DATA_DIR = path.join(dir, 'db');
  cleanup = async () => rmSync(dir, { recursive: true, force: true });
}

interface Measured {
  seconds: number;
  rssMb: number;
  status: number;
}

function ferry(args: string[]): Measured {
  const bin = path.join(root, 'bin', 'ferry.mjs');
  const timed = existsSync('/usr/bin/time');
  const started = performance.now();
  const r = timed
    ? spawnSync('/usr/bin/time', ['-v', process.execPath, bin, ...args], { env, encoding: 'utf8' })
    : spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0) process.stderr.write(r.stderr ?? '');
  return { seconds, rssMb: rss ? Number(rss[1]) / 1024 : Number.NaN, status: r.status ?? 1 };
}

try {
  const config = path.join(root, 'examples', 'chatcore', 'ferry.config.ts');
  const importFile = path.join(root, 'examples', 'chatcore', 'import.ts');
  if (ferry(['--config', config, 'migrate', 'up']).status !== 0) throw new Error('migrate up failed');
  const rejects = path.join(tmpdir(), `ferry-verify-${process.pid}.rejects.ndjson`);
  const imported = ferry(['import', importFile, '--no-progress', '--rejects', rejects]);
  rmSync(rejects, { force: true });
  const verified = ferry(['verify', importFile, '--no-progress']);
  const row = (what: string, m: Measured) =>
    `${what.padEnd(7)} ${m.seconds.toFixed(1).padStart(7)} s ${m.rssMb.toFixed(0).padStart(6)} MB  exit ${m.status}`;
  console.log(`chatcore, ${messages.toLocaleString('en-US')} messages, ${backend}`);
  console.log(row('import', imported));
  console.log(row('verify', verified));
  console.log(
    `verify/import: time ${(verified.seconds / imported.seconds).toFixed(2)}, RSS ${(verified.rssMb / imported.rssMb).toFixed(2)}`,
  );
} finally {
  await cleanup();
}
