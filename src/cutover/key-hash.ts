/** Stable key hashes: the same in every instance and every run (the ramp's buckets, verify's chunks). */

/** 0..99 for a key, the same in every instance and every run. */
export function bucketOf(key: string): number {
  return keyHash(key) % 100;
}

/** A key's FNV-1a hash (unsigned 32-bit): stable across instances and runs (ramp buckets, verify's chunks). */
export function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
