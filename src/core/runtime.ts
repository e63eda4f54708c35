/**
 * What JavaScript runtime this is.
 * @module
 */

/** True under Node.js (false in browsers and Web Workers). */
export const isNode = typeof process !== 'undefined' && typeof process.versions === 'object' && !!process.versions.node;
