/**
 * A PGlite data directory initialised once and copied per test file:
 * initdb in WASM costs seconds, a copy plus open well under one.
 *
 * A data dir is ~970 small files, so where they live matters more than how
 * many bytes they hold: on tmpfs (/dev/shm) a copy takes ~40 ms, on a VM's
 * ext4 ~1 s. FERRY_TEST_TMPDIR overrides the choice.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export const TEMPLATE_ENV = 'FERRY_TEST_PGLITE_TEMPLATE';

/** tmpfs when there is room (Docker's default /dev/shm is only 64 MB), else the OS temp dir. */
function testTmpRoot(): string {
  if (process.env.FERRY_TEST_TMPDIR) return process.env.FERRY_TEST_TMPDIR;
  const shm = '/dev/shm';
  try {
    accessSync(shm, constants.W_OK);
    const { bavail, bsize } = statfsSync(shm);
    if (bavail * bsize > 2 * 1024 ** 3) return shm;
  } catch {
    // no /dev/shm (macOS, Windows)
  }
  return os.tmpdir();
}

const TMP_ROOT = testTmpRoot();

/** Per-file copies live here, named `<pid>-<random>` so leftovers of dead runs can be found. */
export const TEST_DIRS_ROOT = path.join(TMP_ROOT, 'ferry-test-pglite');

function pgliteVersion(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = path.join(path.dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
}

export function templatePath(): string {
  return path.join(TMP_ROOT, `ferry-pglite-template-${pgliteVersion()}`);
}

/** Create the template unless a complete one exists; safe when several runs race. */
export async function ensureTemplate(): Promise<string> {
  const final = templatePath();
  if (existsSync(path.join(final, 'PG_VERSION'))) return final;
  const building = `${final}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = await PGlite.create({ dataDir: building });
  await pg.close();
  try {
    await rename(building, final);
  } catch {
    // Another run finished first (or a broken template is in the way).
    if (!existsSync(path.join(final, 'PG_VERSION'))) {
      await rm(final, { recursive: true, force: true });
      await rename(building, final);
    } else {
      await rm(building, { recursive: true, force: true });
    }
  }
  return final;
}

const listings = new Map<string, { dirs: string[]; files: string[] }>();

async function listTemplate(template: string): Promise<{ dirs: string[]; files: string[] }> {
  let listing = listings.get(template);
  if (!listing) {
    const entries = await readdir(template, { recursive: true, withFileTypes: true });
    const rel = (e: { parentPath: string; name: string }) => path.relative(template, path.join(e.parentPath, e.name));
    listing = {
      dirs: entries.filter((e) => e.isDirectory()).map(rel),
      // A pid file from an unclean template close would make PGlite think it is running.
      files: entries.filter((e) => e.isFile() && e.name !== 'postmaster.pid').map(rel),
    };
    listings.set(template, listing);
  }
  return listing;
}

/** Copy the template into a fresh directory (removed by the caller). */
export async function copyTemplate(template: string): Promise<string> {
  const dir = path.join(TEST_DIRS_ROOT, `${process.pid}-${randomBytes(6).toString('hex')}`);
  const { dirs, files } = await listTemplate(template);
  await mkdir(dir, { recursive: true });
  for (const d of dirs) await mkdir(path.join(dir, d), { recursive: true });
  // Many small files: copy them concurrently (fs.cp goes one by one).
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++]!;
      await copyFile(path.join(template, f), path.join(dir, f), constants.COPYFILE_FICLONE);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return dir;
}

/** Remove per-file directories whose creating process is gone (crashed or killed runs). */
export async function removeDeadTestDirs(): Promise<void> {
  if (!existsSync(TEST_DIRS_ROOT)) return;
  for (const name of readdirSync(TEST_DIRS_ROOT)) {
    const pid = Number(name.split('-')[0]);
    if (!Number.isInteger(pid) || isAlive(pid)) continue;
    await rm(path.join(TEST_DIRS_ROOT, name), { recursive: true, force: true });
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
