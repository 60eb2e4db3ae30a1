/**
 * A small XML reader for configuration files users paste (libvirt domains): elements, attributes,
 * text, comments, CDATA, the five predefined entities and character references; no DTDs, namespaces
 * are kept in the names. A malformed document is an InputError naming the line. Browser-safe.
 */
import { InputError } from './errors.js';

/** One element of the document. */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
  readonly line: number;
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string, source: string, line: number): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#')) {
      const cp = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      if (!(cp <= 0x10ffff)) throw new InputError(`${source}:${line}: ${m} is not a character`);
      return String.fromCodePoint(cp);
    }
    const v = ENTITIES[e];
    if (v === undefined) throw new InputError(`${source}:${line}: unknown entity ${m}`);
    return v;
  });
}

/** Parses an XML document into its root element. */
export function parseXml(text: string, source: string, hint?: string): XmlElement {
  let i = 0;
  let line = 1;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const fail = (what: string): never => {
    throw new InputError(`${source}:${line}: ${what}`, hint ? { hint } : {});
  };
  const advance = (to: number) => {
    for (let k = i; k < to; k++) if (text.charCodeAt(k) === 10) line++;
    i = to;
  };
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) {
      if (text.slice(i).trim() !== '' && stack.length === 0) fail('text after the document');
      if (stack.length) stack[stack.length - 1]!.text += decode(text.slice(i), source, line);
      advance(text.length);
      break;
    }
    if (lt > i) {
      const t = text.slice(i, lt);
      if (stack.length) stack[stack.length - 1]!.text += decode(t, source, line);
      else if (t.trim() !== '') fail('text outside the root element');
      advance(lt);
    }
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) fail('a comment is not closed');
      advance(end + 3);
      continue;
    }
    if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i + 9);
      if (end < 0) fail('a CDATA section is not closed');
      if (stack.length) stack[stack.length - 1]!.text += text.slice(i + 9, end);
      advance(end + 3);
      continue;
    }
    if (text.startsWith('<?', i) || text.startsWith('<!', i)) {
      const end = text.indexOf('>', i);
      if (end < 0) fail('a declaration is not closed');
      advance(end + 1);
      continue;
    }
    if (text.startsWith('</', i)) {
      const m = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(text.slice(i, i + 300));
      if (!m) fail('a malformed closing tag');
      const open = stack.pop();
      if (!open || open.name !== m![1])
        fail(`</${m![1]}> closes ${open ? `<${open.name}> (line ${open.line})` : 'nothing'}`);
      advance(i + m![0].length);
      continue;
    }
    const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(
      text.slice(i, i + 20000),
    );
    if (!m) fail('a malformed tag');
    const attrs: Record<string, string> = {};
    for (const a of m![2]!.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g))
      attrs[a[1]!] = decode(a[2] ?? a[3] ?? '', source, line);
    const el: XmlElement = { name: m![1]!, attrs, children: [], text: '', line };
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else if (root) fail('a second root element');
    else root = el;
    if (m![3] !== '/') stack.push(el);
    advance(i + m![0].length);
  }
  if (stack.length)
    throw new InputError(
      `${source}: <${stack[stack.length - 1]!.name}> (line ${stack[stack.length - 1]!.line}) is not closed`,
    );
  if (!root)
    throw new InputError(`${source}: empty document`, { hint: 'give the output of "virsh dumpxml DOMAIN"' });
  return root;
}

/** The first child element called `name`. */
export function child(e: XmlElement | undefined, name: string): XmlElement | undefined {
  return e?.children.find((c) => c.name === name);
}

/** Every child element called `name`. */
export function children(e: XmlElement | undefined, name: string): XmlElement[] {
  return e?.children.filter((c) => c.name === name) ?? [];
}
