/**
 * The browser entry of the package runs in real headless Chromium (ES modules served over HTTP,
 * no bundler, no Node built-ins) and gives the same results as Node for the same seed: identical
 * integer streams and sampled ids; floating-point results equal up to a relative 1e-9, because
 * ECMAScript does not fix the last bit of Math.log / Math.cos (used by `normal()`), and engines
 * differ there (measured: one ulp in one of three normals between Node 20 and Debian's Chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lib from '../src/browser.js';
import { browserSkipReason, launchBrowser } from './util/browser.js';

/** `dist/` (this file runs as dist/test/browser-library.test.js). */
const DIST = normalize(join(dirname(fileURLToPath(import.meta.url)), '..'));

type Lib = typeof lib;

/**
 * The workload, run identically in Node and in the page (it only uses the library it is given).
 * Kept free of closures over module scope so its source can be sent to the page.
 */
function workload(s: Lib): unknown {
  const rng = s.Rng.fromSeed(42);
  const u32 = Array.from({ length: 5 }, () => rng.nextU32());
  const normals = Array.from({ length: 3 }, () => rng.normal());
  const n = 200;
  const d = 8;
  const table = s.ClassTable.init(n, d, rng, { bias: true });
  const counts = Array.from({ length: n }, (_, i) => 1 + ((i * 7919) % 13));
  const layer = new s.OutputLayer({
    table,
    sampler: s.createSampler('unigram', { counts }),
    optimizer: s.createOptimizer('adam', { lr: 0.01 }),
    negatives: 10,
  });
  const B = 16;
  const queries = s.matrix(B, d);
  rng.fillNormal(queries.data);
  const labels = s.singleLabels(Array.from({ length: B }, () => rng.int(n)));
  const draws = s.createSampler('logUniform', { counts }).sample({ m: 5, rng, rows: 2 });
  const step = layer.step({ queries, labels, rng });
  const ev = layer.evaluate(queries, labels, { ks: [1, 5] });
  return {
    u32,
    normals,
    drawIds: Array.from(draws.ids),
    drawLogQ: Array.from(draws.logQ),
    loss: step.loss,
    gradSum: Array.from(step.gradQueries).reduce((a, b) => a + b, 0),
    weightSum: Array.from(table.weights).reduce((a, b) => a + b, 0),
    nll: ev.nll,
    p1: ev.precision[1],
    ndcg5: ev.ndcg[5],
  };
}

const MIME: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' };

/** A static server over `dist/`, plus the test page at `/`. */
async function serve(): Promise<{ server: Server; url: string }> {
  const page = `<!doctype html><meta charset="utf-8"><title>samplex</title><script type="module">
import * as s from '/src/browser.js';
const workload = ${workload.toString()};
try { window.__result = JSON.stringify(workload(s)); } catch (e) { window.__result = 'ERROR ' + e.stack; }
</script>`;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = normalize(join(DIST, path));
    if (!file.startsWith(DIST + sep)) {
      res.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no server address');
  return { server, url: `http://127.0.0.1:${addr.port}/` };
}

test('the browser entry runs in Chromium and matches Node (same ids, floats to 1e-9)', { skip: browserSkipReason() }, async () => {
  const { server, url } = await serve();
  const { browser, close } = await launchBrowser();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { __result?: string }).__result !== undefined, undefined, { timeout: 20000 });
    const got = await page.evaluate(() => (window as unknown as { __result: string }).__result);
    assert.deepEqual(errors, []);
    assert.ok(!got.startsWith('ERROR'), got);
    // the page runs on the TS kernels (a browser's default); Node's default is the WebAssembly
    // kernels, whose float32 sums differ from the TS ones by more than 1e-9: Node uses TS here too
    const prev = lib.useKernels(lib.tsKernels);
    let result: unknown;
    try {
      result = workload(lib);
    } finally {
      lib.useKernels(prev);
    }
    const inNode = JSON.parse(JSON.stringify(result)) as Record<string, unknown>;
    const inPage = JSON.parse(got) as Record<string, unknown>;
    assert.deepEqual(Object.keys(inPage).sort(), Object.keys(inNode).sort());
    for (const key of ['u32', 'drawIds']) assert.deepEqual(inPage[key], inNode[key], key);
    for (const key of Object.keys(inNode)) {
      const a = ([] as unknown[]).concat(inPage[key]) as number[];
      const b = ([] as unknown[]).concat(inNode[key]) as number[];
      assert.equal(a.length, b.length, key);
      a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= 1e-9 * Math.max(1, Math.abs(b[i]!)), `${key}[${i}]: page ${x}, node ${b[i]}`));
    }
  } finally {
    await close();
    server.close();
  }
});
