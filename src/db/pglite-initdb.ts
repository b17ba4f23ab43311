/**
 * Creating a new PGlite data directory (initdb) in a short-lived child process.
 *
 * Why a child: PGlite 0.5 runs initdb in a second, in-memory PGlite plus the
 * initdb WASM, then copies the result to disk. The WASM memory that grows
 * meanwhile is never given back to the OS, so a process that created its
 * database stayed at ~875 MB RSS for the rest of its life (issue 13), while
 * one that opens an existing directory needs a fraction of that. The child
 * takes that peak and exits; this process then opens the directory as an
 * existing one. The caller holds the data-dir lock throughout.
 *
 * A half-created directory must not pass for a cluster: PGlite writes the
 * files (PG_VERSION among them) only after initdb succeeded in memory, but a
 * child killed while it copies them would leave PG_VERSION beside a partial
 * cluster. So when the directory is empty we first put a marker file in it
 * and remove it only after the child exited 0; a directory with the marker is
 * an interrupted creation of ours, emptied and created again on the next open.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { E_CONNECT, FerryError } from '../errors.js';

/** In the data dir while Ferry creates it: its files are not a cluster yet. */
export const CREATING_MARKER = 'ferry-initdb.pending';

/** Internal, for tests: how many data dirs a child created in this process, and the child's pid as it starts. */
export const initdbInternals: { created: number; onSpawn?: (pid: number) => void } = { created: 0 };

/** True when `dataDir` holds no finished cluster: no PG_VERSION yet, or an interrupted creation of Ferry's. */
export function needsInitdb(dataDir: string): boolean {
  return !existsSync(path.join(dataDir, 'PG_VERSION')) || existsSync(path.join(dataDir, CREATING_MARKER));
}

// Runs in the child: `node --input-type=module -e`. Plain JS, no tsx, so it
// works the same from a checkout and from dist. stdin is a pipe from the
// parent: when it ends the parent is gone (and its lock with it), so stop
// rather than keep writing a directory nobody holds.
const CHILD_SCRIPT = `
process.stdin.on('end', () => process.exit(75));
process.stdin.resume();
try {
  const { PGlite } = await import(process.env.FERRY_INITDB_MODULE);
  const pg = await PGlite.create({
    dataDir: process.env.FERRY_INITDB_DIR,
    startParams: JSON.parse(process.env.FERRY_INITDB_START_PARAMS),
  });
  await pg.close();
  process.exit(0);
} catch (err) {
  // Emscripten's file-system errors are plain objects ({ errno }), not Errors.
  const text = err?.stack ?? (err && typeof err === 'object' ? 'error ' + JSON.stringify(err) : err);
  process.stderr.write(String(text) + '\\n');
  process.exit(1);
}
`;

/**
 * Create the cluster in `dataDir` (which exists; the caller holds its lock)
 * with the same `startParams` this process will open it with. Throws
 * E_CONNECT naming the directory and the child's error.
 */
export async function initdbInChild(dataDir: string, startParams: string[], redactedUrl: string): Promise<void> {
  const marker = path.join(dataDir, CREATING_MARKER);
  if (existsSync(marker)) emptyDir(dataDir); // an earlier creation was interrupted
  // Only a directory we found empty is ours to empty again if this fails;
  // other files in it are someone's (PGlite writes its cluster beside them, as before).
  const owned = readdirSync(dataDir).length === 0;
  if (owned) writeFileSync(marker, `pid ${process.pid} ${new Date().toISOString()}\n`);
  const result = await runChild(dataDir, startParams);
  if (result.ok) {
    if (owned) rmSync(marker, { force: true });
    initdbInternals.created++;
    return;
  }
  if (owned) emptyDir(dataDir);
  throw new FerryError(
    E_CONNECT,
    `Cannot create the embedded database at ${redactedUrl}: the process that creates it ${result.how}` +
      `${result.stderr ? `: ${result.stderr}` : ''}. Check that ${dataDir} is a writable, empty directory ` +
      'with free disk space (or set FERRY_DATA_DIR to another one), then run the command again.',
    { details: { dataDir } },
  );
}

function emptyDir(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(path.join(dir, name), { recursive: true, force: true });
}

type ChildResult = { ok: true } | { ok: false; how: string; stderr: string };

function runChild(dataDir: string, startParams: string[]): Promise<ChildResult> {
  // No NODE_OPTIONS (a parent run through `--import tsx` would load tsx into
  // the child for nothing); the module by the URL this process resolves, so
  // the child loads the very PGlite this process will open the dir with.
  const { NODE_OPTIONS: _, ...env } = process.env;
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT], {
    env: {
      ...env,
      FERRY_INITDB_MODULE: import.meta.resolve('@electric-sql/pglite'),
      FERRY_INITDB_DIR: dataDir,
      FERRY_INITDB_START_PARAMS: JSON.stringify(startParams),
    },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  if (child.pid !== undefined) initdbInternals.onSpawn?.(child.pid);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4000);
  });
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ ok: false, how: `could not start (${err.message})`, stderr: '' }));
    child.on('close', (code, signal) => {
      child.stdin?.destroy();
      if (code === 0) resolve({ ok: true });
      else
        resolve({ ok: false, how: signal ? `was killed (${signal})` : `failed (exit ${code})`, stderr: tail(stderr) });
    });
  });
}

/** The last lines of the child's stderr, short enough for a message. */
function tail(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  return lines.slice(-3).join(' | ').slice(-500);
}
