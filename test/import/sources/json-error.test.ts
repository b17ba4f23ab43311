import { describe, expect, it } from 'vitest';
import { findJsonFault, parseJson } from '../../../src/import/sources/json-error.js';
import { TableScanner } from '../../../src/import/sources/table-scanner.js';

describe('parseJson reasons', () => {
  const cases: Array<[text: string, reason: string]> = [
    ['{"a": }', "invalid JSON at line 1 column 7: unexpected '}': expected a value"],
    ['{\n  "a": 1,\n  "b": [1, 2,, 3]\n}', "invalid JSON at line 3 column 14: unexpected ',': expected a value"],
    ['{"a":1,}', "invalid JSON at line 1 column 8: expected a double-quoted property name, found '}'"],
    ['{"a" 1}', "invalid JSON at line 1 column 6: expected ':' after a property name, found '1'"],
    ['[1,2', "invalid JSON at line 1 column 5: expected ',' or ']' after an array element, found end of input"],
    ['{"a":"x\ny"}', 'invalid JSON at line 1 column 8: bad control character U+000A in a string (escape it)'],
    ['"\\x"', "invalid JSON at line 1 column 3: bad escape '\\x' in a string"],
    ['{"a":1}}', "invalid JSON at line 1 column 8: unexpected '}' after the end of the JSON value"],
    ['{"a": "open', 'invalid JSON at line 1 column 7: unterminated string'],
    ['', 'invalid JSON at line 1 column 1: the document is empty'],
  ];
  it.each(cases)('%j', (text, reason) => {
    const r = parseJson(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('agrees with JSON.parse on valid documents', () => {
    for (const t of ['0', '-1.5e+3', '"\\u00e9\\n"', '{"a":[true,false,null,{}],"b":[]}', ' [ 1 , {"x" : "y"} ] ']) {
      expect(findJsonFault(t)).toBeNull();
      expect(parseJson(t)).toEqual({ ok: true, value: JSON.parse(t) });
    }
  });

  it('offsets positions by where the text starts in its file', () => {
    const r = parseJson('{"a": }', { line: 7, column: 5 });
    expect(!r.ok && r.reason).toBe("invalid JSON at line 7 column 11: unexpected '}': expected a value");
  });

  it('never echoes the document (V8 quotes it; secrets live there)', () => {
    const r = parseJson('{"password": "hunter2", oops}');
    expect(!r.ok && r.reason).not.toContain('hunter2');
  });
});

describe('TableScanner', () => {
  const doc = '{"users": [{"a": 1}, {"b": "x]}\\""}],\n "tags": ["s", 2, null, [3]], "empty": []}';
  const scan = (text: string, size: number) => {
    const s = new TableScanner('array');
    const events = [];
    for (let i = 0; i < text.length; i += size) events.push(...s.feed(text.slice(i, i + size)));
    return [...events, ...s.end()];
  };

  it('gives the same events however the text is chunked', () => {
    const whole = scan(doc, doc.length);
    expect(whole.map((e) => (e.type === 'element' ? e.text : e.type))).toEqual([
      '{"a": 1}',
      '{"b": "x]}\\""}',
      '"s"',
      '2',
      'null',
      '[3]',
    ]);
    for (const size of [1, 2, 3, 7, 16]) expect(scan(doc, size)).toEqual(whole);
  });

  it('reports element positions (line and column)', () => {
    const tags = scan(doc, 5).filter((e) => e.type === 'element' && e.table === 'tags');
    expect(tags[0]).toMatchObject({ line: 2, column: 11, index: 0 });
  });

  it('stops with a fault where the structure breaks', () => {
    const events = scan('{"users": [{"a": 1} {"b": 2}]}', 4);
    expect(events.at(-1)).toEqual({
      type: 'fault',
      message: "expected ',' or ']' after element 0 of table \"users\", found '{'",
      line: 1,
      column: 21,
    });
  });
});
