/**
 * Redis Cluster: how a cluster is named (`redis+cluster://`), the ioredis
 * `Cluster` options Ferry derives from its per-node ones, the key slot of a
 * key (CRC16 with hash tags, as the server computes it), and the startup
 * check that every Lua script's keys share one slot.
 *
 * A cluster URL lists seed nodes, comma-separated; the client discovers the
 * rest (CLUSTER SLOTS) and follows MOVED/ASK redirections and failovers:
 *
 *   redis+cluster://[user:password@]host1:port1,host2:port2[,...]
 *   rediss+cluster://...    (TLS to every node)
 *
 * Reads go to masters only (`scaleReads: 'master'`): a replica lags, and
 * Ferry's leases, session generations and rate counters must read what was
 * just written. There is no database number (a cluster has only db 0).
 *
 * Why hash tags: a Lua script runs on one node and may only touch keys of one
 * slot (else `CROSSSLOT`). Keys that a script touches together therefore
 * carry the same `{tag}`: only the tag is hashed. `checkScriptSlots` computes
 * the slots of the keys a feature would pass (with the client's `keyPrefix`)
 * and refuses to start (`E_REDIS_CROSSSLOT`) if they differ, rather than
 * failing on the first request.
 */
import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis';
import { redactUrl } from '../db/redact.js';
import { FerryError } from '../errors.js';
import { E_REDIS_CROSSSLOT, E_REDIS_URL } from './errors.js';

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\//i;

/** True for `redis+cluster://` and `rediss+cluster://` URLs. */
export function isClusterUrl(url: string): boolean {
  return CLUSTER_SCHEME.test(url.trim());
}

export interface ParsedClusterUrl {
  nodes: ClusterNode[];
  /** Credentials, for every node. */
  auth: { username?: string; password?: string };
  tls: boolean;
  /** The password as written and decoded, to scrub from messages. */
  secrets: string[];
}

/** Parse a cluster URL (see the module comment); E_REDIS_URL, with the password masked, for anything else. */
export function parseClusterUrl(url: string, what = 'redis'): ParsedClusterUrl {
  const input = url.trim();
  const shown = redactUrl(input);
  const bad = (why: string) =>
    new FerryError(
      E_REDIS_URL,
      `${what}: Unsupported Redis Cluster URL "${shown}" (${why}): use redis+cluster://[user:password@]host1:port1,host2:port2 (rediss+cluster:// for TLS), listing one or more nodes of the cluster.`,
      { details: { url: shown } },
    );
  const scheme = CLUSTER_SCHEME.exec(input);
  if (!scheme) throw bad('not a cluster URL');
  let rest = input.slice(scheme[0].length);
  const auth: ParsedClusterUrl['auth'] = {};
  const secrets: string[] = [];
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    const password = colon >= 0 ? userinfo.slice(colon + 1) : '';
    try {
      if (user) auth.username = decodeURIComponent(user);
      if (password) auth.password = decodeURIComponent(password);
    } catch {
      throw bad('malformed percent-encoding in the user or password');
    }
    if (password) secrets.push(password, auth.password!);
  }
  if (/[?#]/.test(rest)) throw bad('query parameters are not supported; pass ioredis options instead');
  rest = rest.replace(/\/$/, '');
  if (rest.includes('/')) throw bad('a cluster has no database number');
  if (rest === '') throw bad('no node');
  const nodes: ClusterNode[] = [];
  for (const part of rest.split(',')) {
    const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(part.trim());
    if (!m) throw bad(`"${part}" is not host:port`);
    const port = m[2] ? Number(m[2]) : 6379;
    if (port < 1 || port > 65535) throw bad(`port ${port} out of range`);
    nodes.push({ host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port });
  }
  return { nodes, auth, tls: scheme[1]!.toLowerCase() === 'rediss', secrets };
}

/**
 * The `Cluster` options for Ferry's per-connection options (`connection.ts`'s
 * modes): the cluster queues (or fails fast) as a single client would; each
 * node connection gets the timeouts, retries and credentials. ioredis itself
 * fixes what a node connection does on loss (no reconnect: the cluster
 * refreshes its slots and follows MOVED instead).
 */
export function clusterOptions(
  node: RedisOptions,
  parsed: ParsedClusterUrl,
  tls: RedisOptions['tls'] | undefined,
): ClusterOptions {
  const {
    enableOfflineQueue,
    retryStrategy,
    lazyConnect,
    keyPrefix,
    enableAutoPipelining,
    scaleReads: _ignored,
    ...perNode
  } = node as RedisOptions & { scaleReads?: unknown };
  return {
    enableOfflineQueue: enableOfflineQueue ?? true,
    lazyConnect: lazyConnect ?? false,
    ...(keyPrefix !== undefined ? { keyPrefix } : {}),
    ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
    // Masters only: a replica may not have the write this process just made.
    scaleReads: 'master',
    clusterRetryStrategy: (times: number) => (retryStrategy ? (retryStrategy(times) ?? null) : null),
    // A manual failover or a master's loss: retry soon, within the command's own timeout.
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
    retryDelayOnTryAgain: 50,
    redisOptions: { ...perNode, ...parsed.auth, ...(tls ? { tls } : {}) },
  };
}

/** True when `client` is an ioredis `Cluster` (duck-typed: a second copy of ioredis fits too). */
export function isClusterClient(client: unknown): client is ClusterLike {
  return (
    typeof client === 'object' &&
    client !== null &&
    (client as { isCluster?: unknown }).isCluster === true &&
    typeof (client as ClusterLike).nodes === 'function'
  );
}

/** The part of an ioredis `Cluster` Ferry uses beyond a plain client's. */
export interface ClusterLike {
  readonly isCluster: true;
  /** Node connections by role; every master must be visited by SCAN-like work. */
  nodes(role?: 'all' | 'master' | 'slave'): Array<Scannable & { options: { host?: string; port?: number } }>;
  /** Slot -> node keys (`host:port`), the master first, as the client currently knows them. */
  readonly slots: string[][];
}

/** A client SCAN can be sent to. */
export interface Scannable {
  scan(cursor: string, m: 'MATCH', pattern: string, c: 'COUNT', n: number): Promise<[string, string[]]>;
}

/**
 * What a SCAN (KEYS, delete-by-prefix...) must visit: every master of a
 * cluster, each holding the keys of its slots (a cluster client's own
 * `scan` goes to one node), or the client itself. Empty while a cluster
 * client knows no master yet.
 */
export function scanTargets(client: Scannable): Scannable[] {
  return isClusterClient(client) ? client.nodes('master') : [client];
}

/**
 * `keys` in groups that one multi-key command (DEL, UNLINK) may take: one
 * group per slot on a cluster (else CROSSSLOT), one group otherwise.
 * `keyPrefix` is the client's, which it adds to the keys it sends.
 */
export function groupBySlot(client: unknown, keys: string[], keyPrefix = ''): string[][] {
  if (!isClusterClient(client)) return keys.length > 0 ? [keys] : [];
  const groups = new Map<number, string[]>();
  for (const k of keys) {
    const slot = keySlot(keyPrefix + k);
    const g = groups.get(slot);
    if (g) g.push(k);
    else groups.set(slot, [k]);
  }
  return [...groups.values()];
}

// ---------------------------------------------------------------- slots

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

/**
 * The cluster slot of `key` (0-16383), as Redis computes it: CRC16 (XMODEM)
 * mod 16384 of the hash tag, i.e. what is between the first `{` and the next
 * `}` when that is not empty, else of the whole key.
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc % 16384;
}

/**
 * Throw `E_REDIS_CROSSSLOT` unless every key of each script (as sent: with
 * `keyPrefix`) hashes to one slot. `scripts` maps a script's name to the
 * keys a feature passes it for a sample call. Run at startup, on every
 * client (a single Redis accepts such scripts, a cluster later would not).
 */
export function checkScriptSlots(what: string, scripts: Record<string, string[]>, keyPrefix = ''): void {
  for (const [name, keys] of Object.entries(scripts)) {
    const slots = new Set(keys.map((k) => keySlot(keyPrefix + k)));
    if (slots.size <= 1) continue;
    const shown = keys.map((k) => `${keyPrefix + k} (slot ${keySlot(keyPrefix + k)})`).join(', ');
    throw new FerryError(
      E_REDIS_CROSSSLOT,
      `${what}: the Lua script ${name} would touch keys of different cluster slots: ${shown}. A Redis Cluster refuses that (CROSSSLOT). The keys must share a hash tag {...}: check the key prefix / namespace (an empty {} tag, or a keyPrefix with a {tag} of its own, changes what is hashed).`,
      { details: { script: name, keys: keys.map((k) => keyPrefix + k) } },
    );
  }
}
