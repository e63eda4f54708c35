/**
 * The layering of `src/` (docs/architecture.md): every folder imports only folders below it in
 * {@link LAYERS}, and no two modules import each other, directly or through others. The import
 * statements (static, `export … from` and dynamic `import()`, type-only ones included) are read
 * from the TypeScript sources.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folders of `src/`, bottom first: a folder may import only itself and the folders before it. */
const LAYERS = [
  'core', // seeded generator, typed errors, validation, matrices and labels, the class table, line splitting
  'io', // Node file helpers: atomic writes, streaming line reader
  'kernels', // dense float32 math behind a dispatch table, WebAssembly kernels and their worker pool
  'samplers', // the Sampler contract, the factory and every sampler
  'loss', // sampled and full softmax losses, ranking metrics
  'layer', // OutputLayer, sparse optimizers, exact evaluator, safetensors
  'data', // dataset parsers and readers
  'diagnostics', // bias studies, synthetic embeddings
  'report', // HTML reports
  'tfjs', // the TensorFlow.js adapter and kernels
  'train', // run directories and progress bars
  'harness', // the training harness the applications share
  'apps', // applications: xmc, lm, seqrec
  'cli', // the samplex command
];

/** The package's entry points (package.json `exports`): they gather the layers and may import any of them. */
const ENTRIES = ['index.ts', 'browser.ts', join('tfjs', 'index.ts')];

/**
 * Import cycles between modules that are known and named here, each as its modules sorted;
 * a cycle not listed fails, and so does a listed one that no longer occurs.
 */
const KNOWN_CYCLES: string[][] = [];

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (relative(SRC, p) !== join('kernels', 'wasm')) out.push(...sources(p));
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The `src/`-relative modules `file` imports (relative specifiers only; packages are not layers). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (!spec.startsWith('.')) continue;
    out.push(relative(SRC, join(dirname(file), spec)).replace(/\.js$/, '.ts'));
  }
  return out;
}

const folderOf = (rel: string): string => (rel.includes(sep) ? rel.split(sep)[0]! : '.');

const files = sources(SRC).map((f) => relative(SRC, f));
const graph = new Map(files.map((f) => [f, importsOf(join(SRC, f))]));

test('the layer list names every folder of src/ and the entries exist', () => {
  const folders = new Set(files.map(folderOf).filter((f) => f !== '.'));
  for (const f of folders) assert.ok(LAYERS.includes(f), `src/${f}/ is not in the layer list of test/layering.test.ts; add it where it belongs`);
  for (const e of ENTRIES) assert.ok(graph.has(e), `entry ${e} missing`);
  const rootFiles = files.filter((f) => folderOf(f) === '.');
  assert.deepEqual(rootFiles.sort(), ENTRIES.filter((e) => !e.includes(sep)).sort(), 'src/ holds only the entry points at its root');
  // the imports are read: the reader finds the known edges
  assert.ok(graph.get(join('loss', 'sampled.ts'))!.includes(join('core', 'errors.ts')));
  assert.ok(graph.get(join('cli', 'seqrec.ts'))!.some((t) => t.startsWith('tfjs' + sep)), 'dynamic import() is read');
});

test('no folder of src/ imports a folder above it', () => {
  const bad: string[] = [];
  for (const [file, targets] of graph) {
    if (ENTRIES.includes(file)) continue;
    const from = LAYERS.indexOf(folderOf(file));
    for (const t of targets) {
      const to = LAYERS.indexOf(folderOf(t));
      if (folderOf(t) === '.' || to > from) bad.push(`${file} imports ${t} (${folderOf(t)}/ is above ${folderOf(file)}/)`);
    }
  }
  assert.deepEqual(bad, [], `layering violations:\n${bad.join('\n')}`);
});

test('no import cycles between modules beyond the named ones', () => {
  // strongly connected components (Tarjan) of the module graph
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) cycles.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  const key = (c: string[]) => c.join(' ⇄ ');
  const known = new Set(KNOWN_CYCLES.map(key));
  const found = new Set(cycles.map(key));
  assert.deepEqual(cycles.map(key).filter((c) => !known.has(c)), [], 'import cycles');
  assert.deepEqual([...known].filter((c) => !found.has(c)), [], 'named cycles that no longer occur: remove them from KNOWN_CYCLES');
});
