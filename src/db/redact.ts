/**
 * Redaction of connection secrets, done structurally.
 *
 * Only the places where a password sits by syntax are masked: the password
 * field of a URL's userinfo (`scheme://user:****@host`), `password=` /
 * `sslpassword=` query parameters, and libpq `password=...` keywords. The
 * password string is never searched for as such: a short or common password
 * (`postgres`, `a`) also occurs in scheme names, user names, host names and
 * ordinary words, and masking those made messages unreadable
 * (`****ql://****:****@…`, `C****nnot connect`) while the masked spots spelled
 * the password out. See `redactText` for the one exception.
 *
 * No imports: errors.ts uses this to make FerryError safe under util.inspect.
 */

const MASK = '****';

/**
 * Replace the password in a URL (or libpq `key=value` string) with `****`.
 * Works on malformed input too: that is exactly when URLs get echoed in errors.
 */
export function redactUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return redactKeywords(url);
  const head = url.slice(0, schemeEnd + 3);
  let rest = url.slice(schemeEnd + 3);
  // The userinfo ends at an '@'. Passwords with unencoded '@', '/', '?' or '#'
  // defeat URL parsing (or worse, parse as something else), so take the last
  // '@' unless what precedes it looks like a query string (`?key=`), as with
  // `?application_name=a@b`. Over-redacting an odd URL beats leaking half a password.
  let at = rest.lastIndexOf('@');
  while (at >= 0 && /\?[^=]*=/.test(rest.slice(0, at))) at = rest.lastIndexOf('@', at - 1);
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) rest = userinfo.slice(0, colon + 1) + MASK + rest.slice(at);
  }
  rest = rest.replace(/([?&](?:password|sslpassword)=)[^&#\s]*/gi, `$1${MASK}`);
  return head + rest;
}

/** libpq keyword/value form: `host=db password=secret` or `password='sec ret'`. */
const KEYWORD = /(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi;

function redactKeywords(text: string): string {
  return text.replace(KEYWORD, `$1${MASK}`);
}

/**
 * A URL-shaped span in free text: scheme, `://`, then everything up to
 * whitespace. Spans end at whitespace only, not at quotes or brackets,
 * because a raw password may hold those: `redactUrl` then picks the
 * userinfo's '@' within the span (over-masking a URL glued to other text
 * rather than leaking the tail of a password). An unencoded space in a
 * password does split the span; such a URL does not parse anywhere, and
 * Ferry's own messages only ever echo URLs already passed through `redactUrl`.
 */
const URL_SPAN = /\b[a-z][a-z0-9+.-]*:\/\/\S*/gi;

/**
 * Secrets this long are also masked where they appear on their own. A
 * driver has no reason to echo a password outside a URL, and none we use
 * does, so this is belt and braces, and limited to strings that are not
 * found in text by chance: a 16-character password occurring in a message
 * *is* the password, so masking it reveals nothing and hides no words.
 */
export const MIN_BARE_SECRET_LENGTH = 16;

/**
 * Scrub connection secrets from arbitrary text (driver messages, stacks,
 * logs): the password field of every URL in it, `password=` keywords, and
 * bare occurrences of the given `secrets` that are at least
 * `MIN_BARE_SECRET_LENGTH` long (raw or percent-encoded). Shorter secrets
 * are never searched for: see the file comment.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(URL_SPAN)) {
    out += redactKeywords(text.slice(last, match.index)) + redactUrl(match[0]);
    last = match.index + match[0].length;
  }
  out += redactKeywords(text.slice(last));
  const bare = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_BARE_SECRET_LENGTH) continue;
    bare.add(secret);
    bare.add(encodeURIComponent(secret));
  }
  // Longest first so an encoded form is not half-replaced by its raw prefix.
  for (const s of [...bare].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
  return out;
}

/** The password of a URL as written and decoded (empty list if none), for `redactText`. */
export function urlSecrets(connectionString: string): string[] {
  let raw: string;
  try {
    raw = new URL(connectionString).password;
  } catch {
    return [];
  }
  if (!raw) return [];
  try {
    return [raw, decodeURIComponent(raw)];
  } catch {
    return [raw];
  }
}
