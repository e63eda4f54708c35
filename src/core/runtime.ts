/**
 * What JavaScript runtime this is.
 * @module
 */

/** True under Node.js (false in browsers and Web Workers). */
export const isNode = typeof process !== 'undefined' && typeof process.versions === 'object' && !!process.versions.node;

const warned = new Set<string>();

/**
 * Prints `message` as one line on stderr (`console.warn`), once per process for each `key`
 * (a slower path taken in place of a faster one says so once, not on every call).
 * Returns whether it printed.
 */
export function warnOnce(key: string, message: string): boolean {
  if (warned.has(key)) return false;
  warned.add(key);
  console.warn(message);
  return true;
}
