/**
 * Scenario expressions: u64 arithmetic (`bigint`, wrapping like C unsigned), comparisons, member access
 * and a few functions, so a scenario can derive IOVAs from what GET_INFO reported
 * (`h.end + 1 - 0x1000`). Parsed once (syntax errors at load time), evaluated at run time.
 *
 *   expr    := or ; or := and ('||' and)* ; and := cmp ('&&' cmp)*
 *   cmp     := bitor (('=='|'!='|'<'|'<='|'>'|'>=') bitor)?
 *   bitor   := bitxor ('|' bitxor)* ; bitxor := bitand ('^' bitand)* ; bitand := shift ('&' shift)*
 *   shift   := add (('<<'|'>>') add)* ; add := mul (('+'|'-') mul)* ; mul := unary (('*'|'/'|'%') unary)*
 *   unary   := ('-'|'~'|'!') unary | postfix ; postfix := primary ('.' ident | '[' expr ']')*
 *   primary := number | size (4KiB) | string | ident | ident '(' args ')' | '(' expr ')'
 */

export type Value = bigint | string | boolean | Value[] | { readonly [k: string]: Value };

export type Expr =
  | { k: 'num'; v: bigint }
  | { k: 'str'; v: string }
  | { k: 'var'; name: string }
  | { k: 'call'; fn: string; args: Expr[] }
  | { k: 'member'; obj: Expr; name: string }
  | { k: 'index'; obj: Expr; idx: Expr }
  | { k: 'un'; op: string; a: Expr }
  | { k: 'bin'; op: string; a: Expr; b: Expr };

export class ExprError extends Error {}

const MASK = (1n << 64n) - 1n;
const UNITS: Record<string, bigint> = { k: 10n, m: 20n, g: 30n, t: 40n, p: 50n, e: 60n };

function tokenize(src: string): string[] {
  const toks: string[] = [];
  const re =
    /\s*(0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*(?:[kKmMgGtTpPeE]i?[bB]?)?|[A-Za-z_][A-Za-z0-9_]*|"[^"]*"|'[^']*'|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>().,[\]])/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new ExprError(`unexpected character "${src.slice(i).trim()[0]}" in expression "${src}"`);
    toks.push(m[1]!);
    i = re.lastIndex;
  }
  return toks;
}

function parseNumber(t: string): bigint | undefined {
  const s = t.replace(/_/g, '');
  if (/^0[xX][0-9a-fA-F]+$/.test(s) || /^0[bB][01]+$/.test(s) || /^[0-9]+$/.test(s)) return BigInt(s);
  const m = /^([0-9]+)([kKmMgGtTpPeE])(i?[bB])?$/.exec(s);
  if (m) return BigInt(m[1]!) << UNITS[m[2]!.toLowerCase()]!;
  return undefined;
}

/** Limits that keep parsing and evaluation far from the JS stack limit (a scenario is hand-written). */
const MAX_TOKENS = 4096;
const MAX_NESTING = 128;

export function parseExpr(src: string): Expr {
  const toks = tokenize(src);
  if (toks.length > MAX_TOKENS)
    throw new ExprError(`expression too long (${toks.length} tokens, at most ${MAX_TOKENS})`);
  let p = 0;
  let depth = 0;
  const nested = <T>(f: () => T): T => {
    if (++depth > MAX_NESTING)
      throw new ExprError(`expression nested too deeply (more than ${MAX_NESTING} levels)`);
    try {
      return f();
    } finally {
      depth--;
    }
  };
  const peek = (): string | undefined => toks[p];
  const eat = (t: string): boolean => {
    if (toks[p] === t) {
      p++;
      return true;
    }
    return false;
  };
  const expect = (t: string): void => {
    if (!eat(t)) throw new ExprError(`expected "${t}" in expression "${src}"`);
  };
  const binLevel = (ops: string[], next: () => Expr): (() => Expr) => {
    return () => {
      let a = next();
      for (;;) {
        const t = peek();
        if (t === undefined || !ops.includes(t)) return a;
        p++;
        a = { k: 'bin', op: t, a, b: next() };
      }
    };
  };
  const primary = (): Expr => {
    const t = toks[p++];
    if (t === undefined) throw new ExprError(`expression "${src}" ends too early`);
    if (t === '(') {
      const e = nested(or);
      expect(')');
      return e;
    }
    if (/^[0-9]/.test(t)) {
      const v = parseNumber(t);
      if (v === undefined) throw new ExprError(`bad number "${t}"`);
      // A literal is a u64 like a C constant: arithmetic wraps, but a literal that cannot be held is a mistake.
      if (v > MASK) throw new ExprError(`number ${t} does not fit in 64 bits`);
      return { k: 'num', v };
    }
    if (t[0] === '"' || t[0] === "'") return { k: 'str', v: t.slice(1, -1) };
    if (/^[A-Za-z_]/.test(t)) {
      if (eat('(')) {
        const args: Expr[] = [];
        if (!eat(')')) {
          do args.push(nested(or));
          while (eat(','));
          expect(')');
        }
        return { k: 'call', fn: t, args };
      }
      return { k: 'var', name: t };
    }
    throw new ExprError(`unexpected "${t}" in expression "${src}"`);
  };
  const postfix = (): Expr => {
    let e = primary();
    for (;;) {
      if (eat('.')) {
        const n = toks[p++];
        if (n === undefined || !/^[A-Za-z_]/.test(n))
          throw new ExprError(`expected a field name after "." in "${src}"`);
        e = { k: 'member', obj: e, name: n };
      } else if (eat('[')) {
        const idx = nested(or);
        expect(']');
        e = { k: 'index', obj: e, idx };
      } else return e;
    }
  };
  const unary = (): Expr => {
    const t = peek();
    if (t === '-' || t === '~' || t === '!') {
      p++;
      return { k: 'un', op: t, a: nested(unary) };
    }
    return postfix();
  };
  const mul = binLevel(['*', '/', '%'], unary);
  const add = binLevel(['+', '-'], mul);
  const shift = binLevel(['<<', '>>'], add);
  const band = binLevel(['&'], shift);
  const bxor = binLevel(['^'], band);
  const bor = binLevel(['|'], bxor);
  const cmp = binLevel(['==', '!=', '<', '<=', '>', '>='], bor);
  const and = binLevel(['&&'], cmp);
  const or = binLevel(['||'], and);
  if (toks.length === 0) throw new ExprError('empty expression');
  const e = or();
  if (p !== toks.length) throw new ExprError(`unexpected "${toks[p]}" in expression "${src}"`);
  return e;
}

export interface Scope {
  lookup(name: string): Value | undefined;
  call?(fn: string, args: Value[]): Value | undefined;
}

const big = (v: Value, what: string): bigint => {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  throw new ExprError(`${what} is not a number`);
};

const BUILTINS: Record<string, (a: Value[]) => Value> = {
  hex: (a) => '0x' + big(a[0]!, 'hex()').toString(16),
  hex16: (a) => '0x' + big(a[0]!, 'hex16()').toString(16).padStart(16, '0'),
  min: (a) => a.map((x) => big(x, 'min()')).reduce((x, y) => (x < y ? x : y)),
  max: (a) => a.map((x) => big(x, 'max()')).reduce((x, y) => (x > y ? x : y)),
  len: (a) => {
    const x = a[0];
    if (Array.isArray(x)) return BigInt(x.length);
    if (typeof x === 'string') return BigInt(x.length);
    throw new ExprError('len() needs a list');
  },
  align_up: (a) => {
    const v = big(a[0]!, 'align_up()');
    const al = big(a[1]!, 'align_up()');
    return (v + al - 1n) & ~(al - 1n) & MASK;
  },
  align_down: (a) => big(a[0]!, 'align_down()') & ~(big(a[1]!, 'align_down()') - 1n),
};

export function evalExpr(e: Expr, scope: Scope): Value {
  switch (e.k) {
    case 'num':
      return e.v;
    case 'str':
      return e.v;
    case 'var': {
      const v = scope.lookup(e.name);
      if (v === undefined) throw new ExprError(`unknown name "${e.name}"`);
      return v;
    }
    case 'call': {
      const args = e.args.map((a) => evalExpr(a, scope));
      const b = BUILTINS[e.fn];
      if (b) return b(args);
      const r = scope.call?.(e.fn, args);
      if (r === undefined) throw new ExprError(`unknown function "${e.fn}"`);
      return r;
    }
    case 'member': {
      const o = evalExpr(e.obj, scope);
      if (typeof o !== 'object' || Array.isArray(o) || o === null)
        throw new ExprError(`".${e.name}" on a value without fields`);
      const v = (o as Record<string, Value>)[e.name];
      if (v === undefined) throw new ExprError(`no field "${e.name}"`);
      return v;
    }
    case 'index': {
      const o = evalExpr(e.obj, scope);
      const i = Number(big(evalExpr(e.idx, scope), 'index'));
      if (!Array.isArray(o)) throw new ExprError('indexing a value that is not a list');
      const v = o[i];
      if (v === undefined) throw new ExprError(`index ${i} out of range (length ${o.length})`);
      return v;
    }
    case 'un': {
      const a = evalExpr(e.a, scope);
      if (e.op === '!') return big(a, 'operand of !') === 0n;
      const x = big(a, `operand of ${e.op}`);
      return e.op === '-' ? -x & MASK : ~x & MASK;
    }
    case 'bin': {
      if (e.op === '&&')
        return big(evalExpr(e.a, scope), '&&') !== 0n && big(evalExpr(e.b, scope), '&&') !== 0n;
      if (e.op === '||')
        return big(evalExpr(e.a, scope), '||') !== 0n || big(evalExpr(e.b, scope), '||') !== 0n;
      const av = evalExpr(e.a, scope);
      const bv = evalExpr(e.b, scope);
      if ((e.op === '==' || e.op === '!=') && typeof av === 'string' && typeof bv === 'string') {
        return e.op === '==' ? av === bv : av !== bv;
      }
      const a = big(av, `left operand of ${e.op}`);
      const b = big(bv, `right operand of ${e.op}`);
      switch (e.op) {
        case '+':
          return (a + b) & MASK;
        case '-':
          return (a - b) & MASK;
        case '*':
          return (a * b) & MASK;
        case '/':
          if (b === 0n) throw new ExprError('division by zero');
          return a / b;
        case '%':
          if (b === 0n) throw new ExprError('division by zero');
          return a % b;
        case '<<':
          return b >= 64n ? 0n : (a << b) & MASK;
        case '>>':
          return b >= 64n ? 0n : a >> b;
        case '&':
          return a & b;
        case '|':
          return a | b;
        case '^':
          return a ^ b;
        case '==':
          return a === b;
        case '!=':
          return a !== b;
        case '<':
          return a < b;
        case '<=':
          return a <= b;
        case '>':
          return a > b;
        case '>=':
          return a >= b;
      }
      throw new ExprError(`unknown operator ${e.op}`);
    }
  }
}

/** A template: literal text with `${expr}` parts. */
export type Template = (string | Expr)[];

export function parseTemplate(src: string): Template {
  const out: Template = [];
  let i = 0;
  while (i < src.length) {
    const j = src.indexOf('${', i);
    if (j < 0) {
      out.push(src.slice(i));
      break;
    }
    if (j > i) out.push(src.slice(i, j));
    const k = src.indexOf('}', j);
    if (k < 0) throw new ExprError(`unclosed "\${" in "${src}"`);
    out.push(parseExpr(src.slice(j + 2, k)));
    i = k + 1;
  }
  return out;
}

export function renderTemplate(t: Template, scope: Scope): string {
  return t
    .map((p) => {
      if (typeof p === 'string') return p;
      const v = evalExpr(p, scope);
      return typeof v === 'bigint' ? v.toString() : typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    })
    .join('');
}

export function truthy(v: Value): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'string') return v.length > 0;
  return true;
}
