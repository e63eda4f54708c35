/**
 * Line sources for the text readers (browser-safe): any `Iterable<string>` of
 * lines works, e.g. {@link linesOf} over an in-memory string or the file reader
 * `readLines` of `src/io/lines.ts` (Node). Lives in `core/` because both the parsers of `data/`
 * and the file reader of `io/` use it.
 * @module
 */

/**
 * The lines of `text`, lazily, without their terminators (`\n` or `\r\n`).
 * A final terminator does not start an extra empty line, so `"a\nb\n"` gives
 * `"a", "b"` and `""` gives nothing.
 */
export function* linesOf(text: string): Generator<string, void, undefined> {
  let start = 0;
  const n = text.length;
  while (start < n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    yield text.charCodeAt(end - 1) === 13 && end > start ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
  }
}
