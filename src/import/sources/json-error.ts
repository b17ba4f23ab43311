/**
 * Precise locations for malformed JSON. V8's `JSON.parse` messages sometimes
 * carry no position and quote a slice of the input (which may hold secrets),
 * so on failure the text is re-scanned here to find the first bad character
 * and say what was expected there.
 */

export interface JsonFault {
  /** 0-based offset (UTF-16 units) of the offending character. */
  offset: number;
  message: string;
}

/** Where a piece of text starts inside its file, to turn offsets into file lines and columns. */
export interface TextOrigin {
  line: number;
  column: number;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Parse `text` as one JSON value; on failure return a reason like `invalid JSON at line 3 column 14: …`. */
export function parseJson(
  text: string,
  origin: TextOrigin = { line: 1, column: 1 },
): { ok: true; value: unknown } | { ok: false; reason: string; line: number } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const fault = findJsonFault(text) ?? { offset: 0, message: cleanV8Message((err as Error).message) };
    const at = position(text, fault.offset, origin);
    return {
      ok: false,
      reason: `invalid JSON at line ${at.line} column ${at.column}: ${fault.message}`,
      line: at.line,
    };
  }
}

/** The first syntax error in `text`, or null when it is valid JSON. */
export function findJsonFault(text: string): JsonFault | null {
  let i = 0;
  const n = text.length;
  // Stack of open containers: '{' or '['.
  const stack: string[] = [];
  const skipWs = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const found = () => (i >= n ? 'end of input' : showChar(text, i));
  const fault = (message: string): JsonFault => ({ offset: Math.min(i, n), message });

  skipWs();
  if (i >= n) return fault('the document is empty');
  for (;;) {
    // Expect a value at i.
    skipWs();
    if (i >= n) return fault('unexpected end of input: expected a value');
    const c = text[i]!;
    if (c === '{' || c === '[') {
      stack.push(c);
      i++;
      skipWs();
      const close = c === '{' ? '}' : ']';
      if (text[i] === close) {
        stack.pop();
        i++;
      } else if (c === '{') {
        const keyFault = readKey();
        if (keyFault) return keyFault;
        continue;
      } else {
        continue;
      }
    } else if (c === '"') {
      const f = readString();
      if (f) return f;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m)
        return fault(`invalid number: expected a digit, found ${i + 1 < n ? showChar(text, i + 1) : 'end of input'}`);
      i += m[0].length;
    } else if (text.startsWith('true', i) || text.startsWith('null', i)) {
      i += 4;
    } else if (text.startsWith('false', i)) {
      i += 5;
    } else {
      return fault(`unexpected ${found()}: expected a value`);
    }
    // After a value: close containers or move to the next element.
    for (;;) {
      skipWs();
      const top = stack[stack.length - 1];
      if (top === undefined) {
        return i < n ? fault(`unexpected ${found()} after the end of the JSON value`) : null;
      }
      const close = top === '{' ? '}' : ']';
      if (text[i] === close) {
        stack.pop();
        i++;
        continue;
      }
      if (text[i] !== ',') {
        const what = top === '{' ? "',' or '}' after a property value" : "',' or ']' after an array element";
        return fault(`expected ${what}, found ${found()}`);
      }
      i++;
      if (top === '{') {
        skipWs();
        const keyFault = readKey();
        if (keyFault) return keyFault;
      }
      break;
    }
  }

  function readKey(): JsonFault | null {
    if (text[i] !== '"') return fault(`expected a double-quoted property name, found ${found()}`);
    const f = readString();
    if (f) return f;
    skipWs();
    if (text[i] !== ':') return fault(`expected ':' after a property name, found ${found()}`);
    i++;
    return null;
  }

  function readString(): JsonFault | null {
    const start = i;
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return null;
      }
      if (c < 0x20) return fault(`bad control character ${showChar(text, i)} in a string (escape it)`);
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i++;
            return fault('bad \\u escape in a string: expected 4 hex digits');
          }
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          i++;
          return fault(`bad escape ${e === undefined ? 'at end of input' : `'\\${e}'`} in a string`);
        }
        i += 2;
        continue;
      }
      i++;
    }
    i = start;
    return fault('unterminated string');
  }
}

/** 1-based line and column of `offset` in `text`, shifted by where `text` starts in its file. */
export function position(text: string, offset: number, origin: TextOrigin = { line: 1, column: 1 }): TextOrigin {
  let line = origin.line;
  let lineStart = 0;
  let nl = text.indexOf('\n');
  while (nl >= 0 && nl < offset) {
    line++;
    lineStart = nl + 1;
    nl = text.indexOf('\n', lineStart);
  }
  const column = offset - lineStart + (line === origin.line ? origin.column : 1);
  return { line, column };
}

export function showChar(text: string, i: number): string {
  const code = text.codePointAt(i)!;
  if (code < 0x20 || code === 0x7f) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${String.fromCodePoint(code)}'`;
}

// Fallback only: drop the quoted input V8 appends (`, "…" is not valid JSON`).
function cleanV8Message(message: string): string {
  return message.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
}
