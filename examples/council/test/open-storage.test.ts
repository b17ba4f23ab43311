/**
 * The seed's backend selection: no DATABASE_URL → the JSON files, DATABASE_URL
 * → Postgres, COUNCIL_STORAGE=json|postgres to say so; whichever opens answers
 * through the same interface.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachBackend } from '../../../test/support/backends.js';
import { chooseBackend, openCouncilStorage } from '../open-storage.js';
import { CouncilStorage } from '../storage.js';
import { JsonCouncilStorage } from '../storage-json.js';

describe('council storage selection', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'council-open-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('follows DATABASE_URL like the seed, unless COUNCIL_STORAGE says otherwise', () => {
    expect(chooseBackend({ env: {} })).toBe('json');
    expect(chooseBackend({ env: { DATABASE_URL: 'postgres://x@127.0.0.1/db' } })).toBe('postgres');
    expect(chooseBackend({ env: { COUNCIL_STORAGE: 'postgres' } })).toBe('postgres');
    expect(chooseBackend({ env: { DATABASE_URL: 'postgres://x@127.0.0.1/db', COUNCIL_STORAGE: 'json' } })).toBe('json');
    expect(chooseBackend({ env: {}, url: 'pglite:/tmp/x' })).toBe('postgres');
    expect(() => chooseBackend({ env: { COUNCIL_STORAGE: 'sqlite' } })).toThrow(
      expect.objectContaining({ code: 'E_CONFIG' }),
    );
  });

  it('opens the JSON files under COUNCIL_DATA when there is no DATABASE_URL', async () => {
    const data = path.join(dir, 'data');
    const opened = await openCouncilStorage({ env: { COUNCIL_DATA: data } });
    expect(opened.backend).toBe('json');
    expect(opened.storage).toBeInstanceOf(JsonCouncilStorage);
    const c = await opened.storage.createConversation('uid');
    expect(await readdir(path.join(data, 'uid'))).toEqual([`${c.id}.json`]);
    await opened.close();
  });
});

describeEachBackend('council storage selection', (t) => {
  it('opens the database DATABASE_URL names, migrated', async () => {
    const opened = await openCouncilStorage({ env: { DATABASE_URL: t.url() } });
    try {
      expect(opened.backend).toBe('postgres');
      expect(opened.storage).toBeInstanceOf(CouncilStorage);
      const c = await opened.storage.createConversation('uid');
      expect((await opened.storage.listConversations('uid')).map((x) => x.id)).toEqual([c.id]);
    } finally {
      await opened.close();
    }
  });
});
