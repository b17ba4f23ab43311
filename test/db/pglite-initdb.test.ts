/**
 * A fresh PGlite data dir is created (initdb) in a child process, under the
 * data-dir lock, and then opened here as an existing one (issue 13: the WASM
 * memory initdb grows is never returned, so it must not grow in this process).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireDataDirLock } from '../../src/db/data-dir-lock.js';
import { openDatabase } from '../../src/db/open.js';
import { CREATING_MARKER, initdbInternals } from '../../src/db/pglite-initdb.js';
import { E_CONNECT, E_DATA_DIR_LOCKED } from '../../src/errors.js';
import { TEST_BACKENDS } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';

describe.runIf(TEST_BACKENDS.includes('pglite'))('PGlite data dir creation in a child process', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ferry-initdb-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));
  afterEach(() => {
    initdbInternals.onSpawn = undefined;
  });

  /** Open `dir` counting onCreate calls. */
  async function open(dir: string) {
    const creates: string[] = [];
    const handle = await openDatabase({ dataDir: dir, env: {}, onCreate: (d) => creates.push(d) });
    return { handle, creates };
  }

  const shared = () => path.join(root, 'shared');

  it('creates a fresh dir in another process, holding the lock meanwhile; onCreate fires once; a second open is refused', async () => {
    const before = initdbInternals.created;
    let lockedDuringCreation: unknown;
    initdbInternals.onSpawn = () => {
      try {
        acquireDataDirLock(shared()).release();
      } catch (err) {
        lockedDuringCreation = err;
      }
    };
    const { handle, creates } = await open(shared());
    try {
      expect(initdbInternals.created).toBe(before + 1);
      expect(lockedDuringCreation).toMatchObject({ code: E_DATA_DIR_LOCKED });
      expect(creates).toEqual([shared()]);
      expect(existsSync(path.join(shared(), 'PG_VERSION'))).toBe(true);
      expect(existsSync(path.join(shared(), CREATING_MARKER))).toBe(false);
      await sql`create table kept (v text)`.execute(handle.db);
      await sql`insert into kept values ('across reopen')`.execute(handle.db);
      await expectFerryError(openDatabase({ dataDir: shared(), env: {} }), E_DATA_DIR_LOCKED);
    } finally {
      await handle.close();
    }
  });

  it('reopens the created cluster with its data, without creating it again', async () => {
    const before = initdbInternals.created;
    const { handle, creates } = await open(shared());
    try {
      expect(creates).toEqual([]);
      expect(initdbInternals.created).toBe(before);
      expect((await sql<{ v: string }>`select v from kept`.execute(handle.db)).rows).toEqual([{ v: 'across reopen' }]);
    } finally {
      await handle.close();
    }
  });

  it('memory:// is still created in this process', async () => {
    const before = initdbInternals.created;
    const h = await openDatabase({ url: 'memory://', env: {} });
    try {
      expect(await h.ping()).toBeGreaterThanOrEqual(0);
      expect(initdbInternals.created).toBe(before);
    } finally {
      await h.close();
    }
  });

  it('a child that fails is E_CONNECT naming the dir and its error; files that were there stay', async () => {
    // Works as root too: the cluster's `base` folder cannot be written over a file.
    const dir = path.join(root, 'occupied');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'base'), 'not a folder');
    const err = await expectFerryError(
      openDatabase({ dataDir: dir, env: {} }),
      E_CONNECT,
      /Cannot create the embedded database at pglite:.*occupied: the process that creates it failed \(exit 1\): .+\. Check that .*occupied is a writable, empty directory/,
    );
    expect(err.details).toEqual({ dataDir: dir });
    expect(err.message).not.toContain('[object Object]'); // the child's error, readable
    expect(readdirSync(dir).sort()).toContain('base');
    expect(existsSync(path.join(dir, 'PG_VERSION'))).toBe(false);
    // The lock went with the failure.
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });

  it('a child killed once it started writing leaves an empty dir, which the next open creates', async () => {
    const dir = path.join(root, 'killed');
    initdbInternals.onSpawn = (pid) => {
      // Kill it as soon as PG_VERSION is on disk: the cluster beside it is not finished.
      const timer = setInterval(() => {
        if (existsSync(path.join(dir, 'PG_VERSION'))) {
          clearInterval(timer);
          process.kill(pid, 'SIGKILL');
        }
      }, 2);
    };
    await expectFerryError(
      openDatabase({ dataDir: dir, env: {} }),
      E_CONNECT,
      /the process that creates it was killed \(SIGKILL\)/,
    );
    expect(readdirSync(dir)).toEqual([]);
    initdbInternals.onSpawn = undefined;
    const { handle, creates } = await open(dir);
    try {
      expect(creates).toEqual([dir]);
      expect(await handle.ping()).toBeGreaterThanOrEqual(0);
    } finally {
      await handle.close();
    }
  });

  it('a creation interrupted with its process (the marker still there) is redone, even with PG_VERSION written', async () => {
    const dir = path.join(root, 'interrupted');
    mkdirSync(path.join(dir, 'base'), { recursive: true });
    writeFileSync(path.join(dir, CREATING_MARKER), 'pid 1\n');
    writeFileSync(path.join(dir, 'PG_VERSION'), '18\n');
    writeFileSync(path.join(dir, 'base', 'half-written'), '');
    const before = initdbInternals.created;
    const { handle, creates } = await open(dir);
    try {
      expect(creates).toEqual([dir]);
      expect(initdbInternals.created).toBe(before + 1);
      expect(existsSync(path.join(dir, 'base', 'half-written'))).toBe(false);
      expect(existsSync(path.join(dir, CREATING_MARKER))).toBe(false);
      await sql`create table t (x int)`.execute(handle.db);
    } finally {
      await handle.close();
    }
  });
});
