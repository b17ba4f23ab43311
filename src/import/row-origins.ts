/**
 * Where each staged row of a group came from: its record's ordinal, the row's
 * index among that record's rows, and the record's location. Read only when
 * the database refuses a row (the reject names its record) and by verify.
 *
 * Held as columns, not an object per row, so that a batch prepared in the
 * import's worker thread crosses to the main thread cheaply: the numbers go as
 * typed arrays and the locations as one JSON text, parsed only if a row of the
 * batch is rejected. (structuredClone of 5,000 `{ ordinal, rowIndex, loc }`
 * objects took ~7.7 µs a row on this machine; the columns take ~0.1.)
 */

/** One row's origin. */
export interface RowOrigin {
  ordinal: number;
  rowIndex: number;
  loc: Record<string, unknown>;
}

/** RowOrigins as posted between threads (see toWire). */
export interface RowOriginsWire {
  ordinals: Float64Array;
  rowIndexes: Int32Array;
  locIds: Int32Array;
  /** JSON array of the distinct locations, in order of first use. */
  locs: string;
}

type Locations = { list: Record<string, unknown>[] | null; json: string | null };

export class RowOrigins {
  #ordinals: number[] = [];
  #rowIndexes: number[] = [];
  /** Index into #locs per row: a record's rows share its location object. */
  #locIds: number[] = [];
  /** The distinct locations; a batch from the worker holds their JSON until one is read. Shared by filter()'s copies. */
  #locs: Locations = { list: [], json: null };

  get length(): number {
    return this.#ordinals.length;
  }

  push(ordinal: number, rowIndex: number, loc: Record<string, unknown>): void {
    const locs = this.#locsList();
    // Rows of one record come one after another and share its location object.
    if (locs.length === 0 || locs[locs.length - 1] !== loc) locs.push(loc);
    this.#ordinals.push(ordinal);
    this.#rowIndexes.push(rowIndex);
    this.#locIds.push(locs.length - 1);
  }

  ordinal(i: number): number {
    return this.#ordinals[i] as number;
  }

  rowIndex(i: number): number {
    return this.#rowIndexes[i] as number;
  }

  at(i: number): RowOrigin {
    const loc = this.#locsList()[this.#locIds[i] as number] as Record<string, unknown>;
    return { ordinal: this.#ordinals[i] as number, rowIndex: this.#rowIndexes[i] as number, loc };
  }

  /** The rows `keep` says yes to (by index), in order. */
  filter(keep: (i: number) => boolean): RowOrigins {
    // The same locations (not parsed here: dropping orphans must not cost a JSON.parse of every location).
    const out = new RowOrigins();
    out.#locs = this.#locs;
    for (let i = 0; i < this.#ordinals.length; i++) {
      if (!keep(i)) continue;
      out.#ordinals.push(this.#ordinals[i] as number);
      out.#rowIndexes.push(this.#rowIndexes[i] as number);
      out.#locIds.push(this.#locIds[i] as number);
    }
    return out;
  }

  /** The columns as transferable arrays and one JSON text (the arrays' buffers are the transfer list). */
  toWire(): { wire: RowOriginsWire; transfer: ArrayBuffer[] } {
    const wire: RowOriginsWire = {
      ordinals: Float64Array.from(this.#ordinals),
      rowIndexes: Int32Array.from(this.#rowIndexes),
      locIds: Int32Array.from(this.#locIds),
      locs: this.#locs.json ?? JSON.stringify(this.#locs.list),
    };
    return { wire, transfer: [wire.ordinals.buffer, wire.rowIndexes.buffer, wire.locIds.buffer] as ArrayBuffer[] };
  }

  static fromWire(wire: RowOriginsWire): RowOrigins {
    const out = new RowOrigins();
    out.#ordinals = Array.from(wire.ordinals);
    out.#rowIndexes = Array.from(wire.rowIndexes);
    out.#locIds = Array.from(wire.locIds);
    out.#locs = { list: null, json: wire.locs };
    return out;
  }

  #locsList(): Record<string, unknown>[] {
    const locs = this.#locs;
    if (locs.list === null) {
      locs.list = JSON.parse(locs.json as string) as Record<string, unknown>[];
      locs.json = null;
    }
    return locs.list;
  }
}
