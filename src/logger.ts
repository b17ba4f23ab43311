/**
 * The one logging option of Ferry (connect/the database handle, the import,
 * the cache, the sessions and the rate limits): a
 * pino-compatible object. Structural, so pino, a pino child, or a test's
 * object literal all fit, and Ferry's runtime never needs pino for it.
 * Silent by default (`noopLogger`).
 */

type LogFn = (obj: object, msg?: string) => void;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error?: LogFn;
  /** A logger that adds `bindings` to every line (pino's `child`). Optional: wrapped when missing. */
  child?(bindings: Record<string, unknown>): Logger;
}

/** What Ferry's components log through: every method present. */
export interface LayerLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): LayerLogger;
}

export type Layer = 'db' | 'import' | 'cache' | 'l2' | 'bus' | 'sessions' | 'rate-limit' | 'redis';

const noop: LogFn = () => {};

/** Logs nothing. */
export const noopLogger: LayerLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => noopLogger,
};

/** `logger` (an option; `undefined`/`false`: silent) as a complete logger for one layer. */
export function layerLogger(logger: Logger | false | null | undefined, layer: Layer): LayerLogger {
  if (!logger) return noopLogger;
  return withBindings(logger, { layer });
}

/** `logger.child(bindings)`, or an equivalent wrapper for loggers without `child`/`error`. */
export function withBindings(logger: Logger | LayerLogger, bindings: Record<string, unknown>): LayerLogger {
  if (logger === noopLogger) return noopLogger;
  if (typeof logger.child === 'function') {
    const child = logger.child(bindings);
    if (typeof child.error === 'function' && typeof child.child === 'function') return child as LayerLogger;
    return wrap(child, {});
  }
  return wrap(logger, bindings);
}

function wrap(logger: Logger, bindings: Record<string, unknown>): LayerLogger {
  const bound =
    (fn: LogFn | undefined): LogFn =>
    (obj, msg) =>
      fn?.call(logger, { ...bindings, ...obj }, msg);
  return {
    debug: bound(logger.debug),
    info: bound(logger.info),
    warn: bound(logger.warn),
    error: bound(logger.error ?? logger.warn),
    child: (more) => wrap(logger, { ...bindings, ...more }),
  };
}
