// Proves the one escaping function makes any value inert in HTML text, quoted attributes and SVG text: examples and a fast-check property.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { escapeHtml, displayText, relativeHref } from './escape.js';

/** Undoes exactly the entities escapeHtml writes, to check nothing else was changed. */
function unescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_, name: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#96': '`' })[name] ?? '');
}

describe('escapeHtml', () => {
  it('turns script and event-handler markup into text', () => {
    expect(escapeHtml('<script>alert(1)</script>')).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(escapeHtml('<img src=x onerror="alert(1)">')).toBe('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
  });

  it('closes no attribute, single or double quoted', () => {
    expect(escapeHtml(`" onmouseover="alert(1)`)).not.toContain('"');
    expect(escapeHtml(`' onmouseover='alert(1)`)).not.toContain("'");
    expect(escapeHtml('`x`')).not.toContain('`');
  });

  it('escapes ampersands so existing entities stay literal', () => {
    expect(escapeHtml('&lt;b&gt;')).toBe('&amp;lt;b&amp;gt;');
  });

  it('renders non-strings as JSON before escaping', () => {
    expect(escapeHtml({ value: '<b>' })).toBe('{&quot;value&quot;:&quot;&lt;b&gt;&quot;}');
    expect(escapeHtml(null)).toBe('null');
    expect(escapeHtml(undefined)).toBe('—');
    expect(escapeHtml(12)).toBe('12');
    expect(displayText([1, '</svg>'])).toBe('[1,"</svg>"]');
  });

  it('drops control characters but keeps tabs and newlines', () => {
    expect(escapeHtml('a\u0000b\u0007c\td\ne')).toBe('abc\td\ne');
  });

  it('property: the output has no markup character and decodes back to the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const escaped = escapeHtml(text);
        expect(escaped).not.toMatch(/[<>"'`]/);
        // Every ampersand left starts one of our entities.
        expect(escaped.replace(/&(amp|lt|gt|quot|#39|#96);/g, '')).not.toContain('&');
        expect(unescape(escaped)).toBe(text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, ''));
      }),
      { numRuns: 200 },
    );
  });
});

describe('relativeHref', () => {
  it('encodes each segment, so a segment cannot become a scheme, a query or a parent', () => {
    expect(relativeHref(['javascript:alert(1)', 'x.log'])).toBe('./javascript%3Aalert(1)/x.log');
    expect(relativeHref(['a?b#c', 'd'])).toBe('./a%3Fb%23c/d');
    expect(relativeHref(['nodes', 'n1', 'n1.log'])).toBe('./nodes/n1/n1.log');
  });
});
