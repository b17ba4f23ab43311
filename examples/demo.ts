/**
 * `npm run demo`: Ferry's main job on the embedded database, no server needed.
 *
 * 1. Generate ChatCore's legacy TinyDB file (seed 004), dirty records included.
 * 2. `ferry migrate up`: create the schema in the embedded PostgreSQL (PGlite).
 * 3. `ferry import`: stream the file in, with the progress bar and the rejects file.
 * 4. `ferry verify`: re-read the source and compare with the database.
 *
 * Steps 2-4 run the real CLI, exactly as a user would. Run it again and the
 * import reports every row unchanged. Options: --messages N (default 20000),
 * --fresh (start from an empty database). Set DATABASE_URL to use a server.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateChatcore } from './chatcore/generate.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { messages: { type: 'string', default: '20000' }, fresh: { type: 'boolean', default: false } },
});
const messages = Number(values.messages);
if (!Number.isInteger(messages) || messages < 100) {
  console.error('--messages must be a whole number >= 100');
  process.exit(2);
}

const work = path.join(root, '.ferry', 'demo');
const legacyDir = path.join(work, `legacy-${messages}`);
const dataDir = path.join(work, 'pglite');
if (values.fresh) rmSync(dataDir, { recursive: true, force: true });

const step = (text: string) => process.stdout.write(`\n\u001b[1m== ${text}\u001b[0m\n`);
const env = { ...process.env, FERRY_DATA_DIR: dataDir, CHATCORE_DATA: path.join(legacyDir, 'db.json') };

step(`1. Legacy data: ChatCore's TinyDB file with ${messages.toLocaleString('en-US')} messages`);
if (!existsSync(path.join(legacyDir, 'db.json'))) {
  const perUser = 10 * 20;
  const result = await generateChatcore({
    dir: legacyDir,
    users: Math.max(1, Math.round(messages / perUser)),
    conversationsPerUser: 10,
    messagesPerConversation: 20,
    seed: 4,
  });
  const bad = result.manifest.dirty.length;
  console.log(`wrote ${path.relative(process.cwd(), result.file)} (${bad} dirty records injected on purpose)`);
} else console.log(`reusing ${path.relative(process.cwd(), legacyDir)}`);

const ferry = (args: string[]) => {
  const shown = args.map((a) => (a.includes(root) ? path.relative(process.cwd(), a) : a)).join(' ');
  console.log(`$ ferry ${shown}`);
  const run = spawnSync(process.execPath, [path.join(root, 'bin', 'ferry.mjs'), ...args], { stdio: 'inherit', env });
  return run.status ?? 1;
};

const config = path.join(root, 'examples', 'chatcore', 'ferry.config.ts');
const importFile = path.join(root, 'examples', 'chatcore', 'import.ts');
const rejects = path.join(work, 'chatcore.rejects.ndjson');

step(
  `2. Schema: apply the migrations to the embedded database (${process.env.DATABASE_URL ? 'DATABASE_URL' : path.relative(process.cwd(), dataDir)})`,
);
if (ferry(['--config', config, 'migrate', 'up']) !== 0) process.exit(1);

step('3. Import: stream the legacy file into PostgreSQL');
if (ferry(['import', importFile, '--rejects', rejects]) !== 0) process.exit(1);

step('4. Verify: re-read the source and compare with the database');
const verified = ferry(['verify', importFile]);
console.log(
  verified === 0
    ? '\nDone. Run `npm run demo` again: the import finds every row unchanged. Rejected records and why: ' +
        `${path.relative(process.cwd(), rejects)}. Look at what arrived: \`npm run studio\`.`
    : '\nVerify found differences (see above).',
);
process.exit(verified);
