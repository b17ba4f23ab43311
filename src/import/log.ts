/**
 * The importer's messages through Ferry's one `logger` option (layer
 * 'import'), beside the `log`/`onWait` callbacks the CLI and tests use.
 * Done by wrapping the two callbacks once at the top of `runImport`, so the
 * loader keeps calling `log`/`onWait` and needs no logger plumbing of its own.
 */
import { type LayerLogger, type Logger, layerLogger, noopLogger } from '../logger.js';

interface ImportMessageOptions {
  name?: string;
  logger?: Logger | false;
  log?: (message: string) => void;
  onWait?: (message: string) => void;
}

/**
 * `options` with `log` and `onWait` also writing `info` lines (`{ layer:
 * 'import', name }`) to `options.logger`. Unchanged when there is no logger.
 * `onWait` falls back to `log` as before: a caller with only `log` still
 * hears about the wait.
 */
export function withImportLogger<O extends ImportMessageOptions>(options: O, name: string): O {
  const log: LayerLogger = layerLogger(options.logger, 'import');
  if (log === noopLogger) return options;
  const lines = log.child({ name });
  const { log: userLog, onWait: userOnWait } = options;
  return {
    ...options,
    log: (message: string) => {
      lines.info({}, message);
      userLog?.(message);
    },
    onWait: (message: string) => {
      lines.info({ waiting: true }, message);
      (userOnWait ?? userLog)?.(message);
    },
  };
}
