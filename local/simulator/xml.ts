import type { PushFields, PushValue } from './types';

/**
 * The XML WeChat writes and reads on the platform's push URLs: payloads with strings in CDATA and numbers
 * bare (`<xml><CreateTime>1413192605</CreateTime><InfoType><![CDATA[…]]></InfoType></xml>`), and the
 * strict reader the simulator checks the service's passive replies with. Written here rather than taken
 * from `fast-xml-parser`, which the service parses with, so that a leniency of that parser cannot hide a
 * reply WeChat would refuse.
 *
 * @see ../../docs/wechat-protocol.md §4.2 and §5.5
 */

const ELEMENT_NAME = /^[A-Za-z_][\w.-]*$/;

/** A CDATA section holding `value`; a `]]>` inside is split over two sections. */
export const cdata = (value: string) => `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

function element(name: string, value: PushValue): string {
  if (!ELEMENT_NAME.test(name)) throw new TypeError(`invalid XML element name: ${name}`);
  if (Array.isArray(value)) return value.map((item) => element(name, item)).join('');
  let inner: string;
  if (typeof value === 'number') inner = String(value);
  else if (typeof value === 'string') inner = cdata(value);
  else {
    inner = Object.entries(value as PushFields)
      .map(([child, v]) => element(child, v))
      .join('');
  }
  return `<${name}>${inner}</${name}>`;
}

/** `<xml>…</xml>` with strings in CDATA and numbers bare, as WeChat's pushes are; objects nest. */
export function payloadXml(fields: PushFields): string {
  return element('xml', fields);
}

/** What {@link readXml} gives: text for a leaf, an object for children, an array for a repeated element. */
export type XmlValue = string | XmlFields | XmlValue[];
export type XmlFields = { [element: string]: XmlValue };

/** A document {@link readXml} refuses, with where and why. */
export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
}

const ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};
const DECLARATION = /^\s*<\?xml[^?]*\?>/;
const OPEN_TAG = /<([A-Za-z_][\w.-]*)\s*(\/?)>/y;

/**
 * Reads a `<xml>` document as WeChat writes it: elements without attributes, each holding text (plain,
 * entity-escaped or CDATA) or child elements, never both; whitespace between elements; an optional XML
 * declaration. A repeated child becomes an array.
 *
 * @throws XmlSyntaxError for anything else: another root, attributes, mismatched or unclosed tags, text
 *   beside child elements, trailing content.
 */
export function readXml(text: string): XmlFields {
  const start = DECLARATION.exec(text)?.[0].length ?? 0;
  const reader = new Reader(text, start);
  reader.skipSpace();
  const [root, value] = reader.element();
  reader.skipSpace();
  if (reader.pos !== text.length) reader.fail('content after the root element');
  if (root !== 'xml') reader.fail(`root element is <${root}>, not <xml>`);
  if (typeof value === 'string') {
    if (value.trim() !== '') reader.fail('<xml> holds text, not elements');
    return {};
  }
  return value as XmlFields;
}

class Reader {
  constructor(
    readonly text: string,
    public pos: number
  ) {}

  fail(why: string): never {
    throw new XmlSyntaxError(`${why} (at character ${this.pos})`);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos++;
  }

  element(): [string, XmlValue] {
    OPEN_TAG.lastIndex = this.pos;
    const open = OPEN_TAG.exec(this.text);
    if (!open) this.fail('expected an element without attributes');
    const name = open[1] as string;
    if (name === '__proto__') this.fail('an element named __proto__');
    this.pos = OPEN_TAG.lastIndex;
    if (open[2] === '/') return [name, ''];
    const afterOpen = this.pos;
    this.skipSpace();
    if (this.text.startsWith('<', this.pos) && !this.#atTextMarkup()) {
      return [name, this.#children(name)];
    }
    this.pos = afterOpen;
    const value = this.#text();
    this.#close(name);
    return [name, value];
  }

  #atTextMarkup(): boolean {
    return this.text.startsWith('<![CDATA[', this.pos) || this.text.startsWith('</', this.pos);
  }

  #children(parent: string): XmlFields {
    const fields: XmlFields = {};
    const repeated = new Set<string>();
    while (!this.text.startsWith('</', this.pos)) {
      if (this.pos >= this.text.length) this.fail(`<${parent}> is not closed`);
      const [name, value] = this.element();
      if (!Object.hasOwn(fields, name)) fields[name] = value;
      else if (repeated.has(name)) (fields[name] as XmlValue[]).push(value);
      else {
        fields[name] = [fields[name] as XmlValue, value];
        repeated.add(name);
      }
      this.skipSpace();
    }
    this.#close(parent);
    return fields;
  }

  #text(): string {
    let value = '';
    for (;;) {
      if (this.text.startsWith('</', this.pos)) return value;
      if (this.pos >= this.text.length) this.fail('unclosed element');
      if (this.text.startsWith('<![CDATA[', this.pos)) {
        const end = this.text.indexOf(']]>', this.pos);
        if (end < 0) this.fail('unclosed CDATA section');
        value += this.text.slice(this.pos + 9, end);
        this.pos = end + 3;
      } else if (this.text[this.pos] === '<') {
        this.fail('an element beside text');
      } else if (this.text[this.pos] === '&') {
        value += this.#entity();
      } else {
        const next = this.text.slice(this.pos).search(/[<&]/);
        const stop = next < 0 ? this.text.length : this.pos + next;
        value += this.text.slice(this.pos, stop);
        this.pos = stop;
      }
    }
  }

  #entity(): string {
    const match = /^&(lt|gt|amp|quot|apos|#\d+|#x[0-9A-Fa-f]+);/.exec(this.text.slice(this.pos));
    if (!match) this.fail('an unknown or unterminated entity');
    this.pos += match[0].length;
    const name = match[1] as string;
    if (!name.startsWith('#')) return ENTITIES[name] as string;
    const code = name.startsWith('#x') ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
    if (code > 0x10ffff) this.fail('a character reference out of range');
    return String.fromCodePoint(code);
  }

  #close(name: string): void {
    const tag = `</${name}>`;
    if (!this.text.startsWith(tag, this.pos)) this.fail(`expected ${tag}`);
    this.pos += tag.length;
  }
}
