import { timestamp, timestamptz } from './column.js';

/**
 * `created_at` and `updated_at`, both defaulting to `now()`; `updated_at` is
 * also set to `now()` by every UPDATE made through Ferry. Spread it into a
 * table: `table('users', { id: serial().primaryKey(), ...timestamps() })`.
 * `withTimezone: false` matches schemas (like SQLAlchemy's defaults) that use
 * `timestamp without time zone`.
 */
export function timestamps(options: { withTimezone?: boolean } = {}) {
  const make = options.withTimezone === false ? timestamp : timestamptz;
  return {
    created_at: make().notNull().defaultNow(),
    updated_at: make().notNull().defaultNow().$onUpdateNow(),
  };
}
