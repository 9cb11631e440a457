// Whether one parsed statement is provably read-only, so a standby may run it: a query that
// writes nothing, locks no rows and calls only allow-listed builtins (builtins.ts).
import type { A_Expr, FuncCall, Node, SubLink } from 'libpg-query';
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
    else if (key === 'SubLink') readOnly = isReadOnlySubLink(value as SubLink);
  });
  return readOnly;
}

function isReadOnlyCall(call: FuncCall): boolean {
  const name = builtinName(call.funcname);
  return name !== null && READ_ONLY_FUNCTIONS.has(name);
}

/** x op ANY (SELECT ...) names its operator too; EXISTS and plain subqueries have none */
function isReadOnlySubLink(link: SubLink): boolean {
  if (link.operName === undefined) return true;
  const name = builtinName(link.operName);
  return name !== null && READ_ONLY_OPERATORS.has(name);
}

/** BETWEEN and its kin carry a keyword, not an operator, in their name */
function isReadOnlyOperator(expr: A_Expr): boolean {
  switch (expr.kind) {
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
    case 'AEXPR_NOT_BETWEEN_SYM':
      return true;
    default: {
      const name = builtinName(expr.name);
      return name !== null && READ_ONLY_OPERATORS.has(name);
    }
  }
}
