import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { knownSecrets } from '../../src/cli/output.js';
import { MIN_BARE_SECRET_LENGTH, redactText, redactUrl, urlSecrets } from '../../src/db/redact.js';
import { parseDatabaseUrl } from '../../src/db/url.js';
import { E_CONNECT, FerryError } from '../../src/errors.js';
import { createLogger } from '../../src/ops/logger.js';

/**
 * Passwords as they appear in the URL (some raw, some percent-encoded), and
 * the host to put them on. Short and common passwords are the point: they
 * also occur in the scheme, user name, host name and ordinary words, and
 * none of those may be touched.
 */
const cases: Array<[label: string, password: string, host: string]> = [
  ['postgres (seed 004 default, also the user and scheme)', 'postgres', '127.0.0.1:1'],
  ['a (occurs in ordinary words)', 'a', '127.0.0.1:1'],
  ['raw :', ':', '127.0.0.1:1'],
  ['raw @', '@', '127.0.0.1:1'],
  ['%40 (an encoded @)', '%40', '127.0.0.1:1'],
  ['1 character occurring in the host name', '1', '127.0.0.1:1'],
  ['l, occurring in localhost', 'l', 'localhost:1'],
  ['URL-encoded specials', 'p%40ss%2Fw%23rd%3A%20x', 'db.internal:5432'],
  ['raw ? and #', 'p?w#d', 'db.internal:5432'],
];

const message = (url: string) =>
  `Cannot connect to PostgreSQL at ${url}: connection refused. Is PostgreSQL running, and listening on that host and port?`;

describe('structural redaction, table-driven over awkward passwords', () => {
  describe.each(cases)('%s', (_label, password, host) => {
    const url = `postgresql://postgres:${password}@${host}/x`;
    const redacted = `postgresql://postgres:****@${host}/x`;
    const secrets = [...urlSecrets(url), ...knownSecrets([url])];

    it('redactUrl replaces the password field only', () => {
      expect(redactUrl(url)).toBe(redacted);
    });

    it('redactText masks the user:password@ span only, whatever secrets it is given', () => {
      expect(redactText(message(url), secrets)).toBe(message(redacted));
      // Text without a URL is left alone even when it holds the password string,
      // unless that is long enough to be unambiguous.
      const plain = `postgres said: host ${host} refused a connection at ${password}`;
      expect(redactText(plain, secrets)).toBe(
        password.length >= MIN_BARE_SECRET_LENGTH ? plain.replace(password, '****') : plain,
      );
    });

    it('FerryError: message, stack, cause and util.inspect', () => {
      const cause = new Error(`driver: could not reach ${url}`);
      const err = new FerryError(E_CONNECT, message(url), { cause });
      expect(err.message).toBe(message(redacted));
      expect(err.stack).toContain(message(redacted));
      expect(err.stack).not.toContain(url);
      const shown = inspect(err, { depth: 5 });
      expect(shown).toContain(message(redacted));
      expect(shown).toContain(`driver: could not reach ${redacted}`);
      expect(shown).not.toContain(url);
    });

    it('pino logs', () => {
      const lines: string[] = [];
      const destination = new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const logger = createLogger({ secrets, destination, level: 'info' });
      logger.info(`Redis back at ${url}`);
      logger.warn({ err: new Error(message(url)) }, 'Redis down');
      logger.flush();
      const [back, down] = lines.map((l) => JSON.parse(l));
      expect(back.msg).toBe(`Redis back at ${redacted}`);
      expect(down.msg).toBe('Redis down');
      expect(down.err.message).toBe(message(redacted));
    });
  });

  it('parseDatabaseUrl shows postgres:postgres as postgresql://postgres:****@…', () => {
    expect(parseDatabaseUrl('postgres://postgres:postgres@127.0.0.1:1/x').redacted).toBe(
      'postgresql://postgres:****@127.0.0.1:1/x',
    );
  });
});

describe('redactText: free text', () => {
  it('masks every URL in the text, and password= keywords', () => {
    expect(
      redactText('a redis://:pw@cache:6379/0 and postgres://u:pw2@db/app (host=db password=pw3 user=u) done'),
    ).toBe('a redis://:****@cache:6379/0 and postgres://u:****@db/app (host=db password=**** user=u) done');
  });

  it('leaves URLs without a password readable', () => {
    const text = 'see https://www.postgresql.org/docs/current/libpq-ssl.html and redis://cache:6379';
    expect(redactText(text)).toBe(text);
  });

  it('masks bare occurrences only of secrets long enough to be unambiguous', () => {
    const long = 'x'.repeat(MIN_BARE_SECRET_LENGTH - 4) + 'Q9!z';
    expect(redactText(`auth failed with ${long} and ${encodeURIComponent(long)}`, [long])).toBe(
      'auth failed with **** and ****',
    );
    const short = 'postgres';
    expect(redactText('postgres: postgres failed', [short])).toBe('postgres: postgres failed');
  });
});
