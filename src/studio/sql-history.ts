/**
 * The SQL runner's history: this server's recent statements, newest first,
 * kept in memory only (a restart forgets them; nothing is written anywhere).
 */
import type { SqlHistoryResponse } from './api.js';

export type HistoryEntry = SqlHistoryResponse['entries'][number];

export class SqlHistory {
  readonly #max: number;
  readonly #entries: HistoryEntry[] = [];

  constructor(max: number) {
    this.#max = max;
  }

  add(entry: HistoryEntry): void {
    this.#entries.unshift(entry);
    if (this.#entries.length > this.#max) this.#entries.length = this.#max;
  }

  list(): HistoryEntry[] {
    return [...this.#entries];
  }
}
