// The session effects and transaction control of one parsed statement: what a pooler in
// transaction mode must replay, pin for or unpin (verdict.ts says what each effect means).
import type { DropStmt, FuncCall, Node, SelectStmt, TransactionStmt, VariableSetStmt } from 'libpg-query';
import {
  booleanConstant,
  builtinName,
  constant,
  explainAnalyzes,
  isTempRelation,
  isTempSchema,
  nameParts,
  nodeKind,
  stringConstant,
  walk,
} from './ast.js';
import { firstListItem, gucName, quoteLiteral, setValueFromString } from './guc.js';
import type { PinReason, SessionEffect, TxControl } from './verdict.js';

export interface Effects {
  effects: SessionEffect[];
  tx: TxControl | null;
  opaque: boolean;
}

/** DECLARE's WITH HOLD bit (parsenodes.h CURSOR_OPT_HOLD) */
const CURSOR_OPT_HOLD = 0x20;

/**
 * Statements that only store expressions for later (a view, a function body, a rule, a column
 * default): the functions they name do not run now, so their calls are not looked for.
 */
const DEFINITIONS: ReadonlySet<string> = new Set([
  'ViewStmt',
  'CreateFunctionStmt',
  'RuleStmt',
  'CreateTrigStmt',
  'CreatePolicyStmt',
  'AlterPolicyStmt',
  'PrepareStmt',
  'CreateStmt',
  'CreateDomainStmt',
]);

/** what DISCARD ALL undoes, in its documented order; LOAD stays */
const DISCARD_ALL: readonly SessionEffect[] = [
  { kind: 'unpin', reason: 'with_hold_cursor', name: null, all: true },
  { kind: 'unpin', reason: 'set_role', name: null, all: true },
  { kind: 'reset_all' },
  { kind: 'unpin', reason: 'prepare', name: null, all: true },
  { kind: 'unpin', reason: 'listen', name: null, all: true },
  { kind: 'unpin', reason: 'advisory_lock', name: null, all: true },
  { kind: 'unpin', reason: 'temp_table', name: null, all: true },
];

function pin(reason: PinReason, name: string | null): SessionEffect {
  return { kind: 'pin', reason, name };
}

function unpin(reason: PinReason, name: string | null, all = false): SessionEffect {
  return { kind: 'unpin', reason, name, all };
}

export function statementEffects(stmt: Node): Effects {
  const out: Effects = { effects: [], tx: null, opaque: false };
  const kind = nodeKind(stmt);
  if ('VariableSetStmt' in stmt) variableSet(stmt.VariableSetStmt, out);
  else if ('TransactionStmt' in stmt) out.tx = transaction(stmt.TransactionStmt);
  else if ('DiscardStmt' in stmt) {
    const target = stmt.DiscardStmt.target;
    if (target === 'DISCARD_ALL') out.effects.push(...DISCARD_ALL);
    else if (target === 'DISCARD_TEMP') out.effects.push(unpin('temp_table', null, true));
  } else if ('ListenStmt' in stmt) out.effects.push(pin('listen', stmt.ListenStmt.conditionname ?? ''));
  else if ('UnlistenStmt' in stmt) {
    const channel = stmt.UnlistenStmt.conditionname;
    out.effects.push(channel === undefined ? unpin('listen', null, true) : unpin('listen', channel));
  } else if ('PrepareStmt' in stmt) out.effects.push(pin('prepare', stmt.PrepareStmt.name ?? ''));
  else if ('DeallocateStmt' in stmt) {
    const { name, isall } = stmt.DeallocateStmt;
    out.effects.push(isall === true || name === undefined ? unpin('prepare', null, true) : unpin('prepare', name));
  } else if ('ClosePortalStmt' in stmt) {
    const name = stmt.ClosePortalStmt.portalname;
    out.effects.push(name === undefined ? unpin('with_hold_cursor', null, true) : unpin('with_hold_cursor', name));
  } else if ('LoadStmt' in stmt) out.effects.push(pin('load', stmt.LoadStmt.filename ?? ''));
  else if ('DoStmt' in stmt) out.opaque = true;
  else if ('ExplainStmt' in stmt) {
    // Without ANALYZE nothing runs; with it the statement runs and does what it does.
    const inner = stmt.ExplainStmt.query;
    if (inner !== undefined && explainAnalyzes(stmt.ExplainStmt.options)) return statementEffects(inner);
    return out;
  } else if ('DropStmt' in stmt) dropped(stmt.DropStmt, out);
  else created(stmt, out);

  if ('DeclareCursorStmt' in stmt && ((stmt.DeclareCursorStmt.options ?? 0) & CURSOR_OPT_HOLD) !== 0) {
    out.effects.push(pin('with_hold_cursor', stmt.DeclareCursorStmt.portalname ?? ''));
  }
  if (!DEFINITIONS.has(kind) && kind !== 'VariableSetStmt') functionCalls(stmt, out);
  return out;
}

function variableSet(v: VariableSetStmt, out: Effects): void {
  const local = v.is_local === true;
  switch (v.kind) {
    case 'VAR_RESET_ALL':
      out.effects.push({ kind: 'reset_all' });
      return;
    case 'VAR_SET_MULTI':
      multi(v, out);
      return;
    case 'VAR_SET_DEFAULT':
    case 'VAR_RESET':
      setting(gucName(v.name ?? ''), null, local, out);
      return;
    case 'VAR_SET_VALUE': {
      const name = gucName(v.name ?? '');
      const value = setArgsText(v.args);
      if (value === null) out.opaque = true;
      else setting(name, value, local, out);
      // With pg_temp first, an unqualified CREATE TABLE makes a temporary table, which outlives
      // even a SET LOCAL: pin now, before the table comes.
      if (name === 'search_path' && isTempSchema(stringConstant(v.args?.[0]) ?? undefined)) {
        out.effects.push(pin('temp_table', null));
      }
      return;
    }
    default:
      // VAR_SET_CURRENT (SET x FROM CURRENT) keeps the value it has.
      return;
  }
}

/**
 * One setting changed to `value` (null: its default). role and session_authorization are not
 * replayed but pinned: a role is a privilege the pooler's own login may not have.
 */
function setting(name: string, value: string | null, local: boolean, out: Effects): void {
  if (!local && (name === 'role' || name === 'session_authorization')) {
    const undone = value === null || (name === 'role' && value === "'none'");
    out.effects.push(undone ? unpin('set_role', name) : pin('set_role', name));
    return;
  }
  out.effects.push({ kind: 'set', name, value, local });
}

/** SET TRANSACTION / SET SESSION CHARACTERISTICS AS TRANSACTION / SET TRANSACTION SNAPSHOT */
function multi(v: VariableSetStmt, out: Effects): void {
  if (v.name === 'TRANSACTION') {
    out.tx = { kind: 'set_transaction', readOnly: readOnlyOption(v.args) };
    return;
  }
  if (v.name !== 'SESSION CHARACTERISTICS') return;
  for (const arg of v.args ?? []) {
    if (!('DefElem' in arg)) continue;
    const item = constant(arg.DefElem.arg);
    if (item === null) {
      out.opaque = true;
      continue;
    }
    const value = item.kind === 'integer' ? (item.value !== 0 ? "'on'" : "'off'") : quoteLiteral(String(item.value));
    setting(`default_${arg.DefElem.defname ?? ''}`, value, v.is_local === true, out);
  }
}

/** transaction_read_only among BEGIN's or SET TRANSACTION's options; null when not given */
function readOnlyOption(options: readonly Node[] | undefined): boolean | null {
  let readOnly: boolean | null = null;
  for (const option of options ?? []) {
    if ('DefElem' in option && option.DefElem.defname === 'transaction_read_only') {
      const value = constant(option.DefElem.arg);
      readOnly = value !== null && value.kind === 'integer' && value.value !== 0;
    }
  }
  return readOnly;
}

function transaction(t: TransactionStmt): TxControl | null {
  switch (t.kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START':
      return { kind: 'begin', readOnly: readOnlyOption(t.options) };
    case 'TRANS_STMT_COMMIT':
      return { kind: 'commit', chain: t.chain === true };
    case 'TRANS_STMT_PREPARE':
      return { kind: 'commit', chain: false };
    case 'TRANS_STMT_ROLLBACK':
      return { kind: 'rollback', chain: t.chain === true };
    default:
      return null;
  }
}

/**
 * SET's arguments as SQL text that SET reads back the same: constants as written (identifiers
 * become string literals, which SET treats alike). An INTERVAL (SET TIME ZONE INTERVAL '…') is
 * kept in the 'INTERVAL ''…''' spelling the timezone check reads; with a qualifier (HOUR TO
 * MINUTE) or precision it has none, so null: unknown.
 */
function setArgsText(args: readonly Node[] | undefined): string | null {
  if (args === undefined || args.length === 0) return null;
  const parts: string[] = [];
  for (const arg of args) {
    if ('TypeCast' in arg) {
      const type = arg.TypeCast.typeName;
      const literal = stringConstant(arg.TypeCast.arg);
      if (nameParts(type?.names).pop() !== 'interval' || type?.typmods !== undefined || literal === null) return null;
      parts.push(quoteLiteral(`INTERVAL ${quoteLiteral(literal)}`));
      continue;
    }
    const c = constant(arg);
    if (c === null) return null;
    if (c.kind === 'string') parts.push(quoteLiteral(c.value));
    else if (c.kind === 'boolean') parts.push(c.value ? "'on'" : "'off'");
    else parts.push(String(c.value));
  }
  return parts.join(', ');
}

/** DROP TABLE/VIEW/SEQUENCE of names that may be temporary: unqualified or in pg_temp */
function dropped(drop: DropStmt, out: Effects): void {
  const type = drop.removeType;
  if (type !== 'OBJECT_TABLE' && type !== 'OBJECT_VIEW' && type !== 'OBJECT_SEQUENCE') return;
  for (const object of drop.objects ?? []) {
    if (!('List' in object)) continue;
    const parts = nameParts(object.List.items);
    if (parts.length === 1 || (parts.length === 2 && isTempSchema(parts[0]))) {
      out.effects.push(unpin('temp_table', parts[parts.length - 1]!));
    }
  }
}

/** temporary objects: tables (also SELECT INTO and CREATE TABLE AS), views, sequences, functions, types */
function created(stmt: Node, out: Effects): void {
  let name: string | null = null;
  if ('CreateStmt' in stmt) {
    const s = stmt.CreateStmt;
    // ON COMMIT DROP: gone when the transaction ends, before the server can change hands.
    if (isTempRelation(s.relation) && s.oncommit !== 'ONCOMMIT_DROP') name = s.relation?.relname ?? '';
  } else if ('CreateTableAsStmt' in stmt) {
    const into = stmt.CreateTableAsStmt.into;
    if (isTempRelation(into?.rel) && into?.onCommit !== 'ONCOMMIT_DROP') name = into?.rel?.relname ?? '';
  } else if ('SelectStmt' in stmt) {
    const into = stmt.SelectStmt.intoClause;
    if (isTempRelation(into?.rel) && into?.onCommit !== 'ONCOMMIT_DROP') name = into?.rel?.relname ?? '';
  } else if ('ViewStmt' in stmt) {
    if (isTempRelation(stmt.ViewStmt.view)) name = stmt.ViewStmt.view?.relname ?? '';
  } else if ('CreateSeqStmt' in stmt) {
    if (isTempRelation(stmt.CreateSeqStmt.sequence)) name = stmt.CreateSeqStmt.sequence?.relname ?? '';
  } else if ('CompositeTypeStmt' in stmt) {
    if (isTempRelation(stmt.CompositeTypeStmt.typevar)) name = stmt.CompositeTypeStmt.typevar?.relname ?? '';
  } else {
    const names =
      'CreateFunctionStmt' in stmt ? stmt.CreateFunctionStmt.funcname
      : 'CreateEnumStmt' in stmt ? stmt.CreateEnumStmt.typeName
      : 'CreateDomainStmt' in stmt ? stmt.CreateDomainStmt.domainname
      : 'CreateRangeStmt' in stmt ? stmt.CreateRangeStmt.typeName
      : undefined;
    const parts = nameParts(names);
    if (parts.length === 2 && isTempSchema(parts[0])) name = parts[1]!;
  }
  if (name !== null) out.effects.push(pin('temp_table', name));
}

/**
 * Builtins called anywhere in the statement that change session state: advisory locks and
 * set_config. A session-level set_config is replayable only as the plain `SELECT set_config(...)`
 * (directly in the select list of a SELECT with no FROM, WHERE, LIMIT or set operation, constant
 * arguments): anywhere else it may run once, many times or never, so the statement is opaque.
 */
function functionCalls(stmt: Node, out: Effects): void {
  const direct = directTargets(stmt);
  const found: { location: number; effects: readonly SessionEffect[] | null }[] = [];
  walk(stmt, (key, value) => {
    if (key !== 'FuncCall') return;
    const call = value as FuncCall;
    const name = builtinName(call.funcname);
    const effects = name === null ? NONE : callEffects(name, call, direct.has(call));
    if (effects !== NONE) found.push({ location: call.location ?? 0, effects });
  });
  found.sort((a, b) => a.location - b.location);
  for (const { effects } of found) {
    if (effects === null) out.opaque = true;
    else out.effects.push(...effects);
  }
}

const NONE: readonly SessionEffect[] = [];

/** NONE: no session effect; null: an effect that cannot be known */
function callEffects(name: string, call: FuncCall, direct: boolean): readonly SessionEffect[] | null {
  switch (name) {
    case 'pg_advisory_lock':
    case 'pg_advisory_lock_shared':
    case 'pg_try_advisory_lock':
    case 'pg_try_advisory_lock_shared':
      return [pin('advisory_lock', null)];
    case 'pg_advisory_unlock':
    case 'pg_advisory_unlock_shared':
      return [unpin('advisory_lock', null)];
    case 'pg_advisory_unlock_all':
      return [unpin('advisory_lock', null, true)];
    case 'set_config':
      return setConfig(call, direct);
    default:
      return NONE;
  }
}

function setConfig(call: FuncCall, direct: boolean): readonly SessionEffect[] | null {
  const args = call.args ?? [];
  if (args.length !== 3 || call.func_variadic === true || call.agg_filter !== undefined || call.over !== undefined) return null;
  const local = booleanConstant(args[2]);
  const rawName = stringConstant(args[0]);
  const value = stringConstant(args[1]);
  // A local change lasts until the transaction ends, wherever the call sits: no session effect.
  const name = rawName === null ? null : gucName(rawName);
  const pinsTemp = name === 'search_path' && value !== null && isTempSchema(firstListItem(value) ?? undefined);
  if (local === true) {
    if (name === null || value === null) return NONE;
    const set: SessionEffect = { kind: 'set', name, value: quoteLiteral(value), local: true };
    return pinsTemp ? [set, pin('temp_table', null)] : [set];
  }
  if (local === null || !direct || name === null || value === null) return null;
  if (name === 'role' || name === 'session_authorization') {
    return [name === 'role' && value === 'none' ? unpin('set_role', name) : pin('set_role', name)];
  }
  const text = setValueFromString(name, value);
  if (text === null) return null;
  const set: SessionEffect = { kind: 'set', name, value: text, local: false };
  return pinsTemp ? [set, pin('temp_table', null)] : [set];
}

/** the FuncCalls standing alone in the select list of a plain `SELECT f(...), g(...)` */
function directTargets(stmt: Node): ReadonlySet<object> {
  const direct = new Set<object>();
  if (!('SelectStmt' in stmt) || !isPlainSelect(stmt.SelectStmt)) return direct;
  for (const target of stmt.SelectStmt.targetList ?? []) {
    if ('ResTarget' in target && target.ResTarget.val !== undefined && 'FuncCall' in target.ResTarget.val) {
      direct.add(target.ResTarget.val.FuncCall);
    }
  }
  return direct;
}

/** a SELECT whose select list runs exactly once */
function isPlainSelect(s: SelectStmt): boolean {
  return (
    (s.op === undefined || s.op === 'SETOP_NONE') &&
    s.fromClause === undefined &&
    s.whereClause === undefined &&
    s.groupClause === undefined &&
    s.havingClause === undefined &&
    s.windowClause === undefined &&
    s.valuesLists === undefined &&
    s.limitCount === undefined &&
    s.limitOffset === undefined &&
    s.withClause === undefined &&
    s.intoClause === undefined &&
    s.lockingClause === undefined
  );
}
