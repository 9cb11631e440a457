// Whether one parsed statement is provably read-only, so a standby may run it: a query that
// writes nothing, locks no rows and calls only allow-listed builtins (builtins.ts).
import type { A_Expr, FuncCall, Node, SortBy, SubLink } from 'libpg-query';
import { builtinName, explainAnalyzes, walk } from './ast.js';
import { READ_ONLY_FUNCTIONS, READ_ONLY_OPERATORS } from './builtins.js';

/** data-modifying statements, which may sit in a WITH of a SELECT */
const WRITES: ReadonlySet<string> = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

export function isReadOnly(stmt: Node): boolean {
  if ('VariableShowStmt' in stmt) return true;
  if ('ExplainStmt' in stmt) {
    // Plain EXPLAIN only plans; EXPLAIN ANALYZE runs the statement.
    const inner = stmt.ExplainStmt.query;
    if (inner === undefined) return false;
    return !explainAnalyzes(stmt.ExplainStmt.options) || isReadOnly(inner);
  }
  if (!('SelectStmt' in stmt)) return false;
  let readOnly = true;
  walk(stmt, (key, value) => {
    if (!readOnly) return;
    // SELECT INTO creates a table; FOR UPDATE/SHARE locks rows, which a standby refuses.
    if (key === 'intoClause' || key === 'lockingClause' || WRITES.has(key)) readOnly = false;
    else if (key === 'FuncCall') readOnly = isReadOnlyCall(value as FuncCall);
    else if (key === 'A_Expr') readOnly = isReadOnlyOperator(value as A_Expr);
    else if (key === 'SubLink') readOnly = isReadOnlyOperatorName((value as SubLink).operName);
    else if (key === 'SortBy') readOnly = isReadOnlyOperatorName((value as SortBy).useOp);
  });
  return readOnly;
}

function isReadOnlyCall(call: FuncCall): boolean {
  const name = builtinName(call.funcname);
  return name !== null && READ_ONLY_FUNCTIONS.has(name);
}

/**
 * An operator as its name list: an A_Expr's, x op ANY (SELECT ...)'s, ORDER BY x USING op's.
 * Absent (nothing to check) for EXISTS and plain subqueries, and for ORDER BY without USING.
 */
function isReadOnlyOperatorName(name: readonly Node[] | undefined): boolean {
  if (name === undefined) return true;
  const operator = builtinName(name);
  return operator !== null && READ_ONLY_OPERATORS.has(operator);
}

/** BETWEEN and its kin carry a keyword, not an operator, in their name */
function isReadOnlyOperator(expr: A_Expr): boolean {
  switch (expr.kind) {
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
    case 'AEXPR_NOT_BETWEEN_SYM':
      return true;
    default:
      return isReadOnlyOperatorName(expr.name ?? []);
  }
}
