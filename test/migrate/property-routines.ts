/**
 * Functions and triggers in the property model (property-model.ts): SQL
 * functions with overloads, whose body, volatility or argument name change
 * (`CREATE OR REPLACE` for the first two, drop and create for the last), and
 * row triggers calling PL/pgSQL trigger functions (`RETURN NEW`, so the
 * model's rows are untouched) that follow their table through renames and
 * go with it.
 */
import type { FunctionIR, SchemaIR, TriggerIR } from '../../src/schema/ir.js';
import type { Model, OpKind, Picks } from './property-model.js';

export interface MFunction {
  name: string;
  kind: 'scalar' | 'trigger';
  /** Scalar functions: one argument. */
  argName: string;
  argType: 'integer' | 'bigint' | 'text';
  version: number;
  volatility: 'volatile' | 'immutable';
}

export interface MTrigger {
  name: string;
  table: string;
  fn: string;
  update: boolean;
}

const ARG_TYPES = ['integer', 'bigint', 'text'] as const;

function functionIR(f: MFunction): FunctionIR {
  const scalar = f.kind === 'scalar';
  return {
    name: f.name,
    arguments: scalar ? `${f.argName} ${f.argType}` : '',
    argumentTypes: scalar ? f.argType : '',
    returns: scalar ? f.argType : 'trigger',
    language: scalar ? 'sql' : 'plpgsql',
    body: !scalar
      ? `BEGIN /* v${f.version} */ RETURN NEW; END`
      : f.argType === 'text'
        ? `SELECT ${f.argName} || '${f.version}'`
        : `SELECT ${f.argName} + ${f.version}`,
    volatility: f.volatility,
    strict: false,
    security: 'invoker',
    parallel: 'unsafe',
    setConfig: [],
    comment: null,
  };
}

/** Triggers on tables that still exist (a dropped table took its triggers along). */
const liveTriggers = (m: Model) => m.triggers.filter((t) => m.tables.some((x) => x.name === t.table));

export function routinesIR(m: Model): Pick<SchemaIR, 'functions' | 'triggers'> {
  const functions = m.functions.map(functionIR);
  const triggers = liveTriggers(m).map(
    (t): TriggerIR => ({
      name: t.name,
      table: t.table,
      timing: 'before',
      events: t.update ? ['insert', 'update'] : ['insert'],
      updateOf: [],
      forEach: 'row',
      when: null,
      function: t.fn,
      args: [],
      comment: null,
    }),
  );
  return {
    ...(functions.length > 0 ? { functions } : {}),
    ...(triggers.length > 0 ? { triggers } : {}),
  };
}

type OpFn = (m: Model, r: Picks) => string | null;

export const ROUTINE_OPS: Record<
  | 'addFunction'
  | 'changeFunction'
  | 'overloadFunction'
  | 'dropFunction'
  | 'addTrigger'
  | 'changeTrigger'
  | 'dropTrigger',
  OpFn
> = {
  addFunction(m, r) {
    const kind = r.pick(['scalar', 'trigger'] as const)!;
    const f: MFunction = {
      name: `f${m.nameSeq++}`,
      kind,
      argName: 'a',
      argType: kind === 'scalar' ? r.pick(ARG_TYPES)! : 'integer',
      version: 1,
      volatility: 'volatile',
    };
    m.functions.push(f);
    return `add ${kind} function ${f.name}${kind === 'scalar' ? `(${f.argType})` : '()'}`;
  },

  changeFunction(m, r) {
    const f = r.pick(m.functions);
    if (!f) return null;
    const what = r.pick(f.kind === 'scalar' ? (['body', 'volatility', 'argName'] as const) : (['body'] as const))!;
    if (what === 'body') f.version++;
    else if (what === 'volatility') f.volatility = f.volatility === 'volatile' ? 'immutable' : 'volatile';
    else f.argName = f.argName === 'a' ? 'b' : 'a';
    return `change ${what} of function ${f.name}(${f.kind === 'scalar' ? f.argType : ''})`;
  },

  overloadFunction(m, r) {
    const f = r.pick(m.functions.filter((x) => x.kind === 'scalar'));
    if (!f) return null;
    const taken = m.functions.filter((x) => x.name === f.name).map((x) => x.argType);
    const argType = r.pick(ARG_TYPES.filter((t) => !taken.includes(t)));
    if (!argType) return null;
    m.functions.push({ ...f, argType, version: 1 });
    return `overload function ${f.name}(${argType})`;
  },

  dropFunction(m, r) {
    const used = new Set(liveTriggers(m).map((t) => t.fn));
    const f = r.pick(m.functions.filter((x) => !used.has(x.name)));
    if (!f) return null;
    m.functions = m.functions.filter((x) => x !== f);
    return `drop function ${f.name}(${f.kind === 'scalar' ? f.argType : ''})`;
  },

  addTrigger(m, r) {
    const t = r.pick(m.tables);
    if (!t) return null;
    let fn = r.pick(m.functions.filter((x) => x.kind === 'trigger'));
    if (!fn) {
      fn = {
        name: `f${m.nameSeq++}`,
        kind: 'trigger',
        argName: 'a',
        argType: 'integer',
        version: 1,
        volatility: 'volatile',
      };
      m.functions.push(fn);
    }
    const tg: MTrigger = { name: `tg${m.nameSeq++}`, table: t.name, fn: fn.name, update: r.chance(2) };
    m.triggers.push(tg);
    return `add trigger ${tg.name} on ${t.name} calling ${fn.name}()`;
  },

  changeTrigger(m, r) {
    const tg = r.pick(liveTriggers(m));
    if (!tg) return null;
    tg.update = !tg.update;
    return `trigger ${tg.name} ${tg.update ? 'also' : 'no longer'} fires on update`;
  },

  dropTrigger(m, r) {
    const tg = r.pick(liveTriggers(m));
    if (!tg) return null;
    m.triggers = m.triggers.filter((x) => x !== tg);
    return `drop trigger ${tg.name} on ${tg.table}`;
  },
};

export const ROUTINE_FALLBACK: Partial<Record<OpKind, OpKind>> = {
  changeFunction: 'addFunction',
  overloadFunction: 'addFunction',
  dropFunction: 'addFunction',
  changeTrigger: 'addTrigger',
  dropTrigger: 'addTrigger',
};
