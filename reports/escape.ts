// The one escaping function every value from a history, result or log passes through before it enters HTML or SVG.

const replacements: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/**
 * Makes any value safe as HTML text, as a quoted attribute value (single or double quotes) and as SVG
 * text: the five characters HTML gives meaning to (and the backtick old browsers treat as a quote) become
 * entities. Non-strings are first rendered as display text (JSON for objects). Control characters other
 * than tab and newline are dropped, since no history value should smuggle them into the page.
 */
export function escapeHtml(value: unknown): string {
  const text = typeof value === 'string' ? value : displayText(value);
  return text.replace(/[&<>"'`]|[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, (character) => replacements[character] ?? '');
}

/** A value as a person reads it: strings as they are, everything else as compact JSON (undefined as "—"). */
export function displayText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '—';
  if (typeof value === 'bigint') return value.toString();
  try {
    const json = JSON.stringify(value);
    return json === undefined ? String(value) : json;
  } catch {
    return String(value);
  }
}

/** Shortens long display text for tables and labels; the full value stays available in a title tooltip. */
export function truncateText(text: string, maximumCharacters: number): string {
  return text.length <= maximumCharacters ? text : `${text.slice(0, Math.max(0, maximumCharacters - 1))}…`;
}

/** A relative link target from path segments: each segment percent-encoded, so no segment can act as a scheme or a query. */
export function relativeHref(segments: readonly string[]): string {
  return `./${segments.map((segment) => encodeURIComponent(segment)).join('/')}`;
}
