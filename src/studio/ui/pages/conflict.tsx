/** A 409 from an update or delete: the user's version beside the one stored now, differences marked. */
import type { Cell, ColumnInfo, Row } from '../../api';
import { CellView } from '../cell';
import { cellText } from '../client';

export function ConflictView(props: {
  columns: ColumnInfo[];
  mine: Record<string, Cell>;
  current: Row | null;
  message: string;
  onUseStored(): void;
  onOverwrite?: () => void;
}) {
  const { columns, mine, current } = props;
  return (
    <section class="conflict" aria-labelledby="conflict-title" data-testid="conflict">
      <h2 id="conflict-title">Conflict: the row changed since you loaded it</h2>
      <p role="alert">{props.message} Nothing was written.</p>
      {current === null ? (
        <p>The row has been deleted since.</p>
      ) : (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Column</th>
              <th scope="col">Your version</th>
              <th scope="col">Stored now</th>
            </tr>
          </thead>
          <tbody>
            {columns.map(({ name: c, kind }) => {
              const a = mine[c] ?? null;
              const b = current.cells[c] ?? null;
              const differs = cellText(a) !== cellText(b);
              return (
                <tr key={c} class={differs ? 'differs' : undefined}>
                  <th scope="row">
                    {c}
                    {differs && <span class="sr-only"> (differs)</span>}
                  </th>
                  <td data-side="mine">
                    <CellView cell={a} kind={kind} />
                  </td>
                  <td data-side="stored">
                    <CellView cell={b} kind={kind} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <div class="toolbar">
        <button type="button" onClick={props.onUseStored}>
          Discard mine, load the stored version
        </button>
        {props.onOverwrite && current !== null && (
          <button type="button" class="danger" onClick={props.onOverwrite}>
            Overwrite with mine
          </button>
        )}
      </div>
    </section>
  );
}
