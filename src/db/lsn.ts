/**
 * PostgreSQL WAL positions (`pg_lsn`, text form `16/B374D848`: the high and
 * low 32 bits in hex) as bigints, so tokens compare with `>=` and no round
 * trip to the server.
 */

const LSN = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i;

/** `'16/B374D848'` → 0x16B374D848n; undefined when `text` is not an LSN. */
export function parseLsn(text: string): bigint | undefined {
  const m = LSN.exec(text.trim());
  if (!m) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** 0x16B374D848n → `'16/B374D848'` (PostgreSQL's own spelling). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
