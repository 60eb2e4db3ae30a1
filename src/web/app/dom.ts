/** A tiny DOM builder: el('div', { class: 'x' }, 'text', child). Attributes are strings; '' = boolean. */
export function el(
  tag: string,
  attrs: Record<string, string> = {},
  ...children: (Node | string | undefined)[]
): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) {
    if (c === undefined || c === '') continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

export function $(sel: string): HTMLElement {
  const e = document.querySelector<HTMLElement>(sel);
  if (!e) throw new Error(`missing element ${sel}`);
  return e;
}
