/**
 * Loading TensorFlow.js in Node for samplex's tools: the `@tensorflow/tfjs` package (tfjs-core
 * with its gradients and the `cpu` backend) and, on request, the `wasm` backend with its
 * binaries read from its installed package. Both are optional peer dependencies, imported
 * dynamically only when called.
 * @module
 */
import { StateError } from '../core/errors.js';
import type { Tf } from './adapter.js';

/** Backends {@link loadTfjs} can activate. */
export type NodeTfBackend = 'cpu' | 'wasm';

let tfPromise: Promise<Tf> | null = null;
let wasmPromise: Promise<void> | null = null;

/** Imports `@tensorflow/tfjs` once (its gradients are needed to train). */
function importTf(): Promise<Tf> {
  tfPromise ??= import('@tensorflow/tfjs').then((m) => m as unknown as Tf).catch((e: unknown) => {
    tfPromise = null;
    throw new StateError(`cannot load @tensorflow/tfjs (${e instanceof Error ? e.message : String(e)}); install it: npm install @tensorflow/tfjs`);
  });
  return tfPromise;
}

/** Registers the wasm backend with its `.wasm` files from `node_modules` (once). */
function registerWasm(): Promise<void> {
  wasmPromise ??= (async () => {
    const [{ createRequire }, path, { pathToFileURL }] = await Promise.all([import('node:module'), import('node:path'), import('node:url')]);
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    wasm.setWasmPaths(pathToFileURL(dir).href + '/');
  })().catch((e: unknown) => {
    wasmPromise = null;
    throw new StateError(`cannot load @tensorflow/tfjs-backend-wasm (${e instanceof Error ? e.message : String(e)}); install it or use the cpu backend`);
  });
  return wasmPromise;
}

/**
 * Loads tfjs in Node and activates `backend` (default `'cpu'`). Returns the tfjs namespace.
 * @throws StateError when a package is missing or the backend does not initialize
 */
export async function loadTfjs(backend: NodeTfBackend = 'cpu'): Promise<Tf> {
  const tf = await importTf();
  if (backend === 'wasm') await registerWasm();
  if (!(await tf.setBackend(backend))) throw new StateError(`tfjs backend '${backend}' did not initialize`);
  return tf;
}
