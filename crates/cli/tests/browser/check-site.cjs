// Opens a benchkeep report in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core, and prints what the Rust test asserts on as one JSON object:
// the keys listed, the benchmark rows, the points of a chart, every request that did not
// go to file://, console errors, dialogs (an escaped <script> name must never run), and
// screenshots written into SHOTS.
//
//   NODE_PATH=.../node_modules node check-site.cjs SITE_DIR KEY_SLUG BENCH_PAGE SHOTS_DIR
// (CommonJS, because NODE_PATH finds playwright-core for require(), not for import.)
'use strict';
const { chromium } = require('playwright-core');
const { pathToFileURL } = require('node:url');
const path = require('node:path');

async function main() {
  const [site, slug, benchPage, shots] = process.argv.slice(2);
  const url = (rel) => pathToFileURL(path.join(site, rel)).href;
  const browser = await chromium.launch({
    executablePath: process.env.BENCHKEEP_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const result = { external: [], consoleErrors: [], pageErrors: [], dialogs: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('request', (r) => { if (!r.url().startsWith('file://')) result.external.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => result.pageErrors.push(String(e)));
    page.on('dialog', async (d) => { result.dialogs.push(d.message()); await d.dismiss(); });
    // Anything not on file:// is recorded above and refused here.
    await page.route((u) => !u.href.startsWith('file://'), (route) => route.abort());

    await page.goto(url('index.html'));
    result.keys = await page.$$eval('#keys tbody tr td:first-child', (cells) => cells.map((c) => c.textContent));
    await page.screenshot({ path: path.join(shots, 'keys.png'), fullPage: true });

    await page.goto(url(`k/${slug}/index.html`));
    result.rows = await page.$$eval('#benchmarks tbody tr', (rows) => rows.map((r) => r.dataset.name));
    result.sparklines = await page.$$eval('#benchmarks svg.sparkline polyline', (l) => l.length);
    await page.screenshot({ path: path.join(shots, 'index.png'), fullPage: true });
    await page.fill('#filter', 'parse');
    result.filtered = await page.$$eval('#benchmarks tbody tr', (rows) => rows.filter((r) => !r.hidden).map((r) => r.dataset.name));
    await page.fill('#filter', '');
    await page.click('#benchmarks thead th:first-child');
    result.sortedByName = await page.$$eval('#benchmarks tbody tr', (rows) => rows.map((r) => r.dataset.name));

    await page.goto(url(`k/${slug}/b/${benchPage}`));
    result.chartTitle = await page.textContent('h1');
    result.points = await page.$$eval('svg#chart circle', (c) => c.length);
    result.badPoints = await page.$$eval('svg#chart circle.bad', (c) => c.length);
    result.changeLines = await page.$$eval('svg#chart line.cp', (c) => c.length);
    result.baselineLines = await page.$$eval('svg#chart line.base', (c) => c.length);
    result.firstPointTitle = await page.$eval('svg#chart circle title', (t) => t.textContent);
    const box = await page.$eval('svg#chart', (s) => { const b = s.getBoundingClientRect(); return [b.width, b.height]; });
    result.chartSize = box;
    await page.screenshot({ path: path.join(shots, 'benchmark.png'), fullPage: true });
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => { console.error(e); process.exit(1); });
