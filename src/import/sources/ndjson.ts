/** `ndjson(file)`: one JSON value per line; blank lines skipped, a bad line is an error record. */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { Source, SourceOptions } from '../source.js';
import { assertFile, readText, resolveFile } from './common.js';
import { parseJson } from './json-error.js';

export function ndjson(file: string, options: SourceOptions = {}): Source {
  const f = resolveFile(file, options, 'ndjson');
  const label = `ndjson(${file})`;
  return {
    label,
    async *records(opts) {
      await assertFile(f, label);
      // readline over the BOM-stripped text; handles \r\n and holds one line at a time.
      const input = Readable.from(readText(f.abs));
      const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
      let line = 0;
      try {
        for await (const text of lines) {
          line++;
          opts?.signal?.throwIfAborted();
          if (text.trim() === '') continue;
          const loc = { source: label, file: f.shown, line };
          const parsed = parseJson(text, { line, column: 1 });
          if (parsed.ok) yield { kind: 'record', value: parsed.value, loc };
          else yield { kind: 'error', reason: parsed.reason, loc };
        }
      } finally {
        lines.close();
        input.destroy();
      }
    },
    async files() {
      return [f.abs];
    },
    async estimate() {
      return { bytes: await assertFile(f, label) };
    },
  };
}
