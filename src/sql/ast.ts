// Small readers over libpg-query's JSON parse tree: name lists, constants, and a walk over every
// node. The JSON leaves out fields at their zero value (0, false, ''), so each reader supplies it.
import type { Node, RangeVar } from 'libpg-query';

/** the strings of a name list such as FuncCall.funcname or one of DropStmt's object names */
export function nameParts(nodes: readonly Node[] | undefined): string[] {
  const parts: string[] = [];
  if (nodes === undefined) return parts;
  for (const node of nodes) if ('String' in node) parts.push(node.String.sval ?? '');
  return parts;
}

/**
 * The name of a builtin function or operator as written: unqualified or pg_catalog-qualified
 * (pg_catalog comes first in every search_path unless placed otherwise), else null.
 */
export function builtinName(nodes: readonly Node[] | undefined): string | null {
  const parts = nameParts(nodes);
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2 && parts[0] === 'pg_catalog') return parts[1]!;
  return null;
}

export type Constant =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'integer'; readonly value: number }
  | { readonly kind: 'float'; readonly value: string }
  | { readonly kind: 'boolean'; readonly value: boolean };

/** an A_Const as a value, or null for anything else (NULL and bit strings included) */
export function constant(node: Node | undefined): Constant | null {
  if (node === undefined || !('A_Const' in node)) return null;
  const c = node.A_Const;
  if (c.isnull === true) return null;
  if (c.sval !== undefined) return { kind: 'string', value: c.sval.sval ?? '' };
  if (c.ival !== undefined) return { kind: 'integer', value: c.ival.ival ?? 0 };
  if (c.fval !== undefined) return { kind: 'float', value: c.fval.fval ?? '0' };
  if (c.boolval !== undefined) return { kind: 'boolean', value: c.boolval.boolval ?? false };
  return null;
}

/** text types a string literal may be cast to and stay the same string */
const TEXT_TYPES: ReadonlySet<string> = new Set(['text', 'varchar', 'name']);

/** a string literal, bare or cast to a text type ('x'::text), or null */
export function stringConstant(node: Node | undefined): string | null {
  if (node !== undefined && 'TypeCast' in node) {
    const names = nameParts(node.TypeCast.typeName?.names);
    if (!TEXT_TYPES.has(names[names.length - 1] ?? '') || node.TypeCast.typeName?.arrayBounds !== undefined) return null;
    node = node.TypeCast.arg;
  }
  const c = constant(node);
  return c !== null && c.kind === 'string' ? c.value : null;
}

/**
 * Text as boolin reads it, for the spellings it accepts in full (partial ones such as 'tr' are
 * left unknown: null).
 */
export function booleanText(text: string): boolean | null {
  const word = text.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, '').toLowerCase();
  if (word === 't' || word === 'true' || word === 'on' || word === 'yes' || word === 'y' || word === '1') return true;
  if (word === 'f' || word === 'false' || word === 'off' || word === 'no' || word === 'n' || word === '0') return false;
  return null;
}

/** a boolean argument given as a constant: true/false, or a string literal boolin reads */
export function booleanConstant(node: Node | undefined): boolean | null {
  const c = constant(node);
  if (c === null) return null;
  if (c.kind === 'boolean') return c.value;
  return c.kind === 'string' ? booleanText(c.value) : null;
}

/** EXPLAIN's ANALYZE option as defGetBoolean reads it; anything unclear counts as on */
export function explainAnalyzes(options: readonly Node[] | undefined): boolean {
  let analyze = false;
  for (const option of options ?? []) {
    if (!('DefElem' in option) || option.DefElem.defname !== 'analyze') continue;
    const arg = option.DefElem.arg;
    if (arg === undefined) analyze = true;
    else if ('Integer' in arg) analyze = (arg.Integer.ival ?? 0) !== 0;
    else if ('String' in arg) analyze = booleanText(arg.String.sval ?? '') !== false;
    else if ('Boolean' in arg) analyze = arg.Boolean.boolval ?? false;
    else analyze = true;
  }
  return analyze;
}

/** pg_temp, or pg_temp_N (some session's temporary schema) */
export function isTempSchema(schema: string | undefined): boolean {
  return schema !== undefined && /^pg_temp(?:_\d+)?$/.test(schema);
}

/** a relation the statement creates as temporary: TEMP/TEMPORARY, or placed in pg_temp */
export function isTempRelation(rel: RangeVar | undefined): boolean {
  return rel !== undefined && (rel.relpersistence === 't' || isTempSchema(rel.schemaname));
}

/** the one key of a node such as { SelectStmt: {...} } */
export function nodeKind(node: Node): string {
  for (const key in node) return key;
  return '';
}

/**
 * Calls visit(key, value) for every object-valued property in the tree. Iterative: the grammar
 * nests up to its own stack limit (about 10 000 levels), deeper than a recursive walk may go.
 */
export function walk(root: unknown, visit: (key: string, value: object) => void): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== 'object' || item === null) continue;
    if (Array.isArray(item)) {
      for (const element of item) stack.push(element);
      continue;
    }
    const record = item as Record<string, unknown>;
    for (const key in record) {
      const value = record[key];
      if (typeof value !== 'object' || value === null) continue;
      visit(key, value);
      stack.push(value);
    }
  }
}
