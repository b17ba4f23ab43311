/**
 * A CSV line as `COPY … TO … (FORMAT csv)` writes it (Postgres's
 * CopyAttributeOutCSV with the defaults: delimiter `,`, quote `"`, NULL as
 * nothing), from values as the server's text. For exports that cannot use
 * COPY itself (a query on PGlite, read through a cursor): the bytes must be
 * the same as COPY's.
 *
 * A value is quoted when it contains the delimiter, a quote, CR or LF; when
 * it is the empty string (else it would read back as NULL); and when it is
 * `\.` alone on its line (a one-column row), which would end the data.
 * Quotes inside are doubled.
 */
const NEEDS_QUOTES = /[",\r\n]/;

function field(value: string | null, single: boolean): string {
  if (value === null) return '';
  if (value === '' || NEEDS_QUOTES.test(value) || (single && value === '\\.')) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

/** One row (or the header, given the column names) with its `\n`. */
export function csvLine(values: readonly (string | null)[]): string {
  const single = values.length === 1;
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i === 0 ? '' : ',') + field(values[i] as string | null, single);
  return `${line}\n`;
}
