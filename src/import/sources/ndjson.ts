/**
 * `ndjson(file)`: one JSON value per line; blank lines skipped, a bad line is an error record.
 *
 * A bad line followed by a newline is one bad record in a sound file. A bad
 * last line with no newline after it is the mark of a file cut short (the
 * writer died mid-line, a copy stopped): what it held and everything after it
 * is lost, so the source fails with E_SOURCE_MALFORMED instead.
 */
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { Source, SourceOptions, SourceRecord } from '../source.js';
import { assertFile, malformed, readError, readText, resolveFile, stripBom } from './common.js';
import { findJsonFault, parseJson, position } from './json-error.js';

export function ndjson(file: string, options: SourceOptions = {}): Source {
  const f = resolveFile(file, options, 'ndjson');
  const label = `ndjson(${file})`;
  const cutShort = (text: string, line: number) => {
    const fault = findJsonFault(text) ?? { offset: text.length, message: 'not valid JSON' };
    const at = position(text, fault.offset, { line, column: 1 });
    return malformed(
      label,
      f.shown,
      at,
      `invalid JSON: ${fault.message}; the last line has no newline after it, so the file was cut short`,
    );
  };
  return {
    label,
    async *records(opts): AsyncGenerator<SourceRecord> {
      await assertFile(f, label);
      // readline over the BOM-stripped text; handles \r\n and holds one line at a time.
      const input = Readable.from(readText(f.abs));
      const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
      let line = 0;
      // A bad line is yielded once another line follows it: the last one may be a cut (see above).
      let pending: { record: SourceRecord; text: string; line: number } | undefined;
      try {
        for await (const text of lines) {
          line++;
          opts?.signal?.throwIfAborted();
          if (pending) {
            yield pending.record;
            pending = undefined;
          }
          if (text.trim() === '') continue;
          const loc = { source: label, file: f.shown, line };
          const parsed = parseJson(text, { line, column: 1 });
          if (parsed.ok) yield { kind: 'record', value: parsed.value, loc };
          else pending = { record: { kind: 'error', reason: parsed.reason, loc }, text, line };
        }
      } finally {
        lines.close();
        input.destroy();
      }
      if (pending) {
        if ((await tail(f.abs, label)).text !== '') throw cutShort(pending.text, pending.line);
        yield pending.record;
      }
    },
    async check() {
      await assertFile(f, label);
      const last = await tail(f.abs, label);
      if (last.text.trim() === '' || parseJson(last.text).ok) return;
      // Only on a fault: count the lines before it, for the message.
      let line = 1;
      for await (const chunk of readText(f.abs, 1 << 20)) {
        for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) line++;
      }
      throw cutShort(last.text, line);
    },
    async files() {
      return [f.abs];
    },
    async estimate() {
      return { bytes: await assertFile(f, label) };
    },
  };
}

/**
 * What follows the file's last newline ('' when it ends with one), read
 * backwards from the end: the cost is the last line, not the file.
 */
async function tail(abs: string, label: string): Promise<{ text: string }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(abs, 'r');
  } catch (err) {
    throw readError(label, abs, err);
  }
  try {
    const { size } = await handle.stat();
    const parts: Buffer[] = [];
    const BLOCK = 1 << 16;
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - BLOCK);
      const buf = Buffer.alloc(end - start);
      await handle.read(buf, 0, buf.length, start);
      const nl = buf.lastIndexOf(0x0a);
      if (nl >= 0) {
        parts.unshift(buf.subarray(nl + 1));
        break;
      }
      parts.unshift(buf);
      end = start;
    }
    return { text: stripBom(Buffer.concat(parts).toString('utf8')) };
  } finally {
    await handle.close();
  }
}
