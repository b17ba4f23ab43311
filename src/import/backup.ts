/**
 * `--backup <dir>`: archive the source before anything is written. Files are
 * copied (never moved) under their path relative to their common folder and
 * listed in `manifest.json` with size and SHA-256, each checked by hashing the
 * copy. Sources without files (Redis, memory) are exported as NDJSON.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../errors.js';
import { E_IMPORT_BACKUP } from './errors.js';
import type { NamedSource } from './records.js';
import { E_SOURCE_NOT_FOUND } from './sources/errors.js';

export interface BackupEntry {
  source: string;
  /** Path inside the backup folder. */
  path: string;
  /** Original absolute path, or null for an export of a file-less source. */
  original: string | null;
  size: number;
  sha256: string;
}

export interface BackupManifest {
  createdAt: string;
  files: BackupEntry[];
}

export async function backupSources(sources: NamedSource[], dir: string): Promise<BackupManifest> {
  const target = path.resolve(dir);
  await mkdir(target, { recursive: true });
  if ((await readdir(target)).length > 0) {
    throw new FerryError(
      E_IMPORT_BACKUP,
      `The backup folder ${target} is not empty; give a new folder so no earlier backup is overwritten.`,
    );
  }
  const files: BackupEntry[] = [];
  for (const { name, source } of sources) {
    const paths = await source.files();
    if (paths.length === 0) {
      const rel = `${safeName(name)}.ndjson`;
      const out = path.join(target, rel);
      const stream = createWriteStream(out);
      for await (const record of source.records()) {
        const line = `${JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
        if (!stream.write(line)) await once(stream, 'drain');
      }
      stream.end();
      await once(stream, 'finish');
      files.push({ source: name, path: rel, original: null, size: (await stat(out)).size, sha256: await sha256(out) });
      continue;
    }
    const root = commonDir(paths);
    for (const original of paths) {
      const rel = path.join(safeName(name), path.relative(root, original));
      const copy = path.join(target, rel);
      await mkdir(path.dirname(copy), { recursive: true });
      const before = await sha256(original).catch((err: NodeJS.ErrnoException) => {
        if (err?.code !== 'ENOENT') throw err;
        throw new FerryError(
          E_SOURCE_NOT_FOUND,
          `${source.label}: file ${original} does not exist, so it cannot be backed up. Check the path (relative paths resolve against the source's \`cwd\` option, else the import file's directory).`,
          { cause: err, details: { file: original } },
        );
      });
      await copyFile(original, copy);
      const after = await sha256(copy);
      if (before !== after) {
        throw new FerryError(
          E_IMPORT_BACKUP,
          `The copy of ${original} in ${target} does not match the original (SHA-256).`,
        );
      }
      files.push({ source: name, path: rel, original, size: (await stat(copy)).size, sha256: after });
    }
  }
  const manifest: BackupManifest = { createdAt: new Date().toISOString(), files };
  await writeFile(path.join(target, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function commonDir(paths: string[]): string {
  let common = path.dirname(paths[0] as string);
  for (const p of paths) {
    while (!`${path.dirname(p)}${path.sep}`.startsWith(`${common}${path.sep}`) && common !== path.dirname(common)) {
      common = path.dirname(common);
    }
  }
  return common;
}

function safeName(name: string): string {
  return name.replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '') || 'source';
}
