/** Which filter operators a column offers and how a typed value becomes a Cell. */
import type { Cell, ColumnInfo, Filter, FilterOp } from '../api';

export const OP_LABELS: Record<FilterOp, string> = {
  eq: '=',
  ne: '≠',
  lt: '<',
  lte: '≤',
  gt: '>',
  gte: '≥',
  contains: 'contains',
  isNull: 'is null',
  notNull: 'is not null',
  in: 'in',
};

export function opsFor(column: ColumnInfo): FilterOp[] {
  const nulls: FilterOp[] = column.nullable ? ['isNull', 'notNull'] : [];
  switch (column.kind) {
    case 'number':
    case 'bigint':
    case 'timestamp':
    case 'date':
      return ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', ...nulls];
    case 'text':
      return ['contains', 'eq', 'ne', 'lt', 'gt', 'in', ...nulls];
    case 'boolean':
      return ['eq', 'ne', ...nulls];
    case 'uuid':
    case 'enum':
      return ['eq', 'ne', 'in', ...nulls];
    case 'json':
    case 'array':
    case 'other':
      return ['contains', ...nulls];
    default:
      return ['eq', ...nulls];
  }
}

/** The typed text as the Cell the API expects for `column`, or an Error saying what is wrong. */
export function parseScalar(column: ColumnInfo, text: string): Cell | Error {
  const value = text.trim();
  if (column.kind === 'number') {
    const n = Number(value);
    return value === '' || Number.isNaN(n) ? new Error(`${column.name} needs a number`) : n;
  }
  if (column.kind === 'boolean') {
    if (value === 'true' || value === 'false') return value === 'true';
    return new Error(`${column.name} needs true or false`);
  }
  if (column.kind === 'bigint' && !/^-?\d+$/.test(value)) return new Error(`${column.name} needs an integer`);
  return text;
}

export function filterValue(column: ColumnInfo, op: FilterOp, text: string): Cell | undefined | Error {
  if (op === 'isNull' || op === 'notNull') return undefined;
  if (op === 'contains') return text;
  if (op === 'in') {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (items.length === 0) return new Error('in needs one or more comma-separated values');
    const out: Cell[] = [];
    for (const item of items) {
      const parsed = parseScalar(column, item);
      if (parsed instanceof Error) return parsed;
      out.push(parsed);
    }
    return out;
  }
  return parseScalar(column, text);
}

export function describeFilter(filter: Filter): string {
  const op = OP_LABELS[filter.op];
  if (filter.value === undefined) return `${filter.column} ${op}`;
  const value = Array.isArray(filter.value) ? filter.value.map((v) => String(v)).join(', ') : String(filter.value);
  return `${filter.column} ${op} ${value}`;
}

export function parseFilters(text: string | null): Filter[] {
  if (!text) return [];
  try {
    const parsed = JSON.parse(text);
    return Array.isArray(parsed) ? (parsed as Filter[]) : [];
  } catch {
    return [];
  }
}
