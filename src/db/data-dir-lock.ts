/**
 * An exclusive lock on an embedded (PGlite) data directory.
 *
 * Two PGlite instances writing one directory corrupt it: each believes it is
 * the only postmaster. The lock is a file beside the directory
 * (`<dataDir>.lock`, so copying or deleting the directory never carries a
 * stale lock along) created with O_EXCL and holding the owner's pid, host and
 * start time. A lock whose pid is dead is stale and taken over, like
 * Postgres's own postmaster.pid. Locks are also tracked in-process, because
 * opening the same directory twice in one process is just as fatal.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import { E_DATA_DIR_LOCKED, FerryError } from '../errors.js';

export interface DataDirLock {
  readonly dataDir: string;
  readonly lockFile: string;
  /** Remove the lock file; idempotent. */
  release(): void;
}

interface LockContent {
  pid: number;
  hostname: string;
  startedAt: string;
  token: string;
}

const heldHere = new Map<string, LockContent>();
let exitHookInstalled = false;

/** Lock file path for a data directory. */
export function lockFileFor(dataDir: string): string {
  return `${dataDir.replace(/[\\/]+$/, '')}.lock`;
}

/** Take the lock for an absolute `dataDir`, or throw E_DATA_DIR_LOCKED saying who holds it. */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  const lockFile = lockFileFor(dataDir);
  if (heldHere.has(lockFile)) {
    throw new FerryError(
      E_DATA_DIR_LOCKED,
      `The embedded database at ${dataDir} is already open in this process (pid ${process.pid}). ` +
        'A PGlite data directory can have only one open handle: reuse the handle you have, or close it ' +
        '(await handle.close()) before opening the directory again.',
      { details: { dataDir, lockFile, pid: process.pid } },
    );
  }
  const content: LockContent = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: new Date().toISOString(),
    token: randomUUID(),
  };
  // A few rounds: a stale lock we remove may be re-created by a racing process.
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(lockFile, content)) {
      heldHere.set(lockFile, content);
      installExitHook();
      return { dataDir, lockFile, release: () => releaseLock(lockFile, content) };
    }
    const owner = readOwner(lockFile);
    if (owner === 'missing') continue;
    if (owner === 'unreadable') {
      // Being written right now (O_EXCL create, then write) unless it is old junk.
      if (ageMs(lockFile) < 2_000) throw lockedError(dataDir, lockFile, null);
    } else if (isAlive(owner.pid)) {
      throw lockedError(dataDir, lockFile, owner);
    }
    rmSync(lockFile, { force: true });
  }
  throw lockedError(dataDir, lockFile, null);
}

function tryCreate(lockFile: string, content: LockContent): boolean {
  let fd: number;
  try {
    fd = openSync(lockFile, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(content) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

function readOwner(lockFile: string): LockContent | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(lockFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockContent>;
    if (typeof parsed.pid === 'number' && Number.isInteger(parsed.pid)) return parsed as LockContent;
  } catch {
    // fall through
  }
  return 'unreadable';
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Whether `pid` names a running process. Our own pid is not alive here: we would know (heldHere). */
export function isAlive(pid: number): boolean {
  if (pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockedError(dataDir: string, lockFile: string, owner: LockContent | null): FerryError {
  const who = owner
    ? `process ${owner.pid} on host ${owner.hostname} (since ${owner.startedAt})`
    : 'another process (its lock file is being written or cannot be read)';
  return new FerryError(
    E_DATA_DIR_LOCKED,
    `The embedded database at ${dataDir} is already open in ${who}. ` +
      'A PGlite data directory can be used by only one process at a time: stop that process, ' +
      'or give this one its own directory with FERRY_DATA_DIR (or use a PostgreSQL server via DATABASE_URL). ' +
      `If no such process exists, delete ${lockFile}.`,
    { details: { dataDir, lockFile, pid: owner?.pid ?? null, hostname: owner?.hostname ?? null } },
  );
}

function releaseLock(lockFile: string, content: LockContent): void {
  if (heldHere.get(lockFile) !== content) return;
  heldHere.delete(lockFile);
  const owner = readOwner(lockFile);
  // Only remove the file if it is still ours (someone may have deleted and re-taken it).
  if (typeof owner === 'object' && owner.token === content.token) rmSync(lockFile, { force: true });
}

// A process that exits without close() should not leave locks for the next run to puzzle over.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [lockFile, content] of heldHere) {
      try {
        releaseLock(lockFile, content);
      } catch {
        // best effort at exit
      }
    }
  });
}
