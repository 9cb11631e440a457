// Renders this repository's Helm chart for the tests, because the helm binary comes from neither
// Debian's packages nor npm. It implements the part of Helm's template language the chart uses —
// {{ .Values.x }}, {{ .Release.Name }}, if/else/end with eq and and, define/include, add, and the
// quote, indent and nindent pipes, with {{- -}} trimming — and throws on anything else, so a
// template that strays outside it fails the test instead of rendering wrongly.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

type Value = unknown;
interface Scope {
  Values: Record<string, Value>;
  Release: { Name: string };
}

type Node = { kind: 'text'; text: string } | { kind: 'action'; expr: string } | { kind: 'if'; cond: string; then: Node[]; else: Node[] };

/** split into text and {{ actions }}, applying the trim markers */
function tokenize(source: string): { kind: 'text' | 'action'; text: string }[] {
  const tokens: { kind: 'text' | 'action'; text: string }[] = [];
  const pattern = /\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g;
  let last = 0;
  let trimNext = false;
  for (let match = pattern.exec(source); match !== null; match = pattern.exec(source)) {
    let text = source.slice(last, match.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (match[1] === '-') text = text.replace(/\s+$/, '');
    tokens.push({ kind: 'text', text }, { kind: 'action', text: match[2]! });
    trimNext = match[3] === '-';
    last = pattern.lastIndex;
  }
  let rest = source.slice(last);
  if (trimNext) rest = rest.replace(/^\s+/, '');
  tokens.push({ kind: 'text', text: rest });
  return tokens;
}

/** nest if/else/end; collect define blocks into `defines` */
function parseNodes(tokens: { kind: 'text' | 'action'; text: string }[], defines: Map<string, Node[]>): Node[] {
  let i = 0;
  const block = (stopAt: string[]): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const token = tokens[i++]!;
      if (token.kind === 'text') {
        if (token.text !== '') nodes.push({ kind: 'text', text: token.text });
        continue;
      }
      const action = token.text;
      const word = action.split(/\s+/)[0]!;
      if (stopAt.includes(word)) return { nodes, stop: word };
      if (word === 'if') {
        const then = block(['else', 'end']);
        const otherwise = then.stop === 'else' ? block(['end']).nodes : [];
        nodes.push({ kind: 'if', cond: action.slice(3), then: then.nodes, else: otherwise });
      } else if (word === 'define') {
        const name = /^define\s+"([^"]+)"$/.exec(action)?.[1];
        if (name === undefined) throw new Error(`bad define: ${action}`);
        defines.set(name, block(['end']).nodes);
      } else {
        nodes.push({ kind: 'action', expr: action });
      }
    }
    if (stopAt.length > 0) throw new Error(`missing {{ end }}`);
    return { nodes, stop: '' };
  };
  return block([]).nodes;
}

function lookup(path: string, scope: Scope): Value {
  let value: Value = scope;
  for (const key of path.split('.').filter(Boolean)) {
    if (value === null || typeof value !== 'object' || !(key in value)) throw new Error(`no value at ${path}`);
    value = (value as Record<string, Value>)[key];
  }
  return value;
}

/** tokens of one expression: "strings", numbers, .paths, words, parentheses */
function exprTokens(expr: string): string[] {
  return expr.match(/"[^"]*"|\(|\)|[^\s()]+/g) ?? [];
}

class Renderer {
  constructor(
    private readonly defines: Map<string, Node[]>,
    private readonly scope: Scope,
  ) {}

  render(nodes: Node[]): string {
    return nodes.map((node) => this.node(node)).join('');
  }

  private node(node: Node): string {
    if (node.kind === 'text') return node.text;
    if (node.kind === 'if') return this.render(this.truthy(this.evaluate(node.cond)) ? node.then : node.else);
    return String(this.evaluate(node.expr));
  }

  private truthy(value: Value): boolean {
    return value !== false && value !== null && value !== undefined && value !== '' && value !== 0;
  }

  /** `a | f n | g`: the first stage's value becomes each function's last argument */
  evaluate(expr: string): Value {
    const stages = expr.split('|').map((stage) => stage.trim());
    let value = this.call(exprTokens(stages[0]!));
    for (const stage of stages.slice(1)) value = this.call(exprTokens(stage), value);
    return value;
  }

  private call(tokens: string[], piped?: Value): Value {
    let position = 0;
    const term = (): Value => {
      const token = tokens[position++]!;
      if (token === '(') {
        const inner: string[] = [];
        let depth = 1;
        while (depth > 0) {
          const t = tokens[position++]!;
          if (t === '(') depth++;
          if (t === ')') depth--;
          if (depth > 0) inner.push(t);
        }
        return this.call(inner);
      }
      if (token.startsWith('"')) return token.slice(1, -1);
      if (/^-?\d+$/.test(token)) return Number(token);
      if (token === '.') return this.scope;
      if (token.startsWith('.')) return lookup(token, this.scope);
      throw new Error(`unexpected ${token}`);
    };
    const head = tokens[0]!;
    if (head.startsWith('.') || head.startsWith('"') || head === '(' || /^\d/.test(head)) return term();
    position = 1;
    const args: Value[] = [];
    while (position < tokens.length) args.push(term());
    if (piped !== undefined) args.push(piped);
    switch (head) {
      case 'eq':
        return args[0] === args[1];
      case 'and':
        return args.every((a) => this.truthy(a));
      case 'add':
        return Number(args[0]) + Number(args[1]);
      case 'quote':
        return JSON.stringify(String(args[0]));
      case 'indent':
        return String(args[1]).replace(/^/gm, ' '.repeat(Number(args[0])));
      case 'nindent':
        return '\n' + String(args[1]).replace(/^/gm, ' '.repeat(Number(args[0])));
      case 'include': {
        const body = this.defines.get(String(args[0]));
        if (body === undefined) throw new Error(`no template ${String(args[0])}`);
        return this.render(body);
      }
      default:
        throw new Error(`the test renderer does not know the template function "${head}"`);
    }
  }
}

/** every manifest the chart renders for these values, parsed, in template-file order */
export function renderChart(chartDir: string, values: Record<string, Value>, releaseName = 'release'): Record<string, Value>[] {
  const defaults = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, Value>;
  const scope: Scope = { Values: { ...defaults, ...values }, Release: { Name: releaseName } };
  const templates = join(chartDir, 'templates');
  const files = readdirSync(templates).sort();
  const defines = new Map<string, Node[]>();
  for (const file of files.filter((f) => f.startsWith('_'))) parseNodes(tokenize(readFileSync(join(templates, file), 'utf8')), defines);
  const renderer = new Renderer(defines, scope);
  const manifests: Record<string, Value>[] = [];
  for (const file of files.filter((f) => !f.startsWith('_') && f.endsWith('.yaml'))) {
    const text = renderer.render(parseNodes(tokenize(readFileSync(join(templates, file), 'utf8')), defines));
    const parsed = parse(text) as Record<string, Value> | null;
    if (parsed !== null) manifests.push(parsed);
  }
  return manifests;
}
