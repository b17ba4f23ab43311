/**
 * libpq-style multi-host URLs, which node-postgres does not understand:
 *
 *   postgresql://app:pw@db1:5432,db2:5432/app?target_session_attrs=read-write
 *
 * Each new connection tries the hosts in order (starting from the one that
 * worked last) and, with `target_session_attrs=read-write` (or `primary`),
 * keeps only a server that accepts writes. After a failover (the old primary
 * down, a replica promoted) the next new connection finds the new primary
 * with no change of configuration, as libpq-based clients (psql, psycopg) do.
 *
 * Built from one pg-pool.ts pool per host, so each host keeps Ferry's
 * settings, type handling and E_CONNECT messages; this file only chooses.
 * A connection's host is checked once, when it is new (one `select` per new
 * connection, as libpq's `SHOW transaction_read_only`); a connection to a
 * primary that is later demoted without dropping its connections fails its
 * writes (SQLSTATE 25006) until the pool retires it — failovers that stop or
 * fence the old primary (the usual kind) cut those connections anyway.
 */
import { E_CONNECT, FerryError } from '../errors.js';
import type { HostList } from './host-list.js';
import type { PgPool, PgPoolOptions } from './pg-pool.js';
import { isConnectionLoss } from './session.js';

type Client = Awaited<ReturnType<PgPool['connect']>>;

/**
 * One PgPool over several hosts. `makePool` builds the per-host pools
 * (pg-pool.ts's createPgPool: passed in, so this file does not import it).
 */
export function createMultiHostPool(
  hosts: HostList,
  redactedUrl: string,
  makePool: (url: string, opts: PgPoolOptions) => PgPool,
  opts: PgPoolOptions,
): PgPool {
  const pools = hosts.urls.map((url) => makePool(url, opts));
  const checked = new WeakSet<Client>();
  let current = 0;

  const writable = async (client: Client): Promise<boolean> => {
    const { rows } = await client.query<{ ro: boolean }>(
      "select pg_is_in_recovery() or current_setting('transaction_read_only') = 'on' as ro",
      [],
    );
    return rows[0]?.ro === false;
  };

  const connect = async (): Promise<Client> => {
    const failures: string[] = [];
    for (let i = 0; i < pools.length; i++) {
      const index = (current + i) % pools.length;
      const pool = pools[index]!;
      let client: Client;
      try {
        client = await pool.connect();
      } catch (err) {
        if (!isConnectionLoss(err)) throw err;
        failures.push((err as Error).message);
        continue;
      }
      if (hosts.targetSessionAttrs === 'read-write' && !checked.has(client)) {
        let reason: string | null = null;
        try {
          if (!(await writable(client))) reason = 'is read-only (a standby)';
        } catch (err) {
          reason = `failed: ${(err as Error).message}`;
        }
        if (reason !== null) {
          (client.release as (destroy?: boolean) => void)(true);
          failures.push(`${pool.redactedUrl} ${reason}`);
          continue;
        }
        checked.add(client);
      }
      current = index;
      return client;
    }
    throw new FerryError(
      E_CONNECT,
      `Cannot connect to PostgreSQL at ${redactedUrl}: no host${
        hosts.targetSessionAttrs === 'read-write' ? ' accepting writes' : ''
      } answered. ${failures.join(' | ')}`,
      { details: { url: redactedUrl, code: 'NO_HOST' } },
    );
  };

  return {
    kyselyPool: { connect, end: async () => {} },
    get registry() {
      return pools[current]!.registry;
    },
    options: pools[0]!.options,
    redactedUrl,
    connect,
    async refreshTypes() {
      // Through connect(): the host in use now. The others learn types lazily (pg-pool.ts resolves unknown ones).
      const client = await connect();
      client.release();
      await pools[current]!.refreshTypes();
    },
    stats() {
      const all = pools.map((p) => p.stats());
      return {
        total: all.reduce((n, s) => n + s.total, 0),
        idle: all.reduce((n, s) => n + s.idle, 0),
        waiting: all.reduce((n, s) => n + s.waiting, 0),
        max: pools[0]!.options.max,
      };
    },
    async close() {
      await Promise.all(pools.map((p) => p.close()));
    },
  };
}
