/**
 * `ferry pull` for views: a `view()` declaration per view, its query kept
 * verbatim as Postgres printed it (`pg_get_viewdef`), which keeps the round
 * trip exact. Split from pull.ts, which renders tables.
 */
import type { IndexIR, ViewIR } from '../schema/ir.js';

const str = (s: string) => JSON.stringify(s);

/** A template literal when the text needs no escaping (readable multi-line SQL), else a JSON string. */
function sqlText(text: string): string {
  return /[`\\]|\$\{/.test(text) ? str(text) : `\`${text}\``;
}

export function renderView(
  v: ViewIR,
  varName: string,
  renderIndex: (ix: IndexIR, used: Set<string>) => string,
  used: Set<string>,
): string {
  used.add('view');
  const options = [
    ...(v.materialized ? ['materialized: true'] : []),
    ...(v.materialized && !v.withData ? ['withData: false'] : []),
    ...(v.securityInvoker ? ['securityInvoker: true'] : []),
    ...(v.securityBarrier ? ['securityBarrier: true'] : []),
    ...(v.checkOption !== null ? [`checkOption: ${str(v.checkOption)}`] : []),
    ...(v.comment !== null ? [`comment: ${str(v.comment)}`] : []),
    ...(v.columnComments
      ? [
          `columnComments: { ${Object.entries(v.columnComments)
            .map(([c, t]) => `${str(c)}: ${str(t)}`)
            .join(', ')} }`,
        ]
      : []),
    // `t` as in a table's extras, so the index rendering is shared.
    ...(v.indexes.length > 0
      ? [`indexes: (t) => [\n    ${v.indexes.map((ix) => renderIndex(ix, used)).join(',\n    ')},\n  ]`]
      : []),
  ];
  const opts = options.length > 0 ? `,\n  { ${options.join(', ')} }` : '';
  return `export const ${varName} = view(\n  ${str(v.name)},\n  ${sqlText(v.definition)}${opts},\n);`;
}
