/**
 * Opens a bias report in real headless Chromium: no console errors, and every chart has all of
 * its data points (one per sampler and m), for the static, exact and adaptive samplers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { main } from '../src/cli/main.js';
import { browserSkipReason, launchBrowser } from './util/browser.js';

test('bias report renders in Chromium with every data point and no console error', { skip: browserSkipReason() }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samplex-report-'));
  const { browser, close } = await launchBrowser();
  try {
    const report = join(dir, 'bias.html');
    const code = await main(
      ['bias', '--classes', '300', '--dim', '8', '--queries', '6', '--negatives', '4,16,64', '--trials', '30',
        '--sampler', 'exact,uniform,unigram,quadratic,rff,midx', '--report', report],
      () => {},
    );
    assert.equal(code, 0);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(report).href);
    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.map((svg) => ({
        title: svg.getAttribute('aria-label'),
        series: [...svg.querySelectorAll('g.series')].map((g) => ({
          name: g.getAttribute('data-name'),
          points: g.querySelectorAll('circle.pt').length,
          visible: [...g.querySelectorAll('circle.pt')].every((c) => {
            const r = (c as SVGCircleElement).getBoundingClientRect();
            return r.width > 0 && r.height > 0;
          }),
        })),
      })),
    );
    assert.equal(charts.length, 3);
    for (const c of charts) {
      assert.deepEqual(c.series.map((s) => s.name), ['exact', 'uniform', 'unigram', 'quadratic', 'rff', 'midx'], String(c.title));
      for (const s of c.series) {
        assert.equal(s.points, 3, `${c.title} / ${s.name}`);
        assert.ok(s.visible, `${c.title} / ${s.name} has an invisible point`);
      }
    }
    assert.deepEqual(errors, []);
  } finally {
    await close();
    rmSync(dir, { recursive: true, force: true });
  }
});
