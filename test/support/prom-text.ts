/**
 * A small strict parser of the Prometheus text exposition format (0.0.4),
 * for tests that scrape `/metrics`. prom-client 15 only writes the format (it
 * ships no parser), so this checks what a Prometheus server would refuse:
 * malformed lines, samples without a TYPE, names and labels outside the
 * grammar, duplicate series, bad escapes, histograms whose buckets are not
 * cumulative or disagree with their count. Any violation throws.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePromText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  const seen = new Set<string>();
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${JSON.stringify(line.slice(0, 120))})`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line);
      if (!m) {
        if (line.startsWith('# HELP') || line.startsWith('# TYPE')) throw new Error(`malformed ${where}`);
        return; // a plain comment
      }
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name at ${where}`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`second HELP for ${name} at ${where}`);
        helps.set(name, unescapeText(rest, false, where));
        const family = families.get(name);
        if (family) family.help = helps.get(name)!;
        return;
      }
      if (!TYPES.has(rest as MetricType)) throw new Error(`unknown type at ${where}`);
      if (families.has(name)) throw new Error(`second TYPE for ${name} at ${where}`);
      families.set(name, { name, type: rest as MetricType, help: helps.get(name) ?? '', samples: [] });
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(families, sample.name);
    if (!family) throw new Error(`sample ${sample.name} has no TYPE line before it, at ${where}`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series at ${where}`);
    seen.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function familyOf(families: Map<string, Family>, sampleName: string): Family | undefined {
  const direct = families.get(sampleName);
  if (direct && direct.type !== 'histogram') return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const family = families.get(sampleName.slice(0, -suffix.length));
    if (family && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return family;
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{)?/.exec(line);
  if (!m) throw new Error(`malformed sample at ${where}`);
  const name = m[1]!;
  let i = m[0].length;
  const labels: Record<string, string> = {};
  if (m[2]) {
    for (;;) {
      if (line[i] === '}') {
        i++;
        break;
      }
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (!lm) throw new Error(`malformed label at ${where}`);
      const label = lm[1]!;
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`invalid label name ${label} at ${where}`);
      if (label in labels) throw new Error(`label ${label} twice at ${where}`);
      i += lm[0].length;
      let raw = '';
      while (line[i] !== '"') {
        if (i >= line.length) throw new Error(`unterminated label value at ${where}`);
        if (line[i] === '\\') {
          raw += line.slice(i, i + 2);
          i += 2;
        } else raw += line[i++];
      }
      i++;
      labels[label] = unescapeText(raw, true, where);
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } at ${where}`);
    }
  }
  if (line[i] !== ' ') throw new Error(`expected a space before the value at ${where}`);
  const parts = line.slice(i + 1).split(' ');
  if (parts.length > 2 || parts[0] === '') throw new Error(`malformed value at ${where}`);
  const value = parseValue(parts[0]!, where);
  if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) throw new Error(`malformed timestamp at ${where}`);
  return { name, labels, value };
}

function parseValue(text: string, where: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`malformed value ${text} at ${where}`);
  return Number(text);
}

function unescapeText(raw: string, quoted: boolean, where: string): string {
  return raw.replace(/\\(.)/g, (_, c: string) => {
    if (c === 'n') return '\n';
    if (c === '\\') return '\\';
    if (c === '"' && quoted) return '"';
    throw new Error(`bad escape \\${c} at ${where}`);
  });
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    if (s.name.endsWith('_bucket') && le === undefined) throw new Error(`${family.name}: a bucket without le`);
    if (!s.name.endsWith('_bucket') && le !== undefined) throw new Error(`${family.name}: le on ${s.name}`);
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples
      .filter((s) => s.name.endsWith('_bucket'))
      .map((s) => ({ le: parseValue(s.labels.le!, `${family.name} le`), value: s.value }))
      .sort((a, b) => a.le - b.le);
    const count = samples.find((s) => s.name === `${family.name}_count`);
    const sum = samples.find((s) => s.name === `${family.name}_sum`);
    if (!count || !sum) throw new Error(`${family.name}${key}: missing _count or _sum`);
    if (buckets.at(-1)?.le !== Number.POSITIVE_INFINITY) throw new Error(`${family.name}${key}: no +Inf bucket`);
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    if (buckets.at(-1)!.value !== count.value) throw new Error(`${family.name}${key}: +Inf bucket != _count`);
  }
}

/** The value of the one sample `name` whose labels include `labels`; undefined when none, throws when several. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const matches = [...families.values()]
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}

/**
 * Prometheus naming conventions (prometheus.io/docs/practices/naming): a
 * problem list, empty when all is well. snake_case names and labels; counters
 * end in `_total`, other types do not; histograms are in base units
 * (`_seconds`, `_bytes`); no non-base units (`_milliseconds`, `_ms`, `_kb`...).
 */
export function conventionProblems(families: Map<string, Family>): string[] {
  const problems: string[] = [];
  for (const f of families.values()) {
    if (!/^[a-z][a-z0-9_]*$/.test(f.name)) problems.push(`${f.name}: not snake_case`);
    if (f.help.trim() === '') problems.push(`${f.name}: no HELP text`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push(`${f.name}: a counter without _total`);
    if (f.type !== 'counter' && f.name.endsWith('_total')) problems.push(`${f.name}: _total on a ${f.type}`);
    if (f.type === 'histogram' && !/_(seconds|bytes)$/.test(f.name))
      problems.push(`${f.name}: histogram not in base units`);
    if (/_(milliseconds|ms|microseconds|us|minutes|hours|kb|mb|kilobytes|megabytes|percent)(_|$)/.test(f.name)) {
      problems.push(`${f.name}: not a base unit`);
    }
    for (const s of f.samples) {
      for (const label of Object.keys(s.labels)) {
        if (!/^[a-z][a-z0-9_]*$/.test(label)) problems.push(`${f.name}: label ${label} not snake_case`);
      }
    }
  }
  return [...new Set(problems)];
}
