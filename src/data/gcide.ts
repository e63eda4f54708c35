/**
 * The GNU Collaborative International Dictionary of English (GCIDE) as dictd files: the
 * `.index` (headword, base64 offset, base64 length into the uncompressed text), the entry text,
 * and its definitions as (headwords, definition) pairs; the compact definitions file kept in the
 * cache. Browser-safe: everything here parses strings and bytes; fetching and reading files lives
 * in `gcideFiles.ts`.
 *
 * What an entry gives: the headwords of its head line (`Banc \Banc\, Bank \Bank\, n. …` names
 * both), one definition per numbered or lettered sense (or the unnumbered definition), and one per
 * run-in phrase (`{Apple of discord}, a subject of contention …`, labelled with the phrase). Left
 * out: pronunciations, parts of speech and etymologies (the head), source markers (`[1913
 * Webster]`), bracketed notes (`[Obs.]`), leading field labels (`(Zool.)`), quotations and their
 * `--Author` citations, Webster's examples after `; as,`, run-on derived forms (`-- Lex"ic*al*ly,
 * adv.`), bare cross references (`See under Apple.`) and the `Note:`, `Syn:` and `Usage:`
 * paragraphs; dictd's meta entries (`00-database-*`) are skipped.
 * @module
 */
import { DataFormatError } from '../core/errors.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Decodes a dictd index number: base64 digits (`A-Za-z0-9+/`, values 0–63), most significant
 * first. Returns -1 for an empty string or a character outside the alphabet.
 */
export function decodeDictNumber(s: string): number {
  if (s === '') return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const d = B64.indexOf(s[i]!);
    if (d < 0) return -1;
    v = v * 64 + d;
  }
  return v;
}

/** One line of a dictd `.index` file. */
export interface DictIndexEntry {
  /** The headword as the index writes it. */
  readonly headword: string;
  /** Byte offset of the entry in the uncompressed text. */
  readonly offset: number;
  /** Byte length of the entry. */
  readonly length: number;
}

/**
 * Parses the lines of a dictd `.index` file (`headword TAB offset TAB length`, base64 numbers);
 * blank lines are skipped.
 * @throws DataFormatError with the line number for a line without three fields or a bad number
 */
export function parseDictIndex(lines: Iterable<string>, source = 'gcide.index'): DictIndexEntry[] {
  const out: DictIndexEntry[] = [];
  let n = 0;
  for (const line of lines) {
    n++;
    if (line === '') continue;
    const f = line.split('\t');
    if (f.length !== 3) throw new DataFormatError(source, n, `expected 'headword<TAB>offset<TAB>length', got ${f.length} tab-separated fields`);
    const offset = decodeDictNumber(f[1]!);
    const length = decodeDictNumber(f[2]!);
    if (offset < 0 || length < 0) throw new DataFormatError(source, n, `offset '${f[1]}' or length '${f[2]}' is not a dictd base64 number (digits A-Za-z0-9+/)`);
    out.push({ headword: f[0]!, offset, length });
  }
  return out;
}

/**
 * The normalized form of a headword (the label of the reverse dictionary): lower-case, WordNet's
 * `_` and runs of blanks as one space, GCIDE's stress and syllable marks (`"`, `` ` ``, `*`)
 * dropped, trimmed.
 */
export function normalizeHeadword(h: string): string {
  return h.replace(/["`*]/g, '').replace(/[_\s]+/g, ' ').trim().toLowerCase();
}

/** GCIDE's bracketed character entities that stand for letters (the letter is kept). */
const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  ae: 'ae', AE: 'AE', oe: 'oe', OE: 'OE', add: 'a', udd: 'u', asl: 'a', eth: 'th', thorn: 'th', ng: 'ng', th: 'th',
  imac: 'i', aum: 'a', eum: 'e', ium: 'i', oum: 'o', uum: 'u', yogh: 'y', root: '', deg: ' degrees', sect: '',
};

/**
 * Replaces GCIDE's bracketed letter entities (`['e]`, `[=a]`, `[a^]`, `[ae]`, `[aum]`, …) by
 * their letters, so that a word like `caf['e]` reads `cafe`; other bracketed text is left.
 */
export function replaceEntities(s: string): string {
  return s.replace(/\[([^\]\s]{1,6})\]/g, (m, inner: string) => {
    const named = NAMED_ENTITIES[inner];
    if (named !== undefined) return named;
    let r = /^['=.~\-"`^,*]([a-zA-Z]{1,2})$/.exec(inner);
    if (r) return r[1]!;
    r = /^([a-zA-Z]{1,2})[\^'`~]$/.exec(inner);
    if (r) return r[1]!;
    return m;
  });
}

/**
 * Plain text of a definition: letter entities resolved, bracketed notes and source markers
 * removed, braces (cross references, names) kept as words, a leading field label (`(Zool.)`)
 * removed, quotations with `--Author` citations and Webster's examples (from `; as,` on) cut,
 * blanks collapsed. Returns '' when nothing is left.
 */
export function cleanDefinition(raw: string): string {
  let s = replaceEntities(raw);
  // bracketed notes ([Obs.], [R.], [1913 Webster]); nested brackets are rare, remove innermost first
  for (let i = 0; i < 3; i++) s = s.replace(/\[[^[\]]*\]/g, ' ');
  s = s.replace(/[{}]/g, '').replace(/\s+/g, ' ').trim();
  // quoted examples with their citation, then any remaining citation
  s = s.replace(/"[^"]*"\s*--[^"]*?(?=$|")/g, ' ').replace(/\s--[A-Z].*$/s, ' ');
  const as = s.search(/[;:,]\s+as,\s/);
  if (as > 0) s = s.slice(0, as);
  // run-on derived forms (`-- Lex"ic*al*ly, adv.`)
  const derived = s.search(/\s--\s[A-Za-z]*["*`][^\s,]*,/);
  if (derived > 0) s = s.slice(0, derived);
  s = s.replace(/^\s*\([^)]{1,40}\)\s*,?/, ' ');
  s = s.replace(/\s+/g, ' ').trim();
  s = s.replace(/^[;,:.\s]+/, '').replace(/[;,:\s]+$/, '');
  // bare cross references (`See under Apple.`, `Same as Banc.`) define nothing by themselves
  if (/^(see|same as|cf\.)\s/i.test(s) && s.split(' ').length <= 5) return '';
  return /[A-Za-z0-9]/.test(s) ? s : '';
}

/** One definition: the headwords it defines (normalized) and its text. */
export interface Definition {
  /** Normalized headwords ({@link normalizeHeadword}); a WordNet gloss names all lemmas of its synset. */
  readonly headwords: readonly string[];
  /** The definition's plain text. */
  readonly text: string;
}

const SENSE = /^(\d+\.|\([a-z]\))\s+/;
const SKIP_PARAGRAPH = /^(Note|Syn|Usage|Syn\.|Note\.)\s*:/;

/** Headwords of an entry's head line (`Word \pron\, Other \pron\, n. …`), normalized. */
export function headLineWords(line: string): string[] {
  const out: string[] = [];
  const re = /(?:^|,\s*|\s+or\s+)([^\\,{}[\]]+?)\s*\\[^\\]*\\/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) {
    const w = normalizeHeadword(replaceEntities(m[1]!));
    if (w !== '' && !out.includes(w)) out.push(w);
  }
  return out;
}

/** Names of a run-in phrase paragraph (`{A}, or {B} (Zool.), definition`), normalized, and where its text starts. */
function phraseHead(p: string): { names: string[]; rest: string } | null {
  const m = /^((?:\{[^{}]+\}\s*(?:,?\s+or\s+|,\s*)?)+)(\([^)]{1,40}\))?\s*,?\s*/.exec(p);
  if (!m) return null;
  const names: string[] = [];
  for (const b of m[1]!.matchAll(/\{([^{}]+)\}/g)) {
    let w = normalizeHeadword(replaceEntities(b[1]!));
    w = w.replace(/^to /, '');
    if (w !== '' && !names.includes(w)) names.push(w);
  }
  return names.length > 0 ? { names, rest: p.slice(m[0].length) } : null;
}

/**
 * The definitions of one GCIDE entry (the text an index line points to). `fallback` names the
 * entry when its head line has no `\pronunciation\` marks (the index headword).
 */
export function parseGcideEntry(text: string, fallback = ''): Definition[] {
  const lines = text.replace(/\r/g, '').split('\n');
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  if (lines.length === 0) return [];
  const headLine = lines[0]!;
  let heads = headLineWords(headLine);
  if (heads.length === 0 && fallback !== '') heads = [normalizeHeadword(fallback)];
  if (heads.length === 0) return [];
  // the head: line 0 and the lines that continue its brackets (etymology, inflections)
  let depth = 0;
  const bump = (l: string): void => {
    for (const ch of l) {
      if (ch === '[') depth++;
      else if (ch === ']') depth = Math.max(0, depth - 1);
    }
  };
  bump(headLine);
  let i = 1;
  while (i < lines.length && lines[i]!.trim() !== '' && (depth > 0 || /^\s*[[(]/.test(lines[i]!))) {
    bump(lines[i]!);
    i++;
  }
  // the rest as paragraphs of (indent, text)
  const paragraphs: { indent: number; lines: string[] }[] = [];
  let cur: { indent: number; lines: string[] } | null = null;
  for (; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() === '' || /^\s*\[[^\]]*\]\s*$/.test(l)) {
      if (l.trim() === '') cur = null;
      continue;
    }
    const indent = l.length - l.trimStart().length;
    if (cur === null) {
      cur = { indent, lines: [] };
      paragraphs.push(cur);
    }
    cur.lines.push(l);
  }
  const out: Definition[] = [];
  const add = (headwords: readonly string[], raw: string): void => {
    const t = cleanDefinition(raw);
    if (t !== '') out.push({ headwords, text: t });
  };
  for (const p of paragraphs) {
    if (p.indent > 4) continue; // quotations, continued notes
    const first = p.lines[0]!.trim();
    if (SKIP_PARAGRAPH.test(first)) continue;
    if (first.startsWith('{')) {
      const ph = phraseHead(p.lines.map((l) => l.trim()).join(' '));
      if (ph) add(ph.names, ph.rest);
      continue;
    }
    // senses: lines at the paragraph's indent starting with "1." or "(a)"; otherwise one definition
    let sense: string[] = [];
    const flush = (): void => {
      if (sense.length > 0) add(heads, sense.join(' '));
      sense = [];
    };
    for (const l of p.lines) {
      const indent = l.length - l.trimStart().length;
      const t = l.trim();
      if (indent <= 4 && SENSE.test(t)) {
        flush();
        sense.push(t.replace(SENSE, ''));
      } else {
        sense.push(t);
      }
    }
    flush();
  }
  return out;
}

/**
 * The definitions of a whole dictionary: every entry the index points to, once (index lines
 * sharing an offset and length name one entry), meta entries (`00-…`) skipped, in text order.
 * @param text the uncompressed dictionary (bytes: index offsets count bytes)
 * @throws DataFormatError when an index line points outside the text
 */
export function gcideDefinitions(index: readonly DictIndexEntry[], text: Uint8Array, source = 'gcide.dict'): Definition[] {
  const byOffset = new Map<number, DictIndexEntry>();
  for (const e of index) {
    if (/^00-/.test(e.headword)) continue;
    if (e.offset + e.length > text.length) {
      throw new DataFormatError(source, 0, `the index entry '${e.headword}' points to bytes ${e.offset}..${e.offset + e.length}, past the end of the ${text.length}-byte text; the index and the text do not belong together`);
    }
    if (!byOffset.has(e.offset)) byOffset.set(e.offset, e);
  }
  const dec = new TextDecoder('utf-8');
  const out: Definition[] = [];
  for (const off of [...byOffset.keys()].sort((a, b) => a - b)) {
    const e = byOffset.get(off)!;
    for (const d of parseGcideEntry(dec.decode(text.subarray(e.offset, e.offset + e.length)), e.headword)) out.push(d);
  }
  return out;
}

/** First line of a definitions file. */
export const DEFINITIONS_HEADER = '# samplex definitions v1: headword|headword…<TAB>definition';

/** Writes definitions as the cache file's lines (header, then `headwords TAB text`). */
export function formatDefinitions(defs: readonly Definition[]): string[] {
  const chunks: string[] = [DEFINITIONS_HEADER + '\n'];
  let buf = '';
  for (const d of defs) {
    buf += `${d.headwords.join('|')}\t${d.text.replace(/[\t\n]/g, ' ')}\n`;
    if (buf.length > 1 << 20) {
      chunks.push(buf);
      buf = '';
    }
  }
  chunks.push(buf);
  return chunks;
}

/**
 * Reads the lines of a definitions file ({@link formatDefinitions}).
 * @throws DataFormatError (file and line) for a missing header, a line without one tab, an empty
 *   headword or an empty definition
 */
export function parseDefinitions(lines: Iterable<string>, source: string): Definition[] {
  const out: Definition[] = [];
  let n = 0;
  for (const line of lines) {
    n++;
    if (n === 1) {
      if (line !== DEFINITIONS_HEADER) throw new DataFormatError(source, 1, `not a samplex definitions file (expected the header '${DEFINITIONS_HEADER}'); fetch it again with --force`);
      continue;
    }
    if (line === '') continue;
    const tab = line.indexOf('\t');
    if (tab < 0 || line.indexOf('\t', tab + 1) >= 0) throw new DataFormatError(source, n, "expected 'headwords<TAB>definition' with exactly one tab");
    const headwords = line.slice(0, tab).split('|');
    const text = line.slice(tab + 1);
    if (headwords.some((h) => h.trim() === '')) throw new DataFormatError(source, n, 'empty headword');
    if (text.trim() === '') throw new DataFormatError(source, n, 'empty definition');
    out.push({ headwords, text });
  }
  if (n === 0) throw new DataFormatError(source, 1, 'the file is empty; fetch it again with --force');
  return out;
}
