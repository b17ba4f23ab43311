import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { connect, type DatabaseOf, type Ferry } from '../../../src/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import * as schema from '../schema.js';
import { ChatService, contentHash } from '../service.js';

describeEachBackend('chatcore service', (t) => {
  let ferry: Ferry<DatabaseOf<typeof schema>>;
  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema });
    await ferry.migrate(new URL('../migrations', import.meta.url).pathname);
  });
  afterAll(() => ferry?.close());
  beforeEach(async () => {
    await sql`truncate users, conversations, messages, sessions, refresh_tokens, session_outbox, documents restart identity cascade`.execute(
      ferry.db,
    );
  });

  it('finds users by casefolded username; the unique key refuses a case variant', async () => {
    const service = new ChatService(ferry);
    const alice = await service.createUser({ username: 'Alice', passwordHash: 'x' });
    expect(alice.username).toBe('alice');
    expect((await service.getUserByUsername('ALICE'))?.id).toBe(alice.id);
    expect((await service.createUser({ username: 'Straße', passwordHash: 'x' })).username).toBe('strasse');
    expect((await service.getUserByUsername('STRASSE'))?.username).toBe('strasse');
    await expect(service.createUser({ username: 'aLiCe', passwordHash: 'y' })).rejects.toMatchObject({
      code: 'E_CONSTRAINT',
    });
    expect(await service.getUserByUsername('nobody')).toBeUndefined();
  });

  it('appends messages in order, concurrently without gaps, and refuses other users', async () => {
    const service = new ChatService(ferry);
    const ann = await service.createUser({ username: 'ann', passwordHash: 'x' });
    const bob = await service.createUser({ username: 'bob', passwordHash: 'x' });
    const conv = await service.createConversation(ann.id, 'Plans');
    const first = await service.addMessage({ conversationId: conv.id, userId: ann.id, role: 'user', content: 'hi' });
    expect(first).toMatchObject({ position: 1, role: 'user', content: 'hi' });
    expect(first!.content_hash).toBe(contentHash('user', 'hi', first!.created_at));
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        service.addMessage({ conversationId: conv.id, userId: ann.id, role: 'assistant', content: `reply ${i}` }),
      ),
    );
    const list = await service.listMessages(conv.id);
    expect(list.map((m) => m.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await service.addMessage({ conversationId: conv.id, userId: bob.id, role: 'user', content: 'x' })).toBe(
      undefined,
    );
  });

  it('lists conversations most recently active first, paged; deleting a user cascades', async () => {
    const service = new ChatService(ferry);
    const ann = await service.createUser({ username: 'ann', passwordHash: 'x' });
    const a = await service.createConversation(ann.id, 'A');
    const b = await service.createConversation(ann.id, 'B');
    const c = await service.createConversation(ann.id);
    expect(c.title).toBe('New Conversation');
    const at = (min: number) => new Date(Date.UTC(2024, 0, 1, 0, min));
    await ferry.db
      .updateTable('conversations')
      .set({ updated_at: at(1) })
      .where('id', '=', b.id)
      .execute();
    await ferry.db
      .updateTable('conversations')
      .set({ updated_at: at(2) })
      .where('id', '=', c.id)
      .execute();
    await ferry.db
      .updateTable('conversations')
      .set({ updated_at: at(3) })
      .where('id', '=', a.id)
      .execute();
    await service.addMessage({ conversationId: b.id, userId: ann.id, role: 'user', content: 'bump' });
    const p1 = await service.listConversations(ann.id, { limit: 2 });
    const p2 = await service.listConversations(ann.id, { limit: 2, cursor: p1.nextCursor! });
    expect([...p1.rows, ...p2.rows].map((r) => r.title)).toEqual(['B', 'A', 'New Conversation']);
    expect(p2.nextCursor).toBeNull();

    await ferry.repo(schema.users).delete(ann.id);
    expect(await ferry.repo(schema.conversations).count()).toBe(0);
    expect(await ferry.repo(schema.messages).count()).toBe(0);
  });

  it('documents: JSONB bodies queried through the GIN index operators', async () => {
    await ferry.repo(schema.documents).insert([
      { doc_type: 'employee', body: { id: 'E1', department: 'D01', skills: ['sql'] } },
      { doc_type: 'employee', body: { id: 'E2', department: 'D02', skills: ['python'] } },
    ]);
    const rows = await ferry.db
      .selectFrom('documents')
      .select(sql<string>`body->>'id'`.as('id'))
      .where(sql<boolean>`body @> ${JSON.stringify({ skills: ['python'] })}::jsonb`)
      .execute();
    expect(rows).toEqual([{ id: 'E2' }]);
  });
});
