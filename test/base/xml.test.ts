/** The small XML reader libvirt domains are read with. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IovamapError } from '../../src/base/errors.js';
import { child, children, parseXml } from '../../src/base/xml.js';

test('elements, attributes, entities, comments, CDATA', () => {
  const r = parseXml(
    "<?xml version='1.0'?>\n<a x='1 &amp; 2'><!-- c --><b>&lt;t&gt;<![CDATA[<raw>]]></b><c/><b y=\"&#x41;\"/></a>",
    'f',
  );
  assert.equal(r.attrs['x'], '1 & 2');
  assert.equal(child(r, 'b')!.text, '<t><raw>');
  assert.equal(children(r, 'b').length, 2);
  assert.equal(children(r, 'b')[1]!.attrs['y'], 'A');
  assert.equal(child(r, 'c')!.line, 2);
  assert.equal(child(r, 'none'), undefined);
});

test('mistakes name the line, and carry the hint given', () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(
      () => parseXml(text, 'f.xml', 'a hint'),
      (e: unknown) => e instanceof IovamapError && re.test(e.message),
      text,
    );
  bad('<a>\n<b></a>', /^f\.xml:2: <\/a> closes <b> \(line 2\)/);
  bad('<a>\n<b>', /<b> \(line 2\) is not closed/);
  bad('<a/><b/>', /a second root element/);
  bad('text', /text after the document|empty document/);
  bad('<a>&nope;</a>', /unknown entity &nope;/);
  bad('<a>&#x110000;</a>', /&#x110000; is not a character/);
  bad('<a><!-- open</a>', /a comment is not closed/);
  bad('<a x=1/>', /a malformed tag/);
  bad('', /empty document/);
});
