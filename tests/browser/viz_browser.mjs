// viz_browser.mjs DIR - open attend's HTML figures in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core) and check them:
//   - each page loads with no console error and no page error, and makes
//     no network request (the page is self-contained);
//   - hovering a cell shows its exact weight in the tooltip and the
//     read-out, and highlights that cell's output and input tokens;
//   - the multi-head page shows every head in a grid, and its selector
//     switches to a single head;
//   - the static-attention page shades words and shows a word's weight;
//   - the language-model page (lm.html, from test_viz_lm --write) has a
//     layer and a head selector that pick the tables shown, and hovering
//     a cell shows its two characters (newline and space as symbols) and
//     its exact weight.
//   - the report of many documents (report.html, from test_viz_report
//     --write) shows each document under its title and note, its "show:"
//     filter keeps the documents of one tag, a word's hover names its
//     document, and a word "</script><script>alert(1)</script>" stays a
//     word (no dialog opens).
// Screenshots go to DIR/*.screenshot.png. Exits non-zero on any failure.
import { chromium } from 'playwright-core';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = path.resolve(process.argv[2] || 'viz_out');
let failures = 0, checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) { failures++; console.error('FAIL ' + what); }
}

async function openPage(browser, name) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push('network: ' + r.url()); });
  await page.goto(pathToFileURL(path.join(dir, name)).href);
  await page.waitForSelector('#view > *');
  return { page, problems };
}

async function heatmapPage(browser) {
  const { page, problems } = await openPage(browser, 'known.html');
  const cell = page.locator('td.cell[data-row="0"][data-col="0"]').first();
  await cell.hover();
  const tip = (await page.textContent('#tooltip')).trim();
  check(tip === '0.7000', `known.html: hover tooltip shows '${tip}', expected '0.7000'`);
  const readout = await page.textContent('#readout');
  check(readout.includes('0.7000') && readout.includes('exact: 0.7'),
        `known.html: read-out '${readout}' lacks the weight`);
  const rowHl = await page.locator('th.row.hl').allTextContents();
  const colHl = await page.locator('th.col.hl').allTextContents();
  check(rowHl.length === 1 && rowHl[0] === '2', `row label highlight: ${JSON.stringify(rowHl)}`);
  check(colHl.length === 1 && colHl[0] === '9', `column label highlight: ${JSON.stringify(colHl)}`);
  await page.locator('td.cell[data-row="1"][data-col="4"]').first().hover();
  const tip2 = (await page.textContent('#tooltip')).trim();
  check(tip2 === '1.0000', `second hover shows '${tip2}', expected '1.0000'`);
  const labels = await page.locator('th.col').allTextContents();
  for (const want of ['мая', '五月', 'مايو', '2018'])
    check(labels.includes(want), `column label '${want}' missing from ${JSON.stringify(labels)}`);
  await page.screenshot({ path: path.join(dir, 'known.screenshot.png'), fullPage: true });
  check(problems.length === 0, 'known.html: ' + problems.join('; '));
  await page.close();
}

async function headsPage(browser) {
  const { page, problems } = await openPage(browser, 'heads.html');
  const grids = await page.locator('.head-grid table.heatmap').count();
  check(grids === 4, `heads.html: all-heads grid has ${grids} tables, expected 4`);
  await page.screenshot({ path: path.join(dir, 'heads.screenshot.png'), fullPage: true });
  await page.selectOption('#head-select-0', '1');
  const tables = await page.locator('table.heatmap').count();
  check(tables === 1, `heads.html: one head selected shows ${tables} tables`);
  // head 2 of the synthetic map is the first head's rows shifted by one:
  // its row 0 is row 1 of head 1, whose weight at column 4 is 1.
  await page.locator('td.cell[data-row="0"][data-col="4"]').hover();
  const tip = (await page.textContent('#tooltip')).trim();
  check(tip === '1.0000', `heads.html head 2: tooltip '${tip}', expected '1.0000'`);
  const readout = await page.textContent('#readout');
  check(readout.startsWith('head 2'), `heads.html: read-out '${readout}' does not name head 2`);
  check(problems.length === 0, 'heads.html: ' + problems.join('; '));
  await page.close();
}

async function comparePage(browser) {
  const { page, problems } = await openPage(browser, 'compare.html');
  const panels = await page.locator('section.panel').count();
  check(panels === 3, `compare.html: ${panels} panels, expected 3`);
  await page.screenshot({ path: path.join(dir, 'compare.screenshot.png'), fullPage: true });
  check(problems.length === 0, 'compare.html: ' + problems.join('; '));
  await page.close();
}

async function docPage(browser) {
  const { page, problems } = await openPage(browser, 'doc.html');
  const words = await page.locator('.word').count();
  check(words === 15, `doc.html: ${words} words, expected 15`);
  await page.locator('.word', { hasText: 'superb.' }).hover();
  const readout = await page.textContent('#readout');
  check(readout.includes('0.4500') && readout.includes('0.6000'),
        `doc.html: read-out '${readout}' lacks word weight 0.4500 and sentence weight 0.6000`);
  const shaded = await page.locator('.word', { hasText: 'superb.' }).evaluate((e) => e.style.background);
  check(shaded.startsWith('rgb(59, 82, 139)'), `doc.html: strongest word shade is '${shaded}'`);
  await page.screenshot({ path: path.join(dir, 'doc.screenshot.png'), fullPage: true });
  await page.check('#level-sentences');
  const sentenceShade = await page.locator('.sentence').first().evaluate((e) => e.style.background);
  check(sentenceShade.startsWith('rgb(59, 82, 139)'), `doc.html: sentence level shade '${sentenceShade}'`);
  check(problems.length === 0, 'doc.html: ' + problems.join('; '));
  await page.close();
}

async function lmPage(browser) {
  const { page, problems } = await openPage(browser, 'lm.html');
  const layers = await page.locator('#layer-select option').allTextContents();
  const heads = await page.locator('#head-select option').allTextContents();
  check(JSON.stringify(layers) === JSON.stringify(['all layers', 'layer 1', 'layer 2']),
        `lm.html: layer selector ${JSON.stringify(layers)}`);
  check(JSON.stringify(heads) === JSON.stringify(['all heads', 'mean of heads', 'head 1', 'head 2', 'head 3']),
        `lm.html: head selector ${JSON.stringify(heads)}`);
  const shown = await page.locator('table.heatmap').count();
  check(shown === 3, `lm.html: layer 1, all heads shows ${shown} tables, expected 3`);
  const rows = await page.locator('table.heatmap').first().locator('th.row').allTextContents();
  check(JSON.stringify(rows) === JSON.stringify(['a', 'b', '\u2423', 'c', '\u23ce', 'd']),
        `lm.html: row labels ${JSON.stringify(rows)}`);
  // layer 1, head 1: row t spreads over keys s <= t as 1 + s, so (1, 0) is 1/3
  const first = page.locator('table.heatmap').first();
  await first.locator('td.cell[data-row="1"][data-col="0"]').hover();
  let tip = (await page.textContent('#tooltip')).trim();
  check(tip === 'b \u2192 a: 0.33333334', `lm.html: tooltip '${tip}', expected 'b → a: 0.33333334'`);
  let readout = await page.textContent('#readout');
  check(readout.startsWith('layer 1, head 1: \u201cb\u201d (2) attends to \u201ca\u201d (1)') &&
        readout.includes('exact: 0.33333334'), `lm.html: read-out '${readout}'`);
  await first.locator('td.cell[data-row="4"][data-col="2"]').hover();
  tip = (await page.textContent('#tooltip')).trim();
  check(tip === '\u23ce \u2192 \u2423: 0.2', `lm.html: newline row tooltip '${tip}', expected '⏎ → ␣: 0.2'`);
  await page.screenshot({ path: path.join(dir, 'lm.screenshot.png'), fullPage: true });
  await page.selectOption('#layer-select', 'all');
  const all = await page.locator('table.heatmap').count();
  check(all === 6, `lm.html: all layers x all heads shows ${all} tables, expected 6`);
  await page.screenshot({ path: path.join(dir, 'lm-model-view.screenshot.png'), fullPage: true });
  await page.selectOption('#layer-select', '1');
  await page.selectOption('#head-select', '2');
  const one = await page.locator('table.heatmap').count();
  check(one === 1, `lm.html: layer 2, head 3 shows ${one} tables, expected 1`);
  // layer 2, head 3: weights in proportion to 3 + 2s, so (1, 0) is 3/8
  await page.locator('td.cell[data-row="1"][data-col="0"]').hover();
  tip = (await page.textContent('#tooltip')).trim();
  readout = await page.textContent('#readout');
  check(tip === 'b \u2192 a: 0.375' && readout.startsWith('layer 2, head 3: '),
        `lm.html: layer 2, head 3: tooltip '${tip}', read-out '${readout}'`);
  await page.selectOption('#head-select', 'mean');
  const mean = await page.locator('.head-box h3').allTextContents();
  check(JSON.stringify(mean) === JSON.stringify(['mean of heads']), `lm.html: mean view ${JSON.stringify(mean)}`);
  check(problems.length === 0, 'lm.html: ' + problems.join('; '));
  await page.close();
}

async function reportPage(browser) {
  const { page, problems } = await openPage(browser, 'report.html');
  let dialogs = 0;
  page.on('dialog', async (d) => { dialogs++; await d.dismiss(); });
  await page.waitForSelector('#doc-2 .word');
  const heading = await page.textContent('#heading');
  check(heading === 'test messages & <errors>', `report.html: heading '${heading}'`);
  const titles = await page.locator('.report-doc h2').allTextContents();
  check(JSON.stringify(titles) === JSON.stringify(['<msg-0001@example.com>', 'msg </script><script>alert(1)</script>', 'document 3']),
        `report.html: document titles ${JSON.stringify(titles)}`);
  const note = await page.textContent('#doc-0 .note');
  check(note.startsWith('true spam \u00b7 predicted ham (p = 0.91) \u00b7 <hard_ham> & "x"'), `report.html: note '${note}'`);
  const filters = (await page.locator('.filters label').allTextContents()).map((s) => s.trim());
  check(JSON.stringify(filters) === JSON.stringify(['all (3)', 'wrong (2)', 'hard_ham (1)', 'easy_ham (1)', 'spam (1)']),
        `report.html: filters ${JSON.stringify(filters)}`);
  const evil = await page.locator('#doc-1 .word').nth(2).textContent();
  check(evil === '</script><script>alert(1)</script>', `report.html: the script word shows as '${evil}'`);
  const words = await page.locator('#doc-1 .word').count();
  check(words === 5, `report.html: the flat document has ${words} words, expected 5`);
  await page.locator('#doc-0 .word', { hasText: '500!' }).hover();
  const readout = await page.textContent('#readout');
  check(readout.startsWith('<msg-0001@example.com>: word \u201c\u20ac500!\u201d: 0.7265') && readout.includes('sentence weight 0.8000'),
        `report.html: read-out '${readout}'`);
  const shaded = await page.locator('#doc-0 .word', { hasText: '500!' }).evaluate((e) => e.style.background);
  check(shaded.startsWith('rgb(59, 82, 139)'), `report.html: strongest word shade is '${shaded}'`);
  const flat = await page.locator('#doc-1 .word', { hasText: 'meeting' }).evaluate((e) => e.style.background);
  check(flat.startsWith('rgb(59, 82, 139)'), `report.html: the flat document's strongest word shade is '${flat}'`);
  await page.screenshot({ path: path.join(dir, 'report.screenshot.png'), fullPage: true });
  await page.check('#filter-1');
  let visible = await page.locator('.report-doc:visible').count();
  let count = await page.textContent('.shown-count');
  check(visible === 2 && count === '2 of 3 documents', `report.html: 'wrong' shows ${visible} documents ('${count}')`);
  await page.check('#filter-3');
  const ids = await page.locator('.report-doc:visible').evaluateAll((es) => es.map((e) => e.id));
  check(JSON.stringify(ids) === JSON.stringify(['doc-1']), `report.html: 'easy_ham' shows ${JSON.stringify(ids)}`);
  await page.check('#filter-0');
  visible = await page.locator('.report-doc:visible').count();
  check(visible === 3, `report.html: 'all' shows ${visible} documents`);
  await page.check('#level-sentences');
  const sentenceShade = await page.locator('#doc-0 .sentence').first().evaluate((e) => e.style.background);
  check(sentenceShade.startsWith('rgb(59, 82, 139)'), `report.html: sentence level shade '${sentenceShade}'`);
  check(dialogs === 0, `report.html: ${dialogs} dialogs opened (a word ran as script)`);
  check(problems.length === 0, 'report.html: ' + problems.join('; '));
  await page.close();
}

// playwright gives every launch a fresh, empty user-data-dir of its own.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  await heatmapPage(browser);
  await headsPage(browser);
  await comparePage(browser);
  await docPage(browser);
  await lmPage(browser);
  await reportPage(browser);
} catch (e) {
  failures++;
  console.error('FAIL ' + (e && e.stack ? e.stack : e));
} finally {
  await browser.close();
}
console.log(`browser: ${checks} checks, ${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
