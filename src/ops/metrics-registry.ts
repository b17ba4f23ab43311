/**
 * prom-client behind one small factory: loaded lazily (an optional peer, see
 * optional-dependency.ts), every name prefixed, every metric registered in
 * the one registry, and a name clash turned into an E_CONFIG that says how to
 * avoid it. The other metrics files only see `Prom`.
 */
import type {
  Counter,
  CounterConfiguration,
  Gauge,
  GaugeConfiguration,
  Histogram,
  HistogramConfiguration,
  Registry,
} from 'prom-client';
import { E_CONFIG, FerryError } from '../errors.js';
import { requireOptional } from '../optional-dependency.js';
import { FastHistogram, type FastHistogramConfig } from './metrics-histogram.js';

type PromClient = typeof import('prom-client');

/** Prometheus metric names: letters, digits, `_` and `:`, not starting with a digit. */
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export interface Prom {
  readonly registry: Registry;
  readonly prefix: string;
  counter<L extends string = string>(config: CounterConfiguration<L>): Counter<L>;
  gauge<L extends string = string>(config: GaugeConfiguration<L>): Gauge<L>;
  histogram<L extends string = string>(config: HistogramConfiguration<L>): Histogram<L>;
  /** A histogram for hot paths (see metrics-histogram.ts): resolve a series once, observe cheaply. */
  fastHistogram(config: Omit<FastHistogramConfig, 'name'> & { name: string }): FastHistogram;
  /** Take every metric this factory registered out of the registry again. */
  unregisterAll(): void;
}

export function loadPromClient(): PromClient {
  return requireOptional<PromClient>('prom-client');
}

export function createProm(options: { registry?: Registry; prefix: string }): Prom {
  const client = loadPromClient();
  const { prefix } = options;
  if (prefix !== '' && !NAME.test(prefix)) {
    throw new FerryError(
      E_CONFIG,
      `createMetrics: prefix ${JSON.stringify(prefix)} is not a valid start of a Prometheus metric name: use letters, digits, _ and :, not starting with a digit (e.g. 'ferry_' or 'myapp_db_').`,
      { details: { option: 'prefix' } },
    );
  }
  const registry = options.registry ?? new client.Registry();
  const names: string[] = [];
  const make = <M>(config: { name: string }, build: (config: { name: string; registers: Registry[] }) => M): M => {
    const name = prefix + config.name;
    if (registry.getSingleMetric(name) !== undefined) {
      throw new FerryError(
        E_CONFIG,
        `createMetrics: the registry already has a metric named ${name} (another createMetrics on the same registry?). Pass a different prefix, or close() the other one first.`,
        { details: { option: 'registry', metric: name } },
      );
    }
    const metric = build({ ...config, name, registers: [registry] });
    names.push(name);
    return metric;
  };
  return {
    registry,
    prefix,
    counter: (config) => make(config, (c) => new client.Counter({ ...config, ...c })),
    gauge: (config) => make(config, (c) => new client.Gauge({ ...config, ...c })),
    histogram: (config) => make(config, (c) => new client.Histogram({ ...config, ...c })),
    fastHistogram: (config) =>
      make(config, (c) => {
        const metric = new FastHistogram({ ...config, name: c.name });
        // The registry formats any object with name, help, type, get() and reset().
        for (const r of c.registers) r.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
        return metric;
      }),
    unregisterAll() {
      for (const name of names.splice(0)) registry.removeSingleMetric(name);
    },
  };
}
