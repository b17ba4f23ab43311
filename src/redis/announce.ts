/**
 * Says when Redis goes away and comes back, once per transition, for the
 * cache, the rate limits and the sessions alike: the first failure (at start
 * too: a wrong `REDIS_URL` must not be silent) is one warning naming the
 * redacted URL and what still works; Redis back is one info line; down again
 * one more warning. Never one per retry or per failed command (those stay
 * debug lines and `onError` calls).
 *
 * Through the component's `logger` when given, else `process.emitWarning`
 * (codes FERRY_REDIS_UNAVAILABLE / FERRY_REDIS_AVAILABLE; see src/warnings.ts).
 * A Redis that is fine from the start says nothing.
 *
 * Who decides "down" differs: the cache and the rate limiter tell it from
 * their circuit breakers (which also notice a Redis that hangs), the session
 * store from the client's connection events (`watchConnection`).
 */
import { redactText } from '../db/url.js';
import type { Layer, Logger } from '../logger.js';
import { warner } from '../warnings.js';
import type { RedisConnection } from './connection.js';

export interface RedisAnnouncerOptions {
  /** Who speaks: `createCache "app"`, `createRateLimiter "rate"`... */
  what: string;
  /** The redacted URL (RedisConnection.shown). */
  shown: string;
  /** What still works while Redis is away, as the end of a sentence: `reads go to the loader`. */
  fallback: string;
  logger: Logger | false | undefined;
  layer: Layer;
}

export type RedisAvailability = 'unknown' | 'up' | 'down';

export class RedisAnnouncer {
  readonly #o: RedisAnnouncerOptions;
  readonly #warn;
  #state: RedisAvailability = 'unknown';
  #closed = false;

  constructor(options: RedisAnnouncerOptions) {
    this.#o = options;
    this.#warn = warner(options.logger, options.layer);
  }

  get state(): RedisAvailability {
    return this.#state;
  }

  /** Redis failed (`reason`: a redacted message). Warns unless already down. */
  down(reason: string): void {
    if (this.#closed || this.#state === 'down') return;
    const first = this.#state === 'unknown';
    this.#state = 'down';
    const { what, shown, fallback } = this.#o;
    this.#warn(
      'warn',
      'FERRY_REDIS_UNAVAILABLE',
      `${what}: Redis at ${shown} is ${first ? 'unreachable' : 'unavailable'} (${reason}); ${fallback} until it is back.`,
      { url: shown, reason },
    );
  }

  /** Redis answered. Says so only when it had been reported down. */
  up(): void {
    if (this.#closed || this.#state === 'up') return;
    const was = this.#state;
    this.#state = 'up';
    if (was === 'down') {
      const { what, shown } = this.#o;
      this.#warn('info', 'FERRY_REDIS_AVAILABLE', `${what}: Redis at ${shown} is available again.`, { url: shown });
    }
  }

  /** Nothing more is said (the owner is closing: its own disconnect is no outage). */
  close(): void {
    this.#closed = true;
  }
}

/**
 * Announce from a client's connection events: `ready` is up, an `error`
 * (connection refused, reset, DNS...) or a `reconnecting` is down. (`close`
 * alone is not: a deliberate quit emits it too, but never `reconnecting`.)
 * Driver messages are scrubbed of the connection's password.
 */
export function watchConnection(
  connection: Pick<RedisConnection, 'client' | 'shown' | 'secrets'>,
  options: Omit<RedisAnnouncerOptions, 'shown'>,
): RedisAnnouncer {
  const { client, shown, secrets } = connection;
  const announcer = new RedisAnnouncer({ ...options, shown });
  client.on('ready', () => announcer.up());
  client.on('error', (err: Error) => announcer.down(redactText(err?.message || String(err), secrets)));
  client.on('reconnecting', () => announcer.down('connection lost'));
  if (client.status === 'ready') announcer.up();
  return announcer;
}
