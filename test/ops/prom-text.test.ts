/** The strict exposition parser the metrics tests rely on must refuse what Prometheus refuses. */
import { describe, expect, it } from 'vitest';
import { conventionProblems, parsePromText, sampleValue } from '../support/prom-text.js';

const valid = `# HELP app_requests_total Requests "served"\\n by the app.
# TYPE app_requests_total counter
app_requests_total{route="/a",code="200"} 3
app_requests_total{route="/b \\"q\\"",code="500"} 1
# HELP app_wait_seconds Wait.
# TYPE app_wait_seconds histogram
app_wait_seconds_bucket{le="0.1"} 1
app_wait_seconds_bucket{le="1"} 2
app_wait_seconds_bucket{le="+Inf"} 2
app_wait_seconds_sum 0.55
app_wait_seconds_count 2
`;

describe('parsePromText', () => {
  it('reads families, escaped label values and histograms', () => {
    const f = parsePromText(valid);
    expect(f.get('app_requests_total')).toMatchObject({ type: 'counter', help: 'Requests "served"\n by the app.' });
    expect(sampleValue(f, 'app_requests_total', { route: '/b "q"' })).toBe(1);
    expect(sampleValue(f, 'app_wait_seconds_count')).toBe(2);
    expect(conventionProblems(f)).toEqual([]);
  });

  it.each([
    ['a sample without a TYPE', 'x_total 1\n'],
    ['no trailing newline', '# TYPE x gauge\nx 1'],
    ['a bad value', '# TYPE x gauge\nx one\n'],
    ['an unterminated label', '# TYPE x gauge\nx{a="1} 1\n'],
    ['a reserved label name', '# TYPE x gauge\nx{__a="1"} 1\n'],
    ['a duplicate series', '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'],
    ['two TYPE lines', '# TYPE x gauge\n# TYPE x gauge\n'],
    ['a bad escape', '# TYPE x gauge\nx{a="\\t"} 1\n'],
    [
      'non-cumulative buckets',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
    ],
    ['+Inf bucket != count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => parsePromText(text)).toThrow();
  });

  it('reports convention problems', () => {
    const f = parsePromText(
      '# HELP a_requests x\n# TYPE a_requests counter\na_requests 1\n# HELP a_wait_ms x\n# TYPE a_wait_ms histogram\na_wait_ms_bucket{le="+Inf"} 0\na_wait_ms_sum 0\na_wait_ms_count 0\n# HELP a_up_total x\n# TYPE a_up_total gauge\na_up_total{Bad="1"} 1\n',
    );
    expect(conventionProblems(f).sort()).toEqual([
      'a_requests: a counter without _total',
      'a_up_total: _total on a gauge',
      'a_up_total: label Bad not snake_case',
      'a_wait_ms: histogram not in base units',
      'a_wait_ms: not a base unit',
    ]);
  });
});
