/**
 * Worker threads under the flags people start Node with: `--max-old-space-size` (a V8 option
 * that Node refuses in a worker's explicit `execArgv`) alone and with `--input-type` / `-e`
 * (options of the main script only). Each case runs a fresh `node` process: the fast kernels
 * keep the WebAssembly path with a pool of two workers, a midx helper thread samples what one
 * thread samples, and `samplex train xmc --threads 2` trains. A worker started by samplex runs
 * the kernels of the thread that started it (SAMPLEX_KERNELS).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exportSplit } from '../src/data/files.js';
import { detectFeatures } from '../src/kernels/fast.js';
import { nodeWorkerOptions, spawnNodeWorker } from '../src/kernels/nodeWorker.js';
import { OptionError } from '../src/core/errors.js';
import { defaultKernels, kernels, tsKernels, useKernels } from '../src/kernels/index.js';
import { syntheticXmc } from './util/xmcSynthetic.js';

const run = promisify(execFile);
const features = await detectFeatures();
const wasm = features.simd && features.sharedMemory;
const root = mkdtempSync(join(tmpdir(), 'samplex-flags-'));
after(() => rmSync(root, { recursive: true, force: true }));

const src = (p: string): string => new URL(`../src/${p}`, import.meta.url).href;

/** Program run under the flags: prints one JSON line. */
const PROGRAM = `
import { initFastKernels, MidxSampler, Rng, ClassTable, matrix, singleLabels } from '${src('index.js')}';
import { MidxThreads } from '${src('samplers/midxThreads.js')}';
import { nodeWorkerOptions } from '${src('kernels/nodeWorker.js')}';
const fk = await initFastKernels({ threads: 2 });
const a = Float32Array.from({ length: 64 * 8 }, (_, i) => (i % 7) - 3);
const c = Float32Array.from({ length: 16 * 8 }, (_, i) => (i % 5) - 2);
const got = new Float32Array(64 * 16);
await fk.pool.matmulNT(a, 64, c, 0, 16, 8, got);
const want = new Float32Array(64 * 16);
fk.kernels.matmulNT(a, 64, c, 0, 16, 8, want);
const rng = Rng.fromSeed(1);
const table = ClassTable.init(300, 8, rng, { bias: true });
const q = matrix(12, 8);
rng.fillNormal(q.data);
const labels = singleLabels(Array.from({ length: 12 }, () => rng.int(300)));
const s = new MidxSampler({ codewords: 8, seed: 1 });
s.build(table);
const opts = () => ({ m: 10, rng: Rng.fromSeed(2), queries: q, rowStreams: true });
const one = s.sampleWithLogQ(opts(), labels);
const th = await MidxThreads.create(1);
s.useWorkers(th);
const two = s.sampleWithLogQ(opts(), labels);
s.useWorkers(null);
await th.close();
await fk.close();
console.log(JSON.stringify({
  path: fk.path, fallbackReason: fk.fallbackReason ?? null, threads: fk.pool.threads,
  poolMatches: got.every((v, i) => v === want[i]),
  midxMatches: one.draws.ids.every((v, i) => v === two.draws.ids[i]) && one.logQ.every((v, i) => v === two.logQ[i]),
  resourceLimits: nodeWorkerOptions().resourceLimits ?? null,
}));
`;

interface ProgramReport {
  path: string;
  fallbackReason: string | null;
  threads: number;
  poolMatches: boolean;
  midxMatches: boolean;
  resourceLimits: { maxOldGenerationSizeMb?: number } | null;
}

function check(r: ProgramReport, stderr: string, what: string): void {
  assert.equal(r.fallbackReason, null, what);
  assert.match(r.path, /^(fma|simd)$/, what);
  assert.equal(r.threads, 2, what);
  assert.ok(r.poolMatches, `${what}: the pool's workers compute what the main thread computes`);
  assert.ok(r.midxMatches, `${what}: the midx helper thread samples what one thread samples`);
  assert.deepEqual(r.resourceLimits, { maxOldGenerationSizeMb: 3000 }, `${what}: the heap limit passed on to workers`);
  assert.doesNotMatch(stderr, /TypeScript kernels/, what);
}

test('--max-old-space-size: the WebAssembly kernels with their worker pool and the midx helper threads', { skip: !wasm && 'no WebAssembly SIMD', timeout: 120_000 }, async () => {
  const file = join(root, 'program.mjs');
  writeFileSync(file, PROGRAM);
  const { stdout, stderr } = await run(process.execPath, ['--max-old-space-size=3000', file]);
  check(JSON.parse(stdout.trim().split('\n').pop()!) as ProgramReport, stderr, 'file');
});

test('--max-old-space-size with --input-type and -e: the same', { skip: !wasm && 'no WebAssembly SIMD', timeout: 120_000 }, async () => {
  const { stdout, stderr } = await run(process.execPath, ['--max-old-space-size=3000', '--stack-size=900', '--input-type=module', '-e', PROGRAM]);
  check(JSON.parse(stdout.trim().split('\n').pop()!) as ProgramReport, stderr, '-e');
});

test('samplex train xmc --threads 2 under --max-old-space-size trains on the WebAssembly kernels', { skip: !wasm && 'no WebAssembly SIMD', timeout: 240_000 }, async () => {
  const data = join(root, 'ft');
  exportSplit(syntheticXmc(), data, 'fasttext');
  const out = join(root, 'xmc');
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const { stderr } = await run(process.execPath, [
    '--max-old-space-size=3000', cli, 'train', 'xmc', '--data', data, '--sampler', 'midx', '--epochs', '1', '--dim', '16',
    '--batch', '32', '--negatives', '8', '--threads', '2', '--kernels', 'auto', '--no-progress', '--out', out,
  ]);
  assert.doesNotMatch(stderr, /TypeScript kernels/);
  const { readFileSync } = await import('node:fs');
  const rec = JSON.parse(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')[0]!) as Record<string, unknown>;
  assert.equal(rec['epoch'], 1);
  assert.equal(typeof rec['p1'], 'number');
});

test('nodeWorkerOptions: no execArgv of its own where the parent has no main-script option; a given heap limit is kept', () => {
  const o = nodeWorkerOptions({ resourceLimits: { maxOldGenerationSizeMb: 123 } });
  if (!process.execArgv.some((a) => a.startsWith('--input-type') || a === '-e' || a === '--eval')) assert.equal(o.execArgv, undefined);
  assert.equal(o.resourceLimits?.maxOldGenerationSizeMb, 123);
});

/** The name of the default kernels in a worker started with spawnNodeWorker. */
async function workerKernels(passKernels = true): Promise<string> {
  const code = `import(${JSON.stringify(src('kernels/index.js'))}).then((m) => require('node:worker_threads').parentPort.postMessage(m.kernels.name))`;
  const w = spawnNodeWorker(code, { eval: true }, passKernels);
  try {
    return await new Promise<string>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  } finally {
    await w.terminate();
  }
}

test('a worker started by samplex runs the kernels of the thread that started it', { skip: !wasm && 'no WebAssembly SIMD', timeout: 60_000 }, async () => {
  const prev = useKernels(tsKernels);
  try {
    assert.equal(await workerKernels(), 'ts');
    useKernels(defaultKernels);
    const name = kernels.name;
    assert.match(name, /^wasm-(fma|simd)$/);
    assert.equal(await workerKernels(), name);
  } finally {
    useKernels(prev);
  }
});

test('SAMPLEX_KERNELS chooses the default kernels of a process; an unknown value is refused at the first kernel call', { skip: !wasm && 'no WebAssembly SIMD', timeout: 60_000 }, async () => {
  const code = `const m = await import(${JSON.stringify(src('kernels/index.js'))}); try { console.log(m.kernels.name); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }`;
  const name = async (v: string): Promise<string> => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, SAMPLEX_KERNELS: v } });
    return stdout.trim();
  };
  assert.equal(await name('ts'), 'ts');
  assert.equal(await name('simd'), 'wasm-simd');
  assert.match(await name('auto'), /^wasm-(fma|simd)$/);
  assert.match(await name('fast'), new RegExp(`^${OptionError.name}: SAMPLEX_KERNELS=fast`));
});
