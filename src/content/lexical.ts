/**
 * Post content: a small renderer from Ghost's Lexical JSON to HTML, the HTML → Lexical wrap used
 * by `?source=html`, and the plaintext / word-count helpers behind `plaintext`, `excerpt` and
 * `reading_time`. Deliberately small: it covers the nodes Ghost's editor writes for prose (root,
 * paragraph, heading, quote, list, listitem, text, extended-text, linebreak, link, html card);
 * anything else renders its children, or nothing.
 */
import {validationError} from '../lib/errors.ts';

/** A Lexical node as stored: a JSON object with a `type`; everything else is per type. */
export type LexicalNode = {readonly type?: unknown; readonly children?: unknown; readonly [key: string]: unknown};

/** A parsed Lexical document: `{"root": {"type": "root", "children": [...]}}`. */
export interface LexicalDocument {
  readonly root: LexicalNode;
}

/** Text format bits, as Lexical stores them in `format` (a bit set). */
const FORMAT_TAGS: ReadonlyArray<readonly [number, string]> = [
  // Applied inner-most first, so bold+italic renders `<strong><em>…</em></strong>`.
  [16, 'code'],
  [64, 'sup'],
  [32, 'sub'],
  [8, 'u'],
  [4, 's'],
  [2, 'em'],
  [1, 'strong'],
];

/**
 * Parses the `lexical` property of a post body (a JSON string). Throws a 422 naming `lexical`
 * when the text is not JSON or not a Lexical document (an object with a `root` object).
 */
export function parseLexical(text: string): LexicalDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw validationError('lexical', `lexical must be a JSON string: ${(error as Error).message}`);
  }
  const root = (parsed as {root?: unknown} | null)?.root;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw validationError('lexical', 'lexical must be a Lexical document: {"root": {"children": [...]}}.');
  }
  return parsed as LexicalDocument;
}

/** Renders a Lexical document to HTML. Text is escaped; html cards are passed through as written. */
export function renderLexical(document: LexicalDocument): string {
  return renderNode(document.root);
}

/**
 * Wraps HTML into a Lexical document holding one html card, which is what `?source=html`
 * stores: rendering it gives the HTML back unchanged, so `html` and `lexical` never disagree.
 */
export function htmlToLexical(html: string): string {
  return JSON.stringify({
    root: {
      children: [{type: 'html', version: 1, html}],
      direction: null,
      format: '',
      indent: 0,
      type: 'root',
      version: 1,
    },
  });
}

function renderChildren(node: LexicalNode): string {
  if (!Array.isArray(node.children)) return '';
  return node.children.map((child: unknown) => (child !== null && typeof child === 'object' ? renderNode(child as LexicalNode) : '')).join('');
}

function renderNode(node: LexicalNode): string {
  switch (node.type) {
    case 'root':
      return renderChildren(node);
    case 'paragraph':
      return `<p>${renderChildren(node)}</p>`;
    case 'heading': {
      // The tag comes from the document: only h1-h6 are trusted, anything else becomes h2.
      const tag = typeof node.tag === 'string' && /^h[1-6]$/.test(node.tag) ? node.tag : 'h2';
      return `<${tag}>${renderChildren(node)}</${tag}>`;
    }
    case 'quote':
      return `<blockquote>${renderChildren(node)}</blockquote>`;
    case 'list': {
      const ordered = node.listType === 'number';
      const start = ordered && typeof node.start === 'number' && Number.isInteger(node.start) && node.start !== 1 ? ` start="${node.start}"` : '';
      return ordered ? `<ol${start}>${renderChildren(node)}</ol>` : `<ul>${renderChildren(node)}</ul>`;
    }
    case 'listitem':
      return `<li>${renderChildren(node)}</li>`;
    case 'text':
    case 'extended-text':
      return renderText(node);
    case 'linebreak':
      return '<br>';
    case 'link':
    case 'autolink': {
      const href = typeof node.url === 'string' ? ` href="${escapeHtml(node.url)}"` : '';
      const target = typeof node.target === 'string' && node.target ? ` target="${escapeHtml(node.target)}"` : '';
      const rel = typeof node.rel === 'string' && node.rel ? ` rel="${escapeHtml(node.rel)}"` : '';
      return `<a${href}${target}${rel}>${renderChildren(node)}</a>`;
    }
    case 'html':
      // An html card is raw HTML by design (Ghost's editor trusts staff the same way).
      return typeof node.html === 'string' ? node.html : '';
    default:
      // Unknown nodes keep their text rather than silently dropping content.
      return renderChildren(node);
  }
}

function renderText(node: LexicalNode): string {
  let html = escapeHtml(typeof node.text === 'string' ? node.text : '');
  const format = typeof node.format === 'number' ? node.format : 0;
  for (const [bit, tag] of FORMAT_TAGS) {
    if (format & bit) html = `<${tag}>${html}</${tag}>`;
  }
  return html;
}

/** Escapes text for use in HTML content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!);
}

/** Block-level elements: their boundaries become line breaks in plaintext. */
const BLOCK_TAGS = 'p|div|h[1-6]|blockquote|ul|ol|li|pre|figure|figcaption|table|thead|tbody|tr|hr|section|article|header|footer|aside|nav|dl|dt|dd';

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  copy: '©',
  reg: '®',
  trade: '™',
};

/** Decodes numeric entities and the common named ones; unknown entities stay as written. */
export function decodeEntities(text: string): string {
  // One pass, so `&amp;lt;` decodes to `&lt;` and not further.
  return text.replace(/&(#[0-9]+|#x[0-9a-f]+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith('#')) {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/**
 * HTML → plaintext, as stored in `plaintext`: scripts, styles and comments dropped, tags
 * stripped, entities decoded, whitespace collapsed; blocks are separated by a blank line and
 * `<br>` by a newline (Ghost's plaintext keeps paragraphs apart the same way).
 */
export function htmlToPlaintext(html: string): string {
  const text = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(new RegExp(`</?(?:${BLOCK_TAGS})\\b[^>]*>`, 'gi'), '\n\n')
    .replace(/<[^>]*>/g, '');
  return decodeEntities(text)
    .replace(/[^\S\n]+/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Counts words in plaintext (runs of non-space characters holding a letter or digit). */
export function countWords(text: string): number {
  let count = 0;
  for (const word of text.split(/\s+/)) if (/[\p{L}\p{N}]/u.test(word)) count++;
  return count;
}

/** Ghost's reading speed, words per minute. */
export const WORDS_PER_MINUTE = 275;

/** Minutes to read `plaintext` (rounded; 0 for very short texts, as Ghost shows it). */
export function readingTime(plaintext: string | null): number {
  return plaintext ? Math.round(countWords(plaintext) / WORDS_PER_MINUTE) : 0;
}

/** Longest generated excerpt, in characters. */
export const EXCERPT_LENGTH = 500;

/** `custom_excerpt`, else the first 500 characters of plaintext on one line; null when neither exists. */
export function excerptOf(customExcerpt: string | null, plaintext: string | null): string | null {
  if (customExcerpt !== null && customExcerpt !== '') return customExcerpt;
  if (!plaintext) return null;
  // Ghost's generated excerpt joins the paragraphs with spaces before cutting.
  const oneLine = plaintext.replace(/(\r\n|\n|\r)+/g, ' ');
  return Array.from(oneLine).slice(0, EXCERPT_LENGTH).join('');
}
