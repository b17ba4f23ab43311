/**
 * The ER diagram of a schema IR as standalone SVG: one box per table (its
 * columns, key columns marked), foreign keys as lines between boxes. The
 * layout is deliberately simple and deterministic: tables in a grid, in
 * the IR's order, so the same schema always draws the same picture (and a
 * test can compare it); the UI pans and zooms it.
 */
import type { SchemaIR, TableIR } from '../schema/ir.js';

/** A box's width: wide enough for the longest row, between these (px). */
const MIN_WIDTH = 240;
const MAX_WIDTH = 420;
/** The width of one character of the 12 px monospace font, and the box's padding (px). */
const CHAR = 7.3;
const PADDING = 20;
const ROW = 18;
const HEADER = 26;
const GAP_X = 80;
const GAP_Y = 60;
const MAX_COLUMNS_SHOWN = 20;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

interface Box {
  table: TableIR;
  x: number;
  y: number;
  height: number;
  rows: string[];
}

export function erDiagram(ir: SchemaIR): string {
  const tables = ir.tables;
  const perRow = Math.max(1, Math.ceil(Math.sqrt(tables.length)));
  const rowsOf = new Map(
    tables.map((table) => {
      const pk = new Set(table.primaryKey?.columns ?? []);
      const fk = new Set(table.foreignKeys.flatMap((f) => f.columns));
      const shown = table.columns.slice(0, MAX_COLUMNS_SHOWN);
      // Letters, not a key emoji: Chromium with no emoji font (offline, as Studio must work) drew an empty box.
      const rows = shown.map((c) => `${pk.has(c.name) ? 'PK ' : fk.has(c.name) ? 'FK ' : ''}${c.name}: ${c.type}`);
      if (table.columns.length > shown.length) rows.push(`… ${table.columns.length - shown.length} more`);
      return [table, rows] as const;
    }),
  );
  // One width for every box (the grid stays aligned): the longest row's, within MIN_WIDTH..MAX_WIDTH;
  // a row longer than MAX_WIDTH allows is cut with an ellipsis (its whole text is the row's tooltip).
  const longest = Math.max(0, ...tables.map((t) => t.name.length), ...[...rowsOf.values()].flat().map((r) => r.length));
  const width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, Math.ceil(PADDING + longest * CHAR)));
  const fits = Math.floor((width - PADDING) / CHAR);
  const boxes: Box[] = [];
  let y = 20;
  for (let i = 0; i < tables.length; i += perRow) {
    const line = tables.slice(i, i + perRow).map((table, j) => {
      const rows = rowsOf.get(table) as readonly string[];
      return { table, x: 20 + j * (width + GAP_X), y, height: HEADER + rows.length * ROW + 8, rows: [...rows] };
    });
    boxes.push(...line);
    y += Math.max(...line.map((b) => b.height)) + GAP_Y;
  }
  const svgWidth = 40 + Math.min(perRow, Math.max(tables.length, 1)) * (width + GAP_X) - GAP_X;
  const height = Math.max(y - GAP_Y + 20, 60);
  const byName = new Map(boxes.map((b) => [b.table.name, b]));
  const edges: string[] = [];
  for (const box of boxes) {
    for (const fk of box.table.foreignKeys) {
      const target = byName.get(fk.references.table);
      if (!target) continue;
      const from = anchor(box, fk.columns[0], width);
      const to = anchor(target, fk.references.columns[0], width);
      const [x1, x2] = box.x <= target.x ? [from.right, to.left] : [from.left, to.right];
      const mid = (x1 + x2) / 2;
      edges.push(
        `<path class="fk" d="M${x1} ${from.y} C${mid} ${from.y}, ${mid} ${to.y}, ${x2} ${to.y}" fill="none" stroke="#6b7280" stroke-width="1.5" marker-end="url(#arrow)"><title>${esc(
          `${box.table.name}(${fk.columns.join(', ')}) → ${fk.references.table}(${fk.references.columns.join(', ')})`,
        )}</title></path>`,
      );
    }
  }
  const nodes = boxes.map(
    (b) =>
      `<g class="table" data-table="${esc(b.table.name)}" transform="translate(${b.x} ${b.y})">` +
      `<rect width="${width}" height="${b.height}" rx="6" fill="#ffffff" stroke="#374151"/>` +
      `<rect width="${width}" height="${HEADER}" rx="6" fill="#1f2937"/>` +
      `<text x="10" y="18" fill="#ffffff" font-weight="bold">${esc(cut(b.table.name, fits))}</text>` +
      b.rows
        .map(
          (r, i) =>
            `<text x="10" y="${HEADER + 14 + i * ROW}" fill="#111827">${esc(cut(r, fits))}${r.length > fits ? `<title>${esc(r)}</title>` : ''}</text>`,
        )
        .join('') +
      '</g>',
  );
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${svgWidth}" height="${height}" viewBox="0 0 ${svgWidth} ${height}" font-family="ui-monospace, monospace" font-size="12" role="img" aria-label="Entity-relationship diagram of ${tables.length} tables">` +
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#6b7280"/></marker></defs>' +
    edges.join('') +
    nodes.join('') +
    '</svg>'
  );
}

/** Where a line meets a box: at the named column's row, else the header. */
function anchor(box: Box, column: string | undefined, width: number): { left: number; right: number; y: number } {
  const i = box.table.columns.findIndex((c) => c.name === column);
  const y = box.y + (i >= 0 && i < MAX_COLUMNS_SHOWN ? HEADER + 10 + i * ROW : HEADER / 2);
  return { left: box.x, right: box.x + width, y };
}

/** `text` in at most `fits` characters, the last an ellipsis when cut. */
const cut = (text: string, fits: number) => (text.length <= fits ? text : `${text.slice(0, Math.max(1, fits - 1))}…`);
