import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { connect, type DatabaseOf, type Ferry } from '../../../src/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import * as schema from '../schema.js';
import { type Conversation, CouncilStorage } from '../storage.js';

const stage1 = [
  { model: 'openai/gpt-5.1', response: 'A' },
  { model: 'x-ai/grok-4', response: 'B' },
];
const stage2 = [{ model: 'openai/gpt-5.1', ranking: 'FINAL RANKING:\n1. Response B', parsed_ranking: ['Response B'] }];
const stage3 = { model: 'google/gemini-3-pro-preview', response: 'B, mostly.' };

describeEachBackend('council storage', (t) => {
  let ferry: Ferry<DatabaseOf<typeof schema>>;
  let storage: CouncilStorage;
  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema });
    await ferry.migrate(new URL('../migrations', import.meta.url).pathname);
    storage = new CouncilStorage(ferry);
  });
  afterAll(() => ferry?.close());
  beforeEach(async () => {
    await sql`truncate conversations, messages, usage restart identity cascade`.execute(ferry.db);
  });

  it('creates, reads back and lists conversations with the seed shapes', async () => {
    const created = await storage.createConversation('uid-1', '11111111-1111-4111-8111-111111111111');
    expect(created).toMatchObject({
      id: '11111111-1111-4111-8111-111111111111',
      userId: 'uid-1',
      title: 'New Conversation',
      messages: [],
    });
    expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);
    const generated = await storage.createConversation('uid-1');
    expect(generated.id).toMatch(/^[0-9a-f-]{36}$/);

    expect(await storage.addUserMessage(created.id, 'Which database?', 'uid-1')).toBe(true);
    expect(await storage.addAssistantMessage(created.id, stage1, stage2, stage3, 'uid-1', { label_to_model: {} })).toBe(
      true,
    );
    expect(await storage.addAssistantMessage(created.id, stage1, stage2, stage3, 'uid-1')).toBe(true);
    const got = await storage.getConversation(created.id, 'uid-1');
    expect(got?.messages).toEqual([
      { role: 'user', content: 'Which database?' },
      { role: 'assistant', stage1, stage2, stage3, metadata: { label_to_model: {} } },
      { role: 'assistant', stage1, stage2, stage3 },
    ]);

    const list = await storage.listConversations('uid-1');
    expect(new Map(list.map((c) => [c.id, c.messageCount]))).toEqual(
      new Map([
        [created.id, 3],
        [generated.id, 0],
      ]),
    );
    expect(list.find((c) => c.id === created.id)).toEqual({
      id: created.id,
      createdAt: created.createdAt,
      title: 'New Conversation',
      messageCount: 3,
    });
    expect(await storage.listConversations('uid-2')).toEqual([]);
  });

  it('lists newest first and keeps users apart', async () => {
    const at = (day: number) => new Date(Date.UTC(2024, 0, day)).toISOString();
    for (const [id, day] of [
      ['a', 1],
      ['b', 3],
      ['c', 2],
    ] as const) {
      await storage.saveConversation({ id, userId: 'u', title: id, createdAt: at(day), messages: [] }, 'u');
    }
    expect((await storage.listConversations('u')).map((c) => c.id)).toEqual(['b', 'c', 'a']);
    expect((await storage.listConversations('u', { limit: 1 })).map((c) => c.id)).toEqual(['b']);

    // Someone else's conversation: not found, not changed, not deleted, not appended to.
    expect(await storage.getConversation('a', 'intruder')).toBeNull();
    expect(await storage.updateConversationTitle('a', 'pwned', 'intruder')).toBe(false);
    expect(await storage.addUserMessage('a', 'hi', 'intruder')).toBe(false);
    expect(await storage.deleteConversation('a', 'intruder')).toBe(false);
    expect(
      await storage.saveConversation(
        { id: 'a', userId: 'intruder', title: 'x', createdAt: at(1), messages: [] },
        'intruder',
      ),
    ).toBe(false);
    expect((await storage.getConversation('a', 'u'))?.title).toBe('a');
    expect(await storage.addUserMessage('missing', 'hi', 'u')).toBe(false);
  });

  it('saves a whole conversation (replacing its messages), retitles and deletes with its messages', async () => {
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
    expect(await storage.saveConversation(conv, 'u')).toBe(true);
    expect(await storage.getConversation(conv.id, 'u')).toEqual(conv);
    const edited = { ...conv, title: 'Final', messages: [{ role: 'user' as const, content: 'only' }] };
    expect(await storage.saveConversation(edited, 'u')).toBe(true);
    expect(await storage.getConversation(conv.id, 'u')).toEqual(edited);

    expect(await storage.updateConversationTitle(conv.id, 'Renamed', 'u')).toBe(true);
    expect((await storage.getConversation(conv.id, 'u'))?.title).toBe('Renamed');
    expect(await storage.deleteConversation(conv.id, 'u')).toBe(true);
    expect(await storage.getConversation(conv.id, 'u')).toBeNull();
    expect(await ferry.repo(schema.messages).count()).toBe(0);
  });

  it('concurrent appends get consecutive positions', async () => {
    const conv = await storage.createConversation('u');
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        ferry.transaction((tx) => new CouncilStorage(tx).addUserMessage(conv.id, `m${i}`, 'u')),
      ),
    );
    const rows = await ferry.repo(schema.messages).findMany({ orderBy: { position: 'asc' } });
    expect(rows.map((r) => r.position)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await storage.getConversation(conv.id, 'u'))?.messages).toHaveLength(10);
  });
});
