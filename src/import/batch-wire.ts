/**
 * A prepared Batch as posted from the import's worker thread to the main
 * thread, and back into a Batch there. The COPY bytes and the row origins'
 * numbers are transferred (moved, not copied); targets travel by name, since
 * the writer keys its per-table state on its own Target objects.
 */
import { CopyLines, type CopyLinesWire } from './copy-lines.js';
import type { Batch, Group } from './prepare.js';
import { RowOrigins, type RowOriginsWire } from './row-origins.js';
import type { RejectRow } from './state.js';
import type { Target } from './targets.js';

export interface BatchWire {
  position: number;
  records: number;
  bytes: number;
  sourceBytes: number;
  rejects: RejectRow[];
  duplicates: [string, number][];
  /** Per target, in the batch's order: its groups by column signature. */
  groups: {
    table: string;
    groups: { signature: string; columns: string[]; lines: CopyLinesWire; meta: RowOriginsWire }[];
  }[];
}

/** The batch as a message, and the buffers to transfer with it. The batch is unusable afterwards. */
export function batchToWire(batch: Batch): { wire: BatchWire; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const groups: BatchWire['groups'] = [];
  for (const [target, byColumns] of batch.groups) {
    const out: BatchWire['groups'][number]['groups'] = [];
    for (const [signature, group] of byColumns) {
      const lines = group.lines.toWire();
      const meta = group.meta.toWire();
      transfer.push(...lines.transfer, ...meta.transfer);
      out.push({ signature, columns: group.columns, lines: lines.wire, meta: meta.wire });
    }
    groups.push({ table: target.name, groups: out });
  }
  const wire: BatchWire = {
    position: batch.position,
    records: batch.records,
    bytes: batch.bytes,
    sourceBytes: batch.sourceBytes,
    rejects: batch.rejects,
    duplicates: [...batch.duplicates],
    groups,
  };
  return { wire, transfer };
}

/** The batch again, with this thread's Target objects (looked up by table name). */
export function batchFromWire(wire: BatchWire, byName: ReadonlyMap<string, Target>): Batch {
  const groups: Batch['groups'] = new Map();
  for (const { table, groups: list } of wire.groups) {
    const target = byName.get(table);
    if (!target) throw new Error(`the import's worker prepared rows for table "${table}", which is not a target here`);
    const byColumns = new Map<string, Group>();
    for (const g of list) {
      byColumns.set(g.signature, {
        columns: g.columns,
        lines: CopyLines.fromWire(g.lines),
        meta: RowOrigins.fromWire(g.meta),
      });
    }
    groups.set(target, byColumns);
  }
  return {
    position: wire.position,
    records: wire.records,
    bytes: wire.bytes,
    sourceBytes: wire.sourceBytes,
    rejects: wire.rejects,
    duplicates: new Map(wire.duplicates),
    groups,
  };
}
