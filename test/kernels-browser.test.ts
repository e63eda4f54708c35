/**
 * The built kernels in real headless Chromium: served over HTTP from the dist folder, loaded by
 * the same loader as in Node (fetch + Web Workers + shared memory under cross-origin isolation)
 * and checked against the TS reference inside the page, for the default build (FMA where
 * Chromium has relaxed SIMD) and the SIMD128 build. Without cross-origin isolation there is
 * no SharedArrayBuffer, and the loader must fall back to the TS kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserSkipReason, launchBrowser } from './util/browser.js';
import { runKernelSuite, type KernelSuiteReport } from './util/kernelSuite.js';

const DIST = fileURLToPath(new URL('..', import.meta.url)); // dist/ (this file is dist/test/*.js)
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const PAGE = `<!doctype html><meta charset="utf-8"><title>kernels</title>
<script type="module">
import { runKernelSuite } from '/test/util/kernelSuite.js';
const isolated = new URL(location.href).searchParams.get('isolated') === '1';
const runs = [runKernelSuite({ threads: 2 })];
if (isolated) runs.push(runKernelSuite({ threads: 2, path: 'simd' }));
window.suite = Promise.all(runs).catch((e) => ({ error: String(e && e.stack || e) }));
</script>`;

/** Serves dist/ (and the test page); `?isolated=1` pages get COOP/COEP headers. */
function serve(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
      // sub-resources always carry COEP-compatible headers; isolation itself is set by the page
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204, headers).end();
        return;
      }
      if (url.pathname === '/kernels.html') {
        if (url.searchParams.get('isolated') === '1') {
          headers['Cross-Origin-Opener-Policy'] = 'same-origin';
          headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
        }
        res.writeHead(200, { ...headers, 'Content-Type': 'text/html' }).end(PAGE);
        return;
      }
      const file = normalize(join(DIST, decodeURIComponent(url.pathname)));
      if (!file.startsWith(DIST.endsWith(sep) ? DIST : DIST + sep)) {
        res.writeHead(403).end();
        return;
      }
      try {
        const body = await readFile(file);
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp'; // workers inherit isolation from their script
        res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    })();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({ server, origin: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` });
    });
  });
}

function assertPasses(r: KernelSuiteReport, where: string): KernelSuiteReport {
  const names = Object.keys(r.checks);
  assert.ok(names.length >= 20, `${where}: only ${names.length} checks ran`);
  for (const name of names) assert.ok(r.checks[name]! <= 1, `${where}: ${name} off by ${r.checks[name]} × its tolerance`);
  return r;
}

test('the same suite passes in Node with 2 pool workers', async () => {
  const r = assertPasses(await runKernelSuite({ threads: 2 }), 'node');
  assert.notEqual(r.path, 'ts');
  assert.equal(r.threads, 2);
});

const skip = browserSkipReason();
test('Chromium: wasm kernels and their worker pool match the TS reference; TS fallback without isolation', { skip, timeout: 120_000 }, async (t) => {
  const { server, origin } = await serve();
  const { browser, close } = await launchBrowser();
  try {
    const run = async (isolated: boolean): Promise<KernelSuiteReport[]> => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('response', (res) => {
        if (res.status() >= 400) errors.push(`HTTP ${res.status()} for ${res.url()}`);
      });
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(`${origin}/kernels.html?isolated=${isolated ? 1 : 0}`);
      const r = await page.evaluate(() => (window as unknown as { suite: Promise<KernelSuiteReport[] | { error: string }> }).suite);
      assert.deepEqual(errors, []);
      await page.close();
      assert.ok(!('error' in r), `chromium isolated=${isolated}: ${'error' in r ? r.error : ''}`);
      return r.map((x) => assertPasses(x, `chromium isolated=${isolated} ${x.kernelsName}`));
    };
    const [iso, simd] = await run(true);
    assert.equal(simd!.kernelsName, 'wasm-simd');
    assert.equal(simd!.threads, 2);
    assert.ok(iso!.features.simd && iso!.features.sharedMemory, JSON.stringify(iso!.features));
    assert.match(iso!.kernelsName, /^wasm-(simd|fma)$/);
    assert.equal(iso!.threads, 2);
    t.diagnostic(`chromium: ${iso!.kernelsName}, features ${JSON.stringify(iso!.features)}`);
    const [plain] = await run(false);
    assert.equal(plain!.features.sharedMemory, false);
    assert.equal(plain!.path, 'ts');
  } finally {
    await close();
    server.close();
  }
});
