/**
 * One contract suite, three implementations of `CouncilStore`: the seed's JSON
 * files (storage-json.ts), Postgres and the embedded PGlite (storage.ts). The
 * same calls must give the same answers, the quota included: 50 concurrent
 * queries against a limit of 10 are exactly 10 allowed (on Postgres over
 * several pooled connections; on PGlite and the JSON files serialised, still
 * exactly 10), and the counters restart at the UTC day and month boundaries.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type DatabaseOf, type Ferry } from '../../../src/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { migrationsDir } from '../open-storage.js';
import type * as schema from '../schema.js';
import * as tables from '../schema.js';
import { CouncilStorage } from '../storage.js';
import { JsonCouncilStorage } from '../storage-json.js';
import type { Conversation, CouncilStore, QuotaResult } from '../store.js';

const stage1 = [
  { model: 'openai/gpt-5.1', response: 'A' },
  { model: 'x-ai/grok-4', response: 'B' },
];
const stage2 = [{ model: 'openai/gpt-5.1', ranking: 'FINAL RANKING:\n1. Response B', parsed_ranking: ['Response B'] }];
const stage3 = { model: 'google/gemini-3-pro-preview', response: 'B, mostly.' };
const at = (iso: string) => new Date(iso);

function storeContract(store: () => CouncilStore) {
  it('creates, reads back and lists conversations with the seed shapes', async () => {
    const s = store();
    const created = await s.createConversation('uid-1', '11111111-1111-4111-8111-111111111111');
    expect(created).toMatchObject({
      id: '11111111-1111-4111-8111-111111111111',
      userId: 'uid-1',
      title: 'New Conversation',
      messages: [],
    });
    expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);
    const generated = await s.createConversation('uid-1');
    expect(generated.id).toMatch(/^[0-9a-f-]{36}$/);
    await expect(s.createConversation('uid-2', created.id)).rejects.toMatchObject({ code: 'E_CONSTRAINT' });

    expect(await s.addUserMessage(created.id, 'Which database?', 'uid-1')).toBe(true);
    expect(await s.addAssistantMessage(created.id, stage1, stage2, stage3, 'uid-1', { label_to_model: {} })).toBe(true);
    expect(await s.addAssistantMessage(created.id, stage1, stage2, stage3, 'uid-1')).toBe(true);
    expect((await s.getConversation(created.id, 'uid-1'))?.messages).toEqual([
      { role: 'user', content: 'Which database?' },
      { role: 'assistant', stage1, stage2, stage3, metadata: { label_to_model: {} } },
      { role: 'assistant', stage1, stage2, stage3 },
    ]);
    const list = await s.listConversations('uid-1');
    expect(list).toHaveLength(2);
    expect(list.find((c) => c.id === created.id)).toEqual({
      id: created.id,
      createdAt: created.createdAt,
      title: 'New Conversation',
      messageCount: 3,
    });
    expect(list.find((c) => c.id === generated.id)?.messageCount).toBe(0);
    expect(await s.listConversations('uid-2')).toEqual([]);
  });

  it('lists newest first and keeps users apart', async () => {
    const s = store();
    const day = (d: number) => new Date(Date.UTC(2024, 0, d)).toISOString();
    for (const [id, d] of [
      ['a', 1],
      ['b', 3],
      ['c', 2],
    ] as const) {
      expect(await s.saveConversation({ id, userId: 'u', title: id, createdAt: day(d), messages: [] }, 'u')).toBe(true);
    }
    expect((await s.listConversations('u')).map((c) => c.id)).toEqual(['b', 'c', 'a']);
    expect((await s.listConversations('u', { limit: 1 })).map((c) => c.id)).toEqual(['b']);
    expect((await s.listConversations('u'))[0]).toEqual({ id: 'b', createdAt: day(3), title: 'b', messageCount: 0 });

    // Someone else's conversation: not found, not changed, not deleted, not appended to.
    expect(await s.getConversation('a', 'intruder')).toBeNull();
    expect(await s.updateConversationTitle('a', 'pwned', 'intruder')).toBe(false);
    expect(await s.addUserMessage('a', 'hi', 'intruder')).toBe(false);
    expect(await s.deleteConversation('a', 'intruder')).toBe(false);
    expect(
      await s.saveConversation(
        { id: 'a', userId: 'intruder', title: 'x', createdAt: day(1), messages: [] },
        'intruder',
      ),
    ).toBe(false);
    expect((await s.getConversation('a', 'u'))?.title).toBe('a');
    expect(await s.addUserMessage('missing', 'hi', 'u')).toBe(false);
    expect(await s.getConversation('missing', 'u')).toBeNull();
  });

  it('saves a whole conversation (replacing its messages), retitles and deletes it', async () => {
    const s = store();
    const conv: Conversation = {
      id: '22222222-2222-4222-8222-222222222222',
      userId: 'u',
      title: 'Draft',
      createdAt: '2024-05-01T10:00:00.000Z',
      messages: [
        { role: 'user', content: 'one' },
        { role: 'assistant', stage1, stage2, stage3 },
      ],
    };
    expect(await s.saveConversation(conv, 'u')).toBe(true);
    expect(await s.getConversation(conv.id, 'u')).toEqual(conv);
    const edited = { ...conv, title: 'Final', messages: [{ role: 'user' as const, content: 'only' }] };
    expect(await s.saveConversation(edited, 'u')).toBe(true);
    expect(await s.getConversation(conv.id, 'u')).toEqual(edited);
    expect(await s.updateConversationTitle(conv.id, 'Renamed', 'u')).toBe(true);
    expect((await s.getConversation(conv.id, 'u'))?.title).toBe('Renamed');
    expect(await s.deleteConversation(conv.id, 'u')).toBe(true);
    expect(await s.deleteConversation(conv.id, 'u')).toBe(false);
    expect(await s.getConversation(conv.id, 'u')).toBeNull();
    expect(await s.listConversations('u')).toEqual([]);
  });

  it('loses no message under concurrent appends', async () => {
    const s = store();
    const conv = await s.createConversation('u');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.addUserMessage(conv.id, `m${i}`, 'u')));
    expect(results.every(Boolean)).toBe(true);
    const got = await s.getConversation(conv.id, 'u');
    expect(new Set(got?.messages.map((m) => (m.role === 'user' ? m.content : '')))).toEqual(
      new Set(Array.from({ length: 20 }, (_, i) => `m${i}`)),
    );
  });

  describe('quota', () => {
    const burst = (s: CouncilStore, user: string, n: number, now: Date) =>
      Promise.all(Array.from({ length: n }, () => s.checkAndIncrementUsage(user, now)));
    const allowed = (rs: QuotaResult[]) => rs.filter((r) => r.allowed).length;

    it('50 concurrent queries against a daily limit of 10: exactly 10 allowed', async () => {
      const s = store();
      const now = at('2024-03-10T12:00:00Z');
      await s.setUsageLimits('busy', { dailyLimit: 10, monthlyLimit: 1000 }, now);
      const results = await burst(s, 'busy', 50, now);
      expect(allowed(results)).toBe(10);
      // Every allowed call saw a different count: 1..10.
      expect(
        results
          .filter((r) => r.allowed)
          .map((r) => r.daily.used)
          .sort((a, b) => a - b),
      ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      for (const r of results.filter((x) => !x.allowed)) {
        expect(r).toEqual({
          allowed: false,
          daily: { used: 10, limit: 10 },
          monthly: { used: 10, limit: 1000 },
          limitedBy: 'daily',
          resetsAt: at('2024-03-11T00:00:00Z'),
        });
      }
      expect(await s.getUsage('busy')).toMatchObject({ dailyUsed: 10, monthlyUsed: 10, totalQueries: 10 });
    });

    it('a user with no usage row: the first of 50 concurrent queries creates it, the free limit (10) holds', async () => {
      const s = store();
      expect(await s.getUsage('newcomer')).toBeNull();
      const results = await burst(s, 'newcomer', 50, at('2024-03-10T12:00:00Z'));
      expect(allowed(results)).toBe(10);
      expect(await s.getUsage('newcomer')).toEqual({
        userId: 'newcomer',
        tier: 'free',
        dailyUsed: 10,
        dailyLimit: 10,
        monthlyUsed: 10,
        monthlyLimit: 100,
        totalQueries: 10,
        lastResetDaily: '2024-03-10',
        lastResetMonthly: '2024-03-01',
      });
    });

    it('the daily counter restarts at 00:00:00 UTC, not a second earlier', async () => {
      const s = store();
      await s.setUsageLimits('d', { dailyLimit: 2, monthlyLimit: 100 }, at('2024-03-10T08:00:00Z'));
      const late = at('2024-03-10T23:59:59Z');
      expect((await burst(s, 'd', 3, late)).map((r) => r.allowed).sort()).toEqual([false, true, true]);
      const refused = await s.checkAndIncrementUsage('d', late);
      expect(refused).toMatchObject({ allowed: false, limitedBy: 'daily', resetsAt: at('2024-03-11T00:00:00Z') });
      const midnight = at('2024-03-11T00:00:00Z');
      expect(await s.checkAndIncrementUsage('d', midnight)).toEqual({
        allowed: true,
        daily: { used: 1, limit: 2 },
        monthly: { used: 3, limit: 100 },
        limitedBy: null,
        resetsAt: at('2024-03-12T00:00:00Z'),
      });
      expect(await s.getUsage('d')).toMatchObject({ dailyUsed: 1, lastResetDaily: '2024-03-11', totalQueries: 3 });
    });

    it('the monthly counter restarts on the 1st at 00:00:00 UTC (across a year too)', async () => {
      const s = store();
      await s.setUsageLimits('m', { dailyLimit: 100, monthlyLimit: 3 }, at('2024-12-02T00:00:00Z'));
      await s.checkAndIncrementUsage('m', at('2024-12-05T10:00:00Z'));
      const late = at('2024-12-31T23:59:59Z');
      expect(allowed(await burst(s, 'm', 4, late))).toBe(2);
      expect(await s.checkAndIncrementUsage('m', late)).toMatchObject({
        allowed: false,
        monthly: { used: 3, limit: 3 },
        limitedBy: 'monthly',
        resetsAt: at('2025-01-01T00:00:00Z'),
      });
      expect(await s.checkAndIncrementUsage('m', at('2025-01-01T00:00:00Z'))).toMatchObject({
        allowed: true,
        daily: { used: 1, limit: 100 },
        monthly: { used: 1, limit: 3 },
      });
      expect(await s.getUsage('m')).toMatchObject({ lastResetMonthly: '2025-01-01', totalQueries: 4 });
    });

    it('a monthly limit lower than the daily one binds first, and the next day does not lift it', async () => {
      const s = store();
      await s.setUsageLimits('low', { tier: 'pro', dailyLimit: 10, monthlyLimit: 4 }, at('2024-06-01T00:00:00Z'));
      const results = await burst(s, 'low', 8, at('2024-06-15T09:00:00Z'));
      expect(allowed(results)).toBe(4);
      expect(results.find((r) => !r.allowed)).toEqual({
        allowed: false,
        daily: { used: 4, limit: 10 },
        monthly: { used: 4, limit: 4 },
        limitedBy: 'monthly',
        resetsAt: at('2024-07-01T00:00:00Z'),
      });
      expect(await s.checkAndIncrementUsage('low', at('2024-06-16T09:00:00Z'))).toMatchObject({
        allowed: false,
        daily: { used: 0, limit: 10 },
        limitedBy: 'monthly',
      });
      expect(await s.checkAndIncrementUsage('low', at('2024-07-01T00:00:00Z'))).toMatchObject({ allowed: true });
      expect(await s.getUsage('low')).toMatchObject({ tier: 'pro', totalQueries: 5 });
    });

    it('changing the limits keeps the counters', async () => {
      const s = store();
      const now = at('2024-03-10T12:00:00Z');
      await burst(s, 'up', 10, now);
      expect((await s.checkAndIncrementUsage('up', now)).allowed).toBe(false);
      expect(await s.setUsageLimits('up', { tier: 'pro', dailyLimit: 100, monthlyLimit: 2000 }, now)).toMatchObject({
        tier: 'pro',
        dailyUsed: 10,
        dailyLimit: 100,
      });
      expect(await s.checkAndIncrementUsage('up', now)).toMatchObject({
        allowed: true,
        daily: { used: 11, limit: 100 },
      });
    });
  });
}

describe('council store contract [json files]', () => {
  let dir: string;
  let storage: JsonCouncilStorage;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'council-json-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    await rm(path.join(dir, 'data'), { recursive: true, force: true });
    storage = new JsonCouncilStorage(path.join(dir, 'data'));
  });
  storeContract(() => storage);

  it('refuses ids that are not one safe path segment', async () => {
    await expect(storage.createConversation('../etc')).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    await expect(storage.createConversation('usage')).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    await expect(storage.checkAndIncrementUsage('a/b')).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    expect(await storage.getConversation('../../x', 'u')).toBeNull();
  });
});

describeEachBackend('council store contract', (t) => {
  let ferry: Ferry<DatabaseOf<typeof schema>>;
  let storage: CouncilStorage;
  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema: tables });
    await ferry.migrate(migrationsDir);
    storage = new CouncilStorage(ferry);
  });
  afterAll(() => ferry?.close());
  beforeEach(async () => {
    await sql`truncate conversations, messages, usage restart identity cascade`.execute(ferry.db);
  });
  storeContract(() => storage);
});
