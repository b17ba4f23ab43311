/**
 * The circuit breaker and the replay queue shared by the cache's L2 and the
 * session store. Probes run on real (short) timers; tests wait for states
 * with `eventually`, never for a fixed time.
 */
import { describe, expect, it } from 'vitest';
import { type BreakerState, CircuitBreaker, type ProbeResult, ReplayQueue } from '../../src/redis/breaker.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function eventually(fn: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function breaker(
  probe: () => Promise<ProbeResult>,
  options: Partial<{ threshold: number; initial: BreakerState; pending: () => boolean }> = {},
) {
  const changes: string[] = [];
  const b = new CircuitBreaker({
    threshold: options.threshold ?? 3,
    breakMs: 20,
    probe,
    onChange: (state, reason) => changes.push(`${state}: ${reason}`),
    initial: options.initial,
    pending: options.pending,
  });
  return { b, changes };
}

describe('CircuitBreaker', () => {
  it('opens after `threshold` consecutive failures; a success ends the streak', () => {
    const { b, changes } = breaker(async () => 'down');
    try {
      b.failure();
      b.failure();
      b.success();
      b.failure();
      b.failure();
      expect(b.state).toBe('closed');
      b.failure();
      expect(b.state).toBe('open');
      expect(changes).toEqual(['open: 3 consecutive failures']);
    } finally {
      b.stop();
    }
  });

  it('trip() opens at once, without waiting for the threshold', () => {
    const { b, changes } = breaker(async () => 'down');
    b.trip('an invalidation could not be written');
    expect(b.state).toBe('open');
    expect(changes).toEqual(['open: an invalidation could not be written']);
    b.stop();
  });

  it('half-open: one probe after breakMs; a failed probe reopens, a good one closes', async () => {
    let calls = 0;
    let up = false;
    let release: (() => void) | undefined;
    const { b, changes } = breaker(async () => {
      calls++;
      await new Promise<void>((r) => {
        release = r;
      });
      return up ? true : 'probe failed';
    });
    try {
      b.open('test');
      await eventually(() => b.state === 'half-open', 'a probe');
      expect(calls).toBe(1);
      release!();
      await eventually(() => calls === 2, 'a second probe');
      expect(changes.slice(0, 3)).toEqual(['open: test', 'half-open: probing', 'open: probe failed']);
      up = true;
      release!();
      await eventually(() => b.state === 'closed', 'closed');
      expect(changes.at(-1)).toBe('closed: recovered');
      expect(b.failures).toBe(0);
    } finally {
      b.stop();
    }
  });

  it("a probe answering 'wait' (first connection) keeps it open without reporting a failure", async () => {
    let calls = 0;
    const { b, changes } = breaker(async () => (++calls < 3 ? 'wait' : true), { initial: 'open' });
    try {
      b.probeIn(0);
      await eventually(() => b.state === 'closed', 'closed');
      expect(calls).toBe(3);
      expect(changes.filter((c) => c.startsWith('open'))).toEqual([]);
    } finally {
      b.stop();
    }
  });

  it('a trip during a probe keeps it from closing (the write may have missed the replay)', async () => {
    let release: (() => void) | undefined;
    let calls = 0;
    const { b } = breaker(async () => {
      calls++;
      if (calls === 1) await new Promise<void>((r) => (release = r));
      return true;
    });
    try {
      b.open('test');
      await eventually(() => release !== undefined, 'the probe');
      b.trip('written while probing');
      release!();
      await eventually(() => calls === 2, 'another probe');
      await eventually(() => b.state === 'closed', 'closed');
    } finally {
      b.stop();
    }
  });

  it('a trip during a probe whose replay left nothing pending does not keep it from closing', async () => {
    // The owner's queue drains until empty, so what was tripped during the probe was replayed by it.
    // Under a steady stream of writes during recovery every probe sees a trip: failing each one
    // kept the breaker open for as long as the writes went on.
    for (const queued of [false, true]) {
      let release: (() => void) | undefined;
      let calls = 0;
      const { b } = breaker(
        async () => {
          calls++;
          if (calls === 1) await new Promise<void>((r) => (release = r));
          return true;
        },
        { pending: () => queued && calls < 2 },
      );
      try {
        b.open('test');
        await eventually(() => release !== undefined, 'the probe');
        b.trip('written while probing');
        release!();
        await eventually(() => b.state === 'closed', 'closed');
        // Closed by the first probe when nothing was pending; by a second one when something was.
        expect(calls).toBe(queued ? 2 : 1);
      } finally {
        b.stop();
      }
    }
  });

  it('stop(): no more probes', async () => {
    let calls = 0;
    const { b } = breaker(async () => {
      calls++;
      return 'down';
    });
    b.open('test');
    b.stop();
    await sleep(60);
    expect(calls).toBe(0);
  });
});

describe('ReplayQueue', () => {
  it('drains in order of first failure once Redis is back, then the breaker closes', async () => {
    const queue = new ReplayQueue<string>({ max: 100 });
    let redisUp = false;
    const replayed: string[] = [];
    let probes = 0;
    const { b } = breaker(async () => {
      probes++;
      const ok = await queue.drain({
        batchSize: 2,
        replay: async (batch) => {
          if (!redisUp) return false;
          for (const [k, v] of batch) replayed.push(`${k}=${v}`);
          return true;
        },
      });
      return ok ? true : 'replay failed';
    });
    try {
      for (const k of ['a', 'b', 'c']) {
        queue.add(k, `del ${k}`);
        b.trip('write failed');
      }
      expect(queue.size).toBe(3);
      await eventually(() => probes >= 2, 'two probes');
      expect(b.state).not.toBe('closed');
      expect(queue.size).toBe(3);
      redisUp = true;
      await eventually(() => b.state === 'closed', 'closed');
      expect(replayed).toEqual(['a=del a', 'b=del b', 'c=del c']);
      expect(queue.size).toBe(0);
    } finally {
      b.stop();
    }
  });

  it('stops at the first failed batch and keeps what was not replayed', async () => {
    const queue = new ReplayQueue<number>({ max: 100 });
    for (let i = 0; i < 5; i++) queue.add(`k${i}`, i);
    let batches = 0;
    const ok = await queue.drain({ batchSize: 2, replay: async () => ++batches < 2 });
    expect(ok).toBe(false);
    expect(queue.size).toBe(3);
    expect(queue.has('k0')).toBe(false);
    expect(queue.has('k2')).toBe(true);
  });

  it('a key failing again while its replay is in flight stays queued', async () => {
    const queue = new ReplayQueue<number>({ max: 100 });
    queue.add('k', 1);
    const seen: number[] = [];
    const ok = await queue.drain({
      batchSize: 10,
      replay: async (batch) => {
        seen.push(batch[0]![1]);
        if (seen.length === 1) queue.add('k', 2); // failed again while its replay was in flight
        return true;
      },
    });
    expect(ok).toBe(true);
    // The loop replays the re-added entry too: nothing is dropped.
    expect(seen).toEqual([1, 2]);
    expect(queue.size).toBe(0);
    const again = new ReplayQueue<number>({ max: 100 });
    again.add('k', 1);
    let first = true;
    const stopped = await again.drain({
      batchSize: 10,
      replay: async () => {
        if (first) {
          first = false;
          again.add('k', 2);
          return true;
        }
        return false;
      },
    });
    expect(stopped).toBe(false);
    expect(again.has('k')).toBe(true);
  });

  it('is bounded: beyond `max` keys it replays everything at once instead', async () => {
    const queue = new ReplayQueue<true>({ max: 3 });
    for (const k of ['a', 'b', 'c']) queue.add(k, true);
    expect(queue.overflowed).toBe(false);
    queue.add('d', true);
    expect(queue.overflowed).toBe(true);
    expect(queue.size).toBe(1);
    queue.add('e', true); // covered by the replay-all
    expect(queue.has('e')).toBe(false);
    const calls: string[] = [];
    const failed = await queue.drain({
      batchSize: 10,
      replay: async (batch) => {
        calls.push(`keys ${batch.map(([k]) => k).join(',')}`);
        return true;
      },
      replayAll: async () => {
        calls.push('all');
        return false;
      },
    });
    expect(failed).toBe(false);
    expect(queue.overflowed).toBe(true);
    const ok = await queue.drain({
      batchSize: 10,
      replay: async (batch) => {
        calls.push(`keys ${batch.map(([k]) => k).join(',')}`);
        return true;
      },
      replayAll: async () => {
        calls.push('all');
        return true;
      },
    });
    expect(ok).toBe(true);
    expect(calls).toEqual(['all', 'all']);
    expect(queue.size).toBe(0);
  });
});
