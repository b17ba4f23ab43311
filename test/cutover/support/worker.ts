/**
 * A cutover instance in its own process, driven over IPC by
 * test/cutover/instances.test.ts: writes on request or in a loop, and can
 * hang its secondary write of key "hang" (to be SIGKILLed between the two).
 */
import { defineCutover } from '../../../src/cutover/cutover.js';
import { openDatabase } from '../../../src/db/open.js';
import { tableStore } from './stores.js';

const config = JSON.parse(process.argv[2]!) as {
  url: string;
  name: string;
  old: string;
  new: string;
  poll: number;
  ttl: number;
};
const send = (m: unknown) => process.send!(m);
const db = await openDatabase({ url: config.url });
const old = await tableStore<unknown>(db, config.old);
const neu = await tableStore<unknown>(db, config.new);
const put = neu.put;
neu.put = (key, value) => (key === 'hang' ? new Promise(() => {}) : put(key, value));
const oldPut = old.put;
old.put = async (key, value) => {
  await oldPut(key, value);
  if (key === 'hang') send({ cmd: 'primary-done' });
};
const cutover = defineCutover({ name: config.name, old, new: neu, db, poll: config.poll, instanceTtl: config.ttl });
await cutover.ready();
let i = 0;
let looping = false;
let loop: Promise<void> = Promise.resolve();
process.on('message', async (m: { cmd: string; key?: string; value?: unknown; prefix?: string }) => {
  if (m.cmd === 'write') {
    void cutover.write(m.key!, m.value);
  } else if (m.cmd === 'loop') {
    looping = true;
    loop = (async () => {
      while (looping) await cutover.write(`${m.prefix}-${i++}`, { n: i });
    })();
  } else if (m.cmd === 'mark') {
    send({ cmd: 'mark', next: i });
  } else if (m.cmd === 'stop') {
    looping = false;
    await loop;
    await cutover.close();
    await db.close();
    send({ cmd: 'stopped', count: i });
  }
});
send({ cmd: 'ready' });
