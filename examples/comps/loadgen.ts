/**
 * A bounded load generator for the comps service, for the cutover demo and
 * bench: `concurrency` workers each send one request at a time (so never
 * more than `concurrency` in flight), drawing from a seeded, weighted mix of
 * searches (`/comps`, `/active`), analytics and CSV exports over a small set
 * of cards, until `requests` were sent, `durationMs` passed or `signal`
 * aborted. A request fails on a network error, a timeout or a status ≥ 400;
 * its body is always read to the end (an export that breaks mid-stream
 * fails).
 *
 *   const report = await runLoad({ baseUrl: service.ops.url, concurrency: 8, durationMs: 10_000 });
 *   // { requests: 4211, failed: 0, latency: { p50: 1.9, p99: 14.2, max: 40.1 }, byKind: { comps: {...}, ... } }
 *
 * `onResult` sees every outcome as it lands, so a caller can bucket them
 * itself (the demo: per cutover stage) with `latencySummary`.
 */
import { seededRandom } from './upstream.js';

export const REQUEST_KINDS = ['comps', 'active', 'analytics', 'export'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

export interface PlannedRequest {
  kind: RequestKind;
  path: string;
}

export interface RequestOutcome {
  kind: RequestKind;
  path: string;
  ok: boolean;
  /** HTTP status, or 0 when no response came (network error, timeout). */
  status: number;
  ms: number;
  error?: string;
}

export interface LatencySummary {
  requests: number;
  failed: number;
  /** Milliseconds, nearest-rank percentiles of all requests (failed ones too: a slow failure is slow). */
  p50: number;
  p99: number;
  max: number;
}

export interface LoadReport extends LatencySummary {
  /** Wall time of the run, ms. */
  ms: number;
  byKind: Record<RequestKind, LatencySummary>;
  /** The first few failures, for the log. */
  errors: string[];
}

export interface LoadOptions {
  /** The service, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Requests in flight at most (default 8). */
  concurrency?: number;
  /** Stop after this many requests... */
  requests?: number;
  /** ...or after this long, ms (one of the two, or `signal`, is needed). */
  durationMs?: number;
  signal?: AbortSignal;
  /** Relative weights (default `{ comps: 5, active: 3, analytics: 1.5, export: 0.5 }`); 0 leaves a kind out. */
  mix?: Partial<Record<RequestKind, number>>;
  /** The cards searched (default six). */
  cards?: readonly string[];
  /** Seed of the request sequence (default 1): the same seed sends the same requests. */
  seed?: number;
  /** Per-request timeout, ms (default 10,000). */
  timeoutMs?: number;
  onResult?: (outcome: RequestOutcome) => void;
}

export const DEFAULT_MIX: Readonly<Record<RequestKind, number>> = { comps: 5, active: 3, analytics: 1.5, export: 0.5 };

export const DEFAULT_CARDS = [
  '2020 Topps Chrome Luis Robert',
  '2011 Topps Update Mike Trout',
  '1989 Upper Deck Ken Griffey Jr',
  '2018 Bowman Chrome Shohei Ohtani',
  '2003 Topps Chrome LeBron James',
  '1986 Fleer Michael Jordan',
] as const;

/** The `p`-th percentile (0–1) of ascending `sorted`, nearest-rank; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] as number;
}

/** Count, failures and p50/p99/max of some outcomes. */
export function latencySummary(outcomes: readonly Pick<RequestOutcome, 'ok' | 'ms'>[]): LatencySummary {
  const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  return {
    requests: outcomes.length,
    failed: outcomes.filter((o) => !o.ok).length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : 0,
  };
}

/** The endless, seeded sequence of requests `runLoad` sends. */
export function* requestPlan(
  options: Pick<LoadOptions, 'mix' | 'cards' | 'seed'> = {},
): Generator<PlannedRequest, never, void> {
  const mix = { ...DEFAULT_MIX, ...options.mix };
  const cards = options.cards ?? DEFAULT_CARDS;
  const weights = REQUEST_KINDS.map((k) => Math.max(0, mix[k] ?? 0));
  const total = weights.reduce((s, w) => s + w, 0);
  if (total <= 0 || cards.length === 0)
    throw new TypeError('loadgen: the mix needs a positive weight and at least one card');
  const next = seededRandom(options.seed ?? 1);
  for (;;) {
    let pick = next() * total;
    let kind: RequestKind = 'comps';
    for (let i = 0; i < REQUEST_KINDS.length; i++) {
      pick -= weights[i] as number;
      if (pick < 0) {
        kind = REQUEST_KINDS[i] as RequestKind;
        break;
      }
    }
    const card = encodeURIComponent(cards[Math.floor(next() * cards.length)] as string);
    const raw = next() < 0.3 ? '&raw_only=1' : '';
    if (kind === 'comps') yield { kind, path: `/comps?q=${card}${raw}` };
    else if (kind === 'active') yield { kind, path: `/active?q=${card}${raw}` };
    else if (kind === 'analytics') yield { kind, path: `/analytics?card=${card}&days=30` };
    else yield { kind, path: `/export/prices.csv?card=${card}` };
  }
}

async function send(baseUrl: string, request: PlannedRequest, timeoutMs: number): Promise<RequestOutcome> {
  const started = performance.now();
  try {
    const res = await fetch(`${baseUrl}${request.path}`, { signal: AbortSignal.timeout(timeoutMs) });
    // Read to the end: a response that breaks mid-body is a failure, and the time includes the body.
    await res.arrayBuffer();
    const ms = performance.now() - started;
    return res.status < 400
      ? { ...request, ok: true, status: res.status, ms }
      : { ...request, ok: false, status: res.status, ms, error: `${request.path}: HTTP ${res.status}` };
  } catch (err) {
    const ms = performance.now() - started;
    return { ...request, ok: false, status: 0, ms, error: `${request.path}: ${(err as Error)?.message ?? err}` };
  }
}

/** Run the load; see the module comment. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
  if (options.requests === undefined && options.durationMs === undefined && !options.signal) {
    throw new TypeError('loadgen: give requests, durationMs or signal, or it never stops');
  }
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const plan = requestPlan(options);
  const started = performance.now();
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : started + options.durationMs;
  const outcomes: RequestOutcome[] = [];
  let sent = 0;
  const more = () =>
    (options.requests === undefined || sent < options.requests) &&
    performance.now() < deadline &&
    !options.signal?.aborted;
  const worker = async () => {
    while (more()) {
      sent++;
      const outcome = await send(baseUrl, plan.next().value, timeoutMs);
      outcomes.push(outcome);
      options.onResult?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const byKind = Object.fromEntries(
    REQUEST_KINDS.map((k) => [k, latencySummary(outcomes.filter((o) => o.kind === k))]),
  ) as Record<RequestKind, LatencySummary>;
  return {
    ...latencySummary(outcomes),
    ms: performance.now() - started,
    byKind,
    errors: outcomes.flatMap((o) => (o.error ? [o.error] : [])).slice(0, 10),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // npx tsx examples/comps/loadgen.ts http://127.0.0.1:8080 [seconds] [concurrency]
  const [url = 'http://127.0.0.1:8080', seconds = '10', concurrency = '8'] = process.argv.slice(2);
  const report = await runLoad({ baseUrl: url, durationMs: Number(seconds) * 1000, concurrency: Number(concurrency) });
  console.log(JSON.stringify(report, null, 2));
}
