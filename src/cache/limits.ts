/**
 * Size limits of the cache: keys up to 1 KB, values up to `maxValueBytes`
 * (checked on the encoded JSON, so what is refused is what Redis would have
 * stored), and the key prefix warnings about keys are grouped by.
 */
import { cacheError, E_CACHE_KEY } from './errors.js';

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Throws E_CACHE_KEY when `key` is longer than MAX_KEY_BYTES. */
export function checkKeySize(key: string): void {
  // A UTF-16 unit is at most 3 UTF-8 bytes: only long keys are measured.
  if (key.length <= MAX_KEY_BYTES / 3) return;
  const bytes = Buffer.byteLength(key);
  if (bytes > MAX_KEY_BYTES) {
    throw cacheError(
      E_CACHE_KEY,
      `Cache keys must be at most ${MAX_KEY_BYTES} bytes (UTF-8), received ${bytes} bytes ("${key.slice(0, 40)}…"); hash long keys.`,
    );
  }
}

/** 0 when `text` fits in `max` UTF-8 bytes, else its size in bytes. */
export function bytesOver(text: string, max: number): number {
  if (text.length * 3 <= max) return 0;
  const bytes = Buffer.byteLength(text);
  return bytes > max ? bytes : 0;
}

/** What warnings about keys are grouped by: the key up to its first ':' (at most 64 characters). */
export function keyPrefix(key: string): string {
  const i = key.indexOf(':');
  return (i < 0 ? key : key.slice(0, i)).slice(0, 64);
}
