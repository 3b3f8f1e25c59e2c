// snapshots_browser.mjs PAGE [--screenshot OUT.png] [--snapshot K] - open a
// page of attention snapshots (at_plot_snapshots, attend train --snapshots)
// in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) and check it against the data it carries:
//   - it loads with no console error and no page error, and makes no
//     network request (the page is self-contained);
//   - it opens on the last snapshot: the label names its step and both
//     curves mark it;
//   - moving the slider to the first snapshot changes the shown map to
//     that snapshot's weights (every cell) and the marked step to its step;
//   - hovering a cell shows its weight in the tooltip and the exact weight
//     in the read-out;
//   - the play button steps through the snapshots and pauses.
// --screenshot writes a picture of the page (at snapshot K, default: the
// last), e.g. for docs/. Exits non-zero on any failure.
import { chromium } from 'playwright-core';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const pagePath = path.resolve(args[0] || 'snapshots.html');
const shotAt = args.indexOf('--screenshot') >= 0 ? args[args.indexOf('--screenshot') + 1] : null;
const shotK = args.indexOf('--snapshot') >= 0 ? Number(args[args.indexOf('--snapshot') + 1]) : null;
let failures = 0, checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) { failures++; console.error('FAIL ' + what); }
}

async function setSlider(page, k) {
  await page.locator('#snapshot-slider').fill(String(k));
}

// The weights of the first table of probe p, as the page shows them.
async function shownWeights(page, p) {
  return page.locator(`#probe-${p} table.heatmap`).first().locator('td.cell')
    .evaluateAll((cells) => cells.map((c) => c.dataset.w));
}
function dataWeights(map) {
  return map.weights[0].flat().map((w) => String(w));
}

async function run(browser) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push('network: ' + r.url()); });
  await page.goto(pathToFileURL(pagePath).href);
  await page.waitForSelector('#snapshot-maps > *');
  const data = JSON.parse(await page.textContent('#attend-data'));
  const shots = data.snapshots, last = shots.length - 1;
  check(data.kind === 'snapshots' && shots.length >= 2, `kind '${data.kind}', ${shots.length} snapshots`);

  // opens on the last snapshot
  const max = await page.getAttribute('#snapshot-slider', 'max');
  check(max === String(last), `slider max ${max}, expected ${last}`);
  let label = await page.textContent('#snapshot-step');
  check(label.startsWith(`step ${shots[last].step} `), `label '${label}' does not name step ${shots[last].step}`);
  let marked = await page.locator('.step-marker').evaluateAll((ms) => ms.map((m) => m.getAttribute('data-step')));
  check(marked.length === 2 && marked.every((s) => s === String(shots[last].step)),
        `markers at ${JSON.stringify(marked)}, expected step ${shots[last].step} on both curves`);
  const lossLine = await page.locator('#curve-loss polyline').count();
  check(lossLine === 1, `the loss curve has ${lossLine} lines`);

  // a probe with a map at the first and the last snapshot
  const p = data.probes.findIndex((_, i) => shots[0].maps[i] && shots[last].maps[i]);
  check(p >= 0, 'no probe has a map at both ends');
  if (p >= 0) {
    const atLast = await shownWeights(page, p);
    check(JSON.stringify(atLast) === JSON.stringify(dataWeights(shots[last].maps[p])),
          `probe ${p}: the shown map is not the last snapshot's`);
    await setSlider(page, 0);
    const atFirst = await shownWeights(page, p);
    check(JSON.stringify(atFirst) === JSON.stringify(dataWeights(shots[0].maps[p])),
          `probe ${p}: after the slider, the shown map is not the first snapshot's`);
    check(JSON.stringify(atFirst) !== JSON.stringify(atLast), `probe ${p}: the map did not change`);
    label = await page.textContent('#snapshot-step');
    check(label.startsWith(`step ${shots[0].step} `), `slider at 0: label '${label}'`);
    marked = await page.locator('.step-marker').evaluateAll((ms) => ms.map((m) => m.getAttribute('data-step')));
    check(marked.every((s) => s === String(shots[0].step)), `slider at 0: markers at ${JSON.stringify(marked)}`);
    const out = await page.textContent(`#probe-${p} .panel-input`);
    check(out === '\u2192 ' + (shots[0].outputs[p] || '(empty)'), `probe ${p}: output '${out}'`);

    // hover: the weight in the tooltip, the exact one in the read-out
    await setSlider(page, last);
    const cell = page.locator(`#probe-${p} td.cell[data-row="0"][data-col="1"]`).first();
    await cell.hover();
    const w = shots[last].maps[p].weights[0][0][1];
    const tip = (await page.textContent('#tooltip')).trim();
    check(tip === Number(w).toFixed(4), `hover: tooltip '${tip}', expected '${Number(w).toFixed(4)}'`);
    const readout = await page.textContent('#readout');
    check(readout.includes('exact: ' + String(w)), `hover: read-out '${readout}' lacks 'exact: ${w}'`);
  }

  // play steps forward, pause stops
  await setSlider(page, 0);
  await page.click('#snapshot-play');
  check((await page.textContent('#snapshot-play')) === 'pause', 'play: the button does not say pause');
  await page.waitForFunction(() => Number(document.getElementById('snapshot-slider').value) >= 1, null, { timeout: 5000 });
  await page.click('#snapshot-play');
  const stopped = await page.inputValue('#snapshot-slider');
  await page.waitForTimeout(800);
  check((await page.inputValue('#snapshot-slider')) === stopped && (await page.textContent('#snapshot-play')) === 'play',
        'pause: the slider moved on');

  if (shotAt) {
    await setSlider(page, shotK === null ? last : Math.min(shotK, last));
    await page.mouse.move(0, 0);
    await page.screenshot({ path: shotAt, fullPage: true });
  }
  check(problems.length === 0, problems.join('; '));
  await page.close();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  await run(browser);
} catch (e) {
  failures++;
  console.error('FAIL ' + (e && e.stack ? e.stack : e));
} finally {
  await browser.close();
}
console.log(`snapshots browser: ${checks} checks, ${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
