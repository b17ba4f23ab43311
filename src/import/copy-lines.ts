/**
 * A group's rows as COPY data: each line is UTF-8 encoded into one growing
 * buffer as it is prepared, and only the buffer is kept until the batch is
 * written.
 *
 * Why not an array of strings: a batch lives through several young-generation
 * collections while it is prepared and written, so every line of it was
 * copied twice and promoted to the old generation, then swept there; with
 * two batches prepared ahead that was most of an import's garbage-collector
 * time (13-20% of the main thread on chatcore). A buffer is one object, held
 * outside the V8 heap, and COPY sends slices of it without encoding again.
 */
import { csvLineFields } from './encode.js';

/** COPY data is sent in pieces of about this size (PGlite holds a statement's pieces all at once). */
export const PIECE = 256 * 1024;
/** Room past PIECE in a numbered piece's buffer, so that lines of a few KB rarely end a piece early. */
const SLACK = 64 * 1024;

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const QUOTE = 0x01; // CSV_QUOTE (encode.ts)

/** CopyLines as posted between threads (see toWire). */
export interface CopyLinesWire {
  bytes: ArrayBuffer;
  end: number;
  starts: Int32Array;
}

export class CopyLines {
  #buf: Buffer;
  #end = 0;
  /** Where each line starts; it ends with the '\n' before the next start (or before #end). */
  #starts: number[] = [];

  constructor(capacity = 16 * 1024) {
    this.#buf = Buffer.allocUnsafe(capacity);
  }

  static of(lines: Iterable<string>): CopyLines {
    const out = new CopyLines();
    for (const line of lines) out.push(line);
    return out;
  }

  get length(): number {
    return this.#starts.length;
  }

  /** Bytes held (newlines included). */
  get byteLength(): number {
    return this.#end;
  }

  /** Append a line (without its newline); returns the bytes it took. */
  push(line: string): number {
    // A UTF-16 unit takes at most 3 UTF-8 bytes.
    const most = line.length * 3 + 1;
    if (this.#end + most > this.#buf.length) this.#grow(this.#end + most);
    const start = this.#end;
    this.#starts.push(start);
    this.#end = start + this.#buf.write(line, start, 'utf8');
    this.#buf[this.#end++] = NEWLINE;
    return this.#end - start;
  }

  /**
   * The lines as posted to another thread: the bytes in an ArrayBuffer of
   * their own (transferred, not copied, when the buffer is not a view of a
   * shared pool) and the line starts as an Int32Array.
   */
  toWire(): { wire: CopyLinesWire; transfer: ArrayBuffer[] } {
    const buf = this.#buf;
    const own =
      buf.byteOffset === 0 && buf.buffer.byteLength === buf.length && !(buf.buffer instanceof SharedArrayBuffer);
    const bytes = own ? (buf.buffer as ArrayBuffer) : new Uint8Array(buf.subarray(0, this.#end)).buffer;
    const starts = Int32Array.from(this.#starts);
    return { wire: { bytes, end: this.#end, starts }, transfer: [bytes, starts.buffer as ArrayBuffer] };
  }

  static fromWire(wire: CopyLinesWire): CopyLines {
    const out = new CopyLines(0);
    out.#buf = Buffer.from(wire.bytes, 0, wire.bytes.byteLength);
    out.#end = wire.end;
    out.#starts = Array.from(wire.starts);
    return out;
  }

  /** Line `i` as text, without its newline. */
  line(i: number): string {
    return this.#buf.toString('utf8', this.#starts[i] as number, this.#lineEnd(i));
  }

  /**
   * The fields 0..last of line `i` (null for NULL), decoding only the bytes
   * they take: a foreign-key check reads a key at the front of every row.
   */
  fields(i: number, last: number): (string | null)[] {
    const start = this.#starts[i] as number;
    const end = this.#lineEnd(i);
    const buf = this.#buf;
    let at = start;
    for (let f = 0; f <= last && at < end; f++) {
      if (buf[at] === QUOTE) {
        // Quoted: ends at a quote not doubled.
        at++;
        for (;;) {
          const close = buf.indexOf(QUOTE, at);
          if (close < 0 || close >= end) {
            at = end;
            break;
          }
          if (buf[close + 1] === QUOTE) {
            at = close + 2;
            continue;
          }
          at = close + 1;
          break;
        }
      } else {
        const comma = buf.indexOf(COMMA, at);
        at = comma < 0 || comma > end ? end : comma;
      }
      if (f < last && at < end) at++; // the comma
    }
    return csvLineFields(buf.toString('utf8', start, Math.min(at, end)), last);
  }

  /** The lines `keep` says yes to, in order. */
  filter(keep: (i: number) => boolean): CopyLines {
    const out = new CopyLines(Math.max(1024, this.#end));
    for (let i = 0; i < this.#starts.length; i++) {
      if (!keep(i)) continue;
      const start = this.#starts[i] as number;
      const next = i + 1 < this.#starts.length ? (this.#starts[i + 1] as number) : this.#end;
      out.#starts.push(out.#end);
      out.#end += this.#buf.copy(out.#buf, out.#end, start, next);
    }
    return out;
  }

  /**
   * Lines lo..hi as COPY data, in pieces of about PIECE bytes. Plain, the
   * pieces are views of the buffer (nothing copied); numbered (`first`
   * given), each line gets `,<first + index>` before its newline (the
   * staging table's `_ferry_n`).
   */
  *pieces(lo: number, hi: number, first?: number): Generator<Buffer> {
    if (hi < lo) return;
    const starts = this.#starts;
    const lineStart = (i: number) => (i < starts.length ? (starts[i] as number) : this.#end);
    if (first === undefined) {
      const end = lineStart(hi + 1);
      let from = starts[lo] as number;
      let i = lo;
      while (from < end) {
        // Whole lines up to about PIECE bytes (at least one).
        let to = lineStart(++i);
        while (i <= hi && lineStart(i + 1) - from <= PIECE) to = lineStart(++i);
        yield this.#buf.subarray(from, to);
        from = to;
      }
      return;
    }
    let piece = Buffer.allocUnsafe(0);
    let at = 0;
    for (let i = lo; i <= hi; i++) {
      const start = starts[i] as number;
      const end = lineStart(i + 1) - 1; // without the newline
      const suffix = `,${first + i}\n`;
      const most = end - start + suffix.length;
      if (at + most > piece.length) {
        if (at > 0) yield piece.subarray(0, at);
        piece = Buffer.allocUnsafe(PIECE + Math.max(most, SLACK));
        at = 0;
      }
      at += this.#buf.copy(piece, at, start, end);
      at += piece.write(suffix, at, 'latin1');
      if (at >= PIECE) {
        yield piece.subarray(0, at);
        piece = Buffer.allocUnsafe(0);
        at = 0;
      }
    }
    if (at > 0) yield piece.subarray(0, at);
  }

  #lineEnd(i: number): number {
    return (i + 1 < this.#starts.length ? (this.#starts[i + 1] as number) : this.#end) - 1;
  }

  #grow(need: number): void {
    let size = Math.max(1024, this.#buf.length * 2);
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#end);
    this.#buf = next;
  }
}
