import { type ColumnBuilder, enumColumn } from './column.js';
import { assertIdentifier, quoteIdent } from './identifiers.js';
import type { EnumIR } from './ir.js';

export interface PgEnum<V extends string = string> {
  /** A column of this enum type. */
  (): ReturnType<typeof enumColumn<V>>;
  readonly enumName: string;
  readonly values: readonly V[];
  /** Migration hints: `{ newValue: 'oldValue' }` for renamed values. */
  readonly renamedValues: Readonly<Record<string, string>>;
  readonly kind: 'enum';
  toIR(): EnumIR;
}

/**
 * A Postgres enum type: `export const tier = pgEnum('subscription_tier', ['free', 'pro'])`,
 * then `tier().notNull().default('free')` as a column.
 */
export function pgEnum<const V extends string>(
  name: string,
  values: readonly [V, ...V[]],
  options: { renamedValues?: Partial<Record<V, string>> /** `COMMENT ON TYPE`. */; comment?: string } = {},
): PgEnum<V> {
  assertIdentifier(name, 'Enum');
  if (new Set(values).size !== values.length) {
    throw new TypeError(`Enum ${name} lists a value twice: ${values.join(', ')}`);
  }
  const frozen = Object.freeze([...values]);
  const renamedValues = Object.freeze({ ...(options.renamedValues as Record<string, string> | undefined) });
  const column = (): ColumnBuilder<any> => enumColumn<V>(quoteIdent(name), name, frozen, renamedValues);
  return Object.assign(column, {
    enumName: name,
    values: frozen,
    renamedValues,
    kind: 'enum' as const,
    toIR: (): EnumIR => ({
      name,
      values: [...frozen],
      ...(options.comment !== undefined ? { comment: options.comment } : {}),
    }),
  }) as PgEnum<V>;
}

export function isPgEnum(value: unknown): value is PgEnum {
  return typeof value === 'function' && (value as Partial<PgEnum>).kind === 'enum';
}
