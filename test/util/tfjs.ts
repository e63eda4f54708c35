/**
 * Loads TensorFlow.js (`@tensorflow/tfjs`: core with its gradients and the cpu backend, optionally the wasm backend with its binaries
 * read from node_modules) for the tfjs adapter tests.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';

export { tf };

let wasmReady: Promise<string | null> | null = null;

/** Registers the wasm backend; resolves to null when it loaded, or the reason it did not. */
export function loadWasmBackend(): Promise<string | null> {
  wasmReady ??= (async () => {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const require = createRequire(import.meta.url);
      const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
      wasm.setWasmPaths(pathToFileURL(dir).href + '/');
      const prev = tf.getBackend();
      const ok = await tf.setBackend('wasm');
      if (prev) await tf.setBackend(prev);
      return ok ? null : 'tf.setBackend("wasm") failed';
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  })();
  return wasmReady;
}

/** Activates `name` ('cpu' or 'wasm'); resolves to null on success or the reason it is unavailable. */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<string | null> {
  if (name === 'wasm') {
    const why = await loadWasmBackend();
    if (why) return why;
  }
  return (await tf.setBackend(name)) ? null : `backend ${name} did not initialize`;
}
