// A strict well-formedness check of XML for the tests of junit.xml (no XML parser is a dependency of Faultline):
// the subset junit.xml uses, parsed into elements, refusing anything an XML 1.0 parser would refuse in it.
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * A strict parser for the XML subset junit.xml uses (a declaration, elements, attributes, text, the five named
 * entities and numeric references): throws on anything not well-formed: a raw `<` or `&` in text, an unquoted or
 * unterminated attribute, a duplicate attribute, a character XML 1.0 forbids, tags that do not nest.
 */
export function parseXml(text: string): XmlElement {
  let position = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at ${position}: ${why}`);
  };
  for (let index = 0; index < text.length; index++) {
    const code = text.codePointAt(index)!;
    if (code > 0xffff) index++;
    const allowed = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
    if (!allowed) {
      position = index;
      fail(`character U+${code.toString(16)} is not allowed in XML 1.0`);
    }
  }
  const decode = (raw: string): string => raw.replace(/&([^;]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) fail(`bare & in ${JSON.stringify(raw.slice(0, 40))}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (name in named) return named[name];
    const numeric = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(name);
    if (!numeric) return fail(`unknown entity &${name};`);
    return String.fromCodePoint(numeric[1].startsWith('x') ? parseInt(numeric[1].slice(1), 16) : Number(numeric[1]));
  });
  const skipSpace = () => {
    while (/\s/.test(text[position] ?? '')) position++;
  };
  if (text.startsWith('<?xml')) {
    const end = text.indexOf('?>');
    if (end < 0) fail('unterminated declaration');
    position = end + 2;
  }
  skipSpace();
  const element = (): XmlElement => {
    if (text[position] !== '<') fail('expected <');
    position++;
    const name = /^[A-Za-z_][\w.-]*/.exec(text.slice(position))?.[0] ?? fail('expected an element name');
    position += name.length;
    const node: XmlElement = { name, attributes: {}, children: [], text: '' };
    for (;;) {
      skipSpace();
      if (text.startsWith('/>', position)) {
        position += 2;
        return node;
      }
      if (text[position] === '>') {
        position++;
        break;
      }
      const attribute = /^([A-Za-z_][\w.-]*)\s*=\s*(["'])/.exec(text.slice(position)) ?? fail('expected a quoted attribute');
      position += attribute[0].length;
      const end = text.indexOf(attribute[2], position);
      if (end < 0) fail('unterminated attribute');
      const raw = text.slice(position, end);
      if (raw.includes('<')) fail('< in an attribute value');
      if (attribute[1] in node.attributes) fail(`duplicate attribute ${attribute[1]}`);
      node.attributes[attribute[1]] = decode(raw);
      position = end + 1;
    }
    for (;;) {
      const next = text.indexOf('<', position);
      if (next < 0) fail(`unclosed <${name}>`);
      node.text += decode(text.slice(position, next));
      position = next;
      if (text.startsWith('</', position)) {
        const close = new RegExp(`^</${name}\\s*>`).exec(text.slice(position)) ?? fail(`expected </${name}>`);
        position += close[0].length;
        return node;
      }
      node.children.push(element());
    }
  };
  const root = element();
  skipSpace();
  if (position !== text.length) fail('content after the root element');
  return root;
}

