/**
 * Reading a YAML or JSON file into a "located" tree: every map, list and scalar keeps the 1-based line
 * it came from, so a validator can say `file:line: field: problem`. JSON is read by the same YAML 1.2
 * parser (JSON is a subset), so both formats give the same errors with the same line numbers.
 *
 * Integers are read as bigint (`intAsBigInt`), so 64-bit addresses written as YAML ints never lose
 * precision on the way in.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { InputError, assertTextInput } from '../base/errors.js';

export type ScalarValue = string | number | bigint | boolean | null;

export interface LEntry {
  readonly key: string;
  readonly keyLine: number;
  readonly value: LNode;
}

export type LNode =
  | { readonly kind: 'map'; readonly line: number; readonly entries: readonly LEntry[] }
  | { readonly kind: 'seq'; readonly line: number; readonly items: readonly LNode[] }
  | { readonly kind: 'scalar'; readonly line: number; readonly value: ScalarValue };

/** Parses `text` (YAML or JSON). Syntax errors name the file and line. */
const MAX_ALIAS_EXPANSIONS = 10_000;

export function parseLocated(text: string, file: string): LNode {
  assertTextInput(text, file, /\.json$/i.test(file) ? 'JSON' : 'YAML');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, intAsBigInt: true, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const pos = lineCounter.linePos(err.pos[0]);
    const firstLine = err.message.split('\n')[0] ?? err.message;
    throw new InputError(`syntax error: ${firstLine.replace(/ at line \d+, column \d+.*$/, '')}`, {
      file,
      line: pos.line,
    });
  }
  const lineOf = (n: { range?: [number, number, number] | null } | null | undefined, fallback: number) =>
    n && n.range ? lineCounter.linePos(n.range[0]).line : fallback;
  // Aliases are expanded into copies: bound the expansions, or nested aliases ("billion laughs") make
  // the copy exponential in the file's size.
  let aliases = 0;
  const convert = (node: unknown, fallbackLine: number, depth: number): LNode => {
    if (depth > 64) throw new InputError('nesting too deep', { file, line: fallbackLine });
    if (node === null || node === undefined) return { kind: 'scalar', line: fallbackLine, value: null };
    if (isAlias(node)) {
      if (++aliases > MAX_ALIAS_EXPANSIONS)
        throw new InputError(
          `too many YAML alias expansions (more than ${MAX_ALIAS_EXPANSIONS}): aliases nested in aliases grow exponentially`,
          {
            file,
            line: lineOf(node, fallbackLine),
            hint: 'write the repeated parts out, or alias less deeply',
          },
        );
      const target = node.resolve(doc as Document) as YamlNode | undefined;
      return convert(target, lineOf(node, fallbackLine), depth + 1);
    }
    if (isMap(node)) {
      const line = lineOf(node, fallbackLine);
      const entries: LEntry[] = [];
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const keyLine = lineOf(keyNode as { range?: [number, number, number] }, line);
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        entries.push({ key, keyLine, value: convert(pair.value, keyLine, depth + 1) });
      }
      return { kind: 'map', line, entries };
    }
    if (isSeq(node)) {
      const line = lineOf(node, fallbackLine);
      return { kind: 'seq', line, items: node.items.map((it) => convert(it, line, depth + 1)) };
    }
    if (isScalar(node)) {
      const v = node.value;
      const line = lineOf(node, fallbackLine);
      if (
        v === null ||
        typeof v === 'string' ||
        typeof v === 'number' ||
        typeof v === 'bigint' ||
        typeof v === 'boolean'
      ) {
        return { kind: 'scalar', line, value: v };
      }
      return { kind: 'scalar', line, value: String(v) };
    }
    return { kind: 'scalar', line: fallbackLine, value: null };
  };
  return convert(doc.contents, 1, 0);
}
