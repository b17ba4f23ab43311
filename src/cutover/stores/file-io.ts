/**
 * File plumbing shared by the JSON file and JSON folder stores: atomic
 * replacement of a file (temp file in the same folder, fsync, rename, as lowdb
 * and write-file-atomic do), the read-only check, and E_CUTOVER_STORE errors
 * that name the store, the key and the file and say what to do.
 *
 * Why a temp file in the *same* folder: rename(2) is atomic only within one
 * file system, and a reader (or a process killed mid-write) then sees the old
 * file or the new one, never a truncated one. Why fsync before the rename:
 * without it a power cut can leave the renamed file empty on some file
 * systems (ext4 with delalloc), which is the truncation rename was meant to
 * prevent.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../../errors.js';
import { E_CUTOVER_STORE } from '../errors.js';
import type { StoreFailure } from '../store.js';

/** Replace `file` with `text`, atomically and durably. The folder must exist. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(tmp, 'wx', 0o644);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, file);
  } catch (err) {
    await handle?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  // The rename itself is durable once the folder's entry is: best effort (not every platform can fsync a folder).
  const d = await open(dir, 'r').catch(() => undefined);
  if (d)
    await d
      .sync()
      .catch(() => {})
      .finally(() => d.close().catch(() => {}));
}

/**
 * Refuse to write into a file or folder that is marked read-only (no write
 * permission bit for anyone), even when the process could (root can write
 * anything): an operator who made it read-only meant the store to stop, and
 * the temp-file-and-rename write would otherwise replace a read-only file
 * without complaint (rename needs only the folder to be writable).
 * Throws the fs-style error (`code` EACCES) that `storeFailure` explains.
 */
export async function assertWritable(file: string): Promise<void> {
  for (const target of [file, path.dirname(file)]) {
    const info = await stat(target).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (info && (info.mode & 0o222) === 0) {
      const err = new Error(`${target} is read-only`) as NodeJS.ErrnoException;
      err.code = 'EACCES';
      err.path = target;
      throw err;
    }
  }
}

const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);

/** An fs failure of a store as E_CUTOVER_STORE: names the store, the key, the file, and what to do. */
export function storeFailure(failure: StoreFailure & { file: string }, err: unknown): FerryError {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  const what = failure.key === undefined ? failure.operation : `${failure.operation} of key "${failure.key}"`;
  const where = e?.path && e.path !== failure.file ? `${failure.file} (${e.path})` : failure.file;
  let advice: string;
  if (code && READ_ONLY.has(code)) {
    advice = `the file or its folder is read-only (${code}): make both writable (chmod u+w) or point the store elsewhere`;
  } else if (code === 'ENOSPC' || code === 'EDQUOT') {
    advice = `the disk is full (${code}): free space and retry`;
  } else if (code === 'ENOENT') {
    advice = `the folder does not exist (${code}): create it`;
  } else {
    advice = `${e?.message ?? String(err)}: check the path and its permissions`;
  }
  return new FerryError(E_CUTOVER_STORE, `${failure.store}: ${what} failed on ${where}: ${advice}.`, {
    cause: err,
    details: { ...failure, ...(code ? { errno: code } : {}) },
  });
}
