// lab_browser.mjs URL [--screenshots DIR] - the attention lab (attend serve
// at URL, over at least two seq2seq models, one of them multi-head) in
// headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
//   - every request the page makes goes to URL's host and port (any other
//     is aborted and fails the test); no console error, no page error;
//   - translate live: typing a date redraws the output and the map, which
//     are the API's own answer for that text (output, units, weights);
//     hovering a cell shows its weight in the tooltip and exactly in the
//     read-out, as attend's HTML figures do (the same script);
//   - switching to the multi-head model shows the head selector and every
//     head in a grid; picking one head shows that head alone;
//   - compare: two models side by side, each panel the API's translation
//     under that model; more can be ticked up to four, then the other
//     boxes are disabled (checked when there are five models or more);
//   - explain a step: the translate view's model and text are carried
//     over; clicking an output unit (luong) or a row of the map (the seed)
//     opens that step, whose α row is the API's /api/explain, with the
//     family's equations (the seed's numbered 1 to 8) and its vectors (one
//     opened to all its values); left/right move between steps, but not
//     while the text box has the keys;
//   - watch training: the form starts a 50-step run (default sizes); the
//     loss curve grows while it trains (its point count seen rising),
//     a snapshot arrives, the state ends "finished" and the run's model
//     joins the models list; the slider's right end shows the last
//     snapshot, whose maps are the API's (/api/training) number for
//     number; scrubbing to 0 shows the untrained model's snapshot and
//     moves the curves' step marker; hovering a cell shows its weight.
// --screenshots DIR writes lab-translate.png, lab-heads.png,
// lab-classify.png, lab-lm.png, lab-compare.png, lab-explain.png and
// lab-training.png there (for
// docs/lab.md). Exits non-zero on any failure.
import { chromium } from 'playwright-core';
import path from 'node:path';

const url = process.argv[2];
const shotIndex = process.argv.indexOf('--screenshots');
const shots = shotIndex > 0 ? path.resolve(process.argv[shotIndex + 1]) : null;
const origin = new URL(url).origin;
let failures = 0, checks = 0, expected400 = 0;
function check(cond, what) {
  checks++;
  if (!cond) { failures++; console.error('FAIL ' + what); }
}

async function api(route, body) {
  const r = await fetch(origin + route, body === undefined ? {} : {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}

// The text typed as a person would (one key at a time), then the page's
// answer: wait until the output shows what the API gives for the text.
async function typeAndWait(page, selector, text, model) {
  await page.fill(selector, '');
  await page.type(selector, text, { delay: 30 });
  const want = await api('/api/translate', { model, text });
  await page.waitForFunction((out) => document.getElementById('output').textContent === out,
                             want.output, { timeout: 10000 });
  await page.waitForFunction(() => !document.getElementById('translate-status').textContent.includes('translating'));
  return want;
}

async function mapMatches(page, root, want, head, what) {
  const rows = await page.locator(root + ' th.row').allTextContents();
  const cols = await page.locator(root + ' th.col').allTextContents();
  const shown = (u) => (u === ' ' ? '\u2423' : u);
  check(JSON.stringify(rows) === JSON.stringify(want.target.map(shown)),
        `${what}: rows ${JSON.stringify(rows)} != the API's target ${JSON.stringify(want.target)}`);
  check(JSON.stringify(cols) === JSON.stringify(want.source.map(shown)),
        `${what}: columns ${JSON.stringify(cols)} != the API's source ${JSON.stringify(want.source)}`);
  const ws = await page.locator(root + ' td.cell').evaluateAll((tds) => tds.map((td) => Number(td.dataset.w)));
  const flat = want.weights[head].flat();
  const bad = ws.findIndex((w, i) => w !== flat[i]);
  check(ws.length === flat.length && bad < 0,
        `${what}: ${ws.length} cells, the API ${flat.length}; first difference at ${bad}`);
}

async function translateView(page, models) {
  const [one, multi] = models;
  await page.selectOption('#model-select', one.name);
  const want = await typeAndWait(page, '#text-input', '12 June 1999', one.name);
  check(want.output.length > 0, `the API gave no output for '12 June 1999'`);
  await mapMatches(page, '#translate-map', want, 0, 'translate ' + one.name);
  // hover the cell of the largest weight of the first row
  const row0 = want.weights[0][0];
  const j = row0.indexOf(Math.max(...row0));
  await page.locator(`#translate-map td.cell[data-row="0"][data-col="${j}"]`).hover();
  // the figure's look (heatmap.js): the tooltip to 4 decimals, the read-out exact
  const tip = (await page.textContent('#tooltip')).trim();
  check(tip === row0[j].toFixed(4), `hover: tooltip '${tip}', want ${row0[j].toFixed(4)}`);
  const readout = await page.textContent('#readout');
  check(readout.includes('[exact: ' + String(row0[j]) + ']'),
        `hover: read-out '${readout}' lacks the exact weight ${row0[j]}`);
  const hl = await page.locator('#translate-map th.hl').allTextContents();
  check(hl.length === 2, `hover highlights ${hl.length} labels, want the row's and the column's`);
  if (shots) await page.screenshot({ path: path.join(shots, 'lab-translate.png'), fullPage: true });

  // the multi-head model: a head selector, all heads in a grid, then one
  await page.selectOption('#model-select', multi.name);
  const mw = await api('/api/translate', { model: multi.name, text: '12 June 1999' });
  await page.waitForSelector('#head-select-translate', { timeout: 10000 });
  check(!(await page.isVisible('#tooltip')), 'the tooltip of a cell that is gone stays on screen');
  const grid = await page.locator('#translate-map .head-grid table.heatmap').count();
  check(grid === multi.heads, `multi-head: the grid shows ${grid} heads, want ${multi.heads}`);
  if (shots) await page.screenshot({ path: path.join(shots, 'lab-heads.png'), fullPage: true });
  await page.selectOption('#head-select-translate', '1');
  const tables = await page.locator('#translate-map table.heatmap').count();
  check(tables === 1, `head 2 picked: ${tables} tables shown, want 1`);
  await mapMatches(page, '#translate-map', mw, 1, 'head 2 of ' + multi.name);
  await page.locator('#translate-map td.cell[data-row="0"][data-col="0"]').hover();
  const r2 = await page.textContent('#readout');
  check(r2.includes('head 2') && r2.includes(String(mw.weights[1][0][0])),
        `head 2: read-out '${r2}' does not name head 2 and its weight`);
  // typing keeps the chosen head
  await typeAndWait(page, '#text-input', '1 may 2020', multi.name);
  check(await page.inputValue('#head-select-translate') === '1', 'typing lost the chosen head');
  // an input the model refuses: the error is said, not drawn (the browser
  // logs the 400 answer as a console error: that one is expected)
  expected400++;
  await page.fill('#text-input', '7'.repeat(300));
  await page.waitForFunction(() => document.getElementById('translate-status').classList.contains('error'));
  const err = await page.textContent('#translate-status');
  check(/long|units|max/.test(err), `a refused input says '${err}'`);
}

// The classifier and the language model in the translate view: their
// answers drawn as the API gives them, hover gives the exact weight.
async function typeFor(page, text, done, arg) {
  await page.fill('#text-input', '');
  await page.type('#text-input', text, { delay: 20 });
  await page.waitForFunction(done, arg, { timeout: 10000 });
  await page.waitForFunction(() => !/classifying|predicting|translating/.test(
    document.getElementById('translate-status').textContent));
}

async function classifierView(page, model) {
  await page.fill('#text-input', '');
  await page.selectOption('#model-select', model.name);
  const text = 'buy cheap pills now! see you at noon.';
  const want = await api('/api/classify', { model: model.name, text });
  await typeFor(page, text, () => document.querySelectorAll('#translate-map .word').length > 0 &&
    document.getElementById('text-input').value.endsWith('noon.'));
  check((await page.textContent('#output')) === want.label, `classify: output is not the label ${want.label}`);
  const ps = await page.locator('#translate-map .class-probs td.p').evaluateAll((t) => t.map((x) => Number(x.dataset.p)));
  check(JSON.stringify(ps) === JSON.stringify(want.probs), `classify: probabilities ${ps}, the API ${want.probs}`);
  const words = await page.locator('#translate-map .word').evaluateAll((w) => w.map((x) => [x.textContent, Number(x.dataset.w)]));
  const apiWords = want.sentences.flatMap((x) => x.words.map((w, i) => [w, x.word_weights[i]]));
  check(JSON.stringify(words) === JSON.stringify(apiWords),
        `classify: words ${JSON.stringify(words).slice(0, 200)}, the API ${JSON.stringify(apiWords).slice(0, 200)}`);
  const sentences = await page.locator('#translate-map .sentence').count();
  check(sentences === want.sentences.length, `classify: ${sentences} sentences shown, the API ${want.sentences.length}`);
  const word = page.locator('#translate-map .word').nth(2);
  await word.hover();
  const w = await word.getAttribute('data-w');
  const r = await page.textContent('#readout');
  check(r.includes('[exact: ' + w + ']') && r.includes('sentence 1'), `classify: hover read-out '${r}'`);
  check((await page.textContent('#tooltip')).trim() === Number(w).toFixed(4), 'classify: hover tooltip');
  await page.click('#level-sentences');
  const bg = await page.locator('#translate-map .sentence').first().evaluate((p) => p.style.background);
  check(bg && bg !== 'transparent', `classify: the sentences level does not shade sentences (${bg})`);
  await page.click('#level-both');
  if (shots) await page.screenshot({ path: path.join(shots, 'lab-classify.png'), fullPage: true });
}

async function languageModelView(page, model) {
  await page.fill('#text-input', '');
  await page.selectOption('#model-select', model.name);
  const text = 'call me';
  const want = await api('/api/lm', { model: model.name, text, length: 40 });
  await typeFor(page, text, (out) => document.getElementById('output').textContent === out &&
    document.querySelectorAll('#translate-map table.heatmap').length > 0, want.continuation);
  const ps = await page.locator('#translate-map .next-chars td.p').evaluateAll((t) => t.map((x) => Number(x.dataset.p)));
  check(JSON.stringify(ps) === JSON.stringify(want.next.map((n) => n.p)), `lm: next ${ps}, the API ${JSON.stringify(want.next)}`);
  check(await page.locator('#lm-layer option').count() === want.layers, 'lm: a layer option per layer');
  check(await page.inputValue('#lm-layer') === String(want.layers - 1), 'lm: the last layer is not shown first');
  const grid = await page.locator('#translate-map table.heatmap').count();
  check(grid === want.heads, `lm: ${grid} heads in the grid, want ${want.heads}`);
  await page.selectOption('#lm-layer', '0');
  await page.selectOption('#lm-head', '1');
  check(await page.locator('#translate-map table.heatmap').count() === 1, 'lm: one head picked, one map');
  const ws = await page.locator('#translate-map td.cell').evaluateAll((t) => t.map((x) => Number(x.dataset.w)));
  const flat = want.weights[0][1].flat();
  check(ws.length === flat.length && ws.every((w, i) => w === flat[i]), 'lm: layer 1 head 2 differs from the API');
  const cell = page.locator('#translate-map td.cell[data-row="3"][data-col="1"]');
  await cell.hover();
  const tip = (await page.textContent('#tooltip')).trim();
  check(tip.endsWith(': ' + String(want.weights[0][1][3][1])), `lm: hover tooltip '${tip}', want the exact weight`);
  check((await page.textContent('#readout')).includes('layer 1, head 2'), 'lm: the read-out does not name the layer and head');
  await page.selectOption('#lm-head', 'all');
  await page.selectOption('#lm-layer', String(want.layers - 1));
  if (shots) await page.screenshot({ path: path.join(shots, 'lab-lm.png'), fullPage: true });
}

async function compareView(page, models) {
  await page.click('#nav-compare');
  check(await page.isVisible('#view-compare') && !(await page.isVisible('#view-translate')),
        'the compare view does not replace the translate view');
  await page.fill('#compare-text', '');
  await page.type('#compare-text', '3 May 2011', { delay: 20 });
  const chosen = await page.locator('#compare-models input:checked').evaluateAll((cs) => cs.map((c) => c.value));
  check(chosen.length === 2, `compare starts with ${chosen.length} models checked, want 2`);
  const want = await api('/api/compare', { models: chosen, text: '3 May 2011' });
  await page.waitForFunction((n) => document.querySelectorAll('#compare-panels .panel table.heatmap').length >= n &&
                             !document.getElementById('compare-status').textContent.includes('translating'),
                             chosen.length, { timeout: 10000 });
  const heads = await page.locator('#compare-panels .panel h2').allTextContents();
  check(heads.length === chosen.length && heads.every((h, i) => h.startsWith(chosen[i])),
        `compare panels ${JSON.stringify(heads)} for ${JSON.stringify(chosen)}`);
  for (let i = 0; i < chosen.length; i++) {
    const r = want.results[i];
    const head = r.heads > 1 ? 'mean' : 0;
    if (head === 0) await mapMatches(page, `#compare-panel-${i}`, r, 0, 'compare panel ' + i);
    const out = await page.textContent(`#compare-panel-${i} .panel-output`);
    check(out === 'output: ' + r.output, `compare panel ${i}: '${out}', want ${r.output}`);
  }
  // at most four: the rest are disabled once four are checked
  const boxes = page.locator('#compare-models input');
  const n = await boxes.count();
  for (let i = 0; i < n && (await page.locator('#compare-models input:checked').count()) < 4; i++)
    if (!(await boxes.nth(i).isChecked())) await boxes.nth(i).check();
  const checked = await page.locator('#compare-models input:checked').count();
  const disabled = await page.locator('#compare-models input:disabled').count();
  check(checked === Math.min(4, n) && disabled === n - checked,
        `with ${checked} of ${n} checked, ${disabled} are disabled`);
  await page.waitForFunction((k) => document.querySelectorAll('#compare-panels .panel').length === k &&
                             !document.getElementById('compare-status').textContent.includes('translating'),
                             checked, { timeout: 10000 });
  if (shots) await page.screenshot({ path: path.join(shots, 'lab-compare.png'), fullPage: true });
}

// The step panel shows step k: wait for it, then check its α row against
// the API's /api/explain for the same model, text and step.
async function stepMatches(page, model, text, k, what) {
  await page.waitForFunction(([k, model]) => {
    const box = document.getElementById('explain-step');
    return box.dataset.step === String(k) && box.dataset.model === model &&
      !document.getElementById('explain-status').textContent.includes('explaining');
  }, [k, model], { timeout: 10000 });
  const want = await api('/api/explain', { model, text, step: k });
  const shown = await page.locator('#explain-step table.steprow-table[data-head="0"] td.alpha')
    .evaluateAll((tds) => tds.map((td) => Number(td.dataset.v)));
  const bad = shown.findIndex((a, j) => a !== want.weights[0][j]);
  check(shown.length === want.weights[0].length && bad < 0,
        `${what}: α shown ${JSON.stringify(shown.slice(0, 4))}... (${shown.length}), the API's ` +
        `${JSON.stringify(want.weights[0].slice(0, 4))}... (${want.weights[0].length}); first difference at ${bad}`);
  const title = await page.textContent('#explain-step h2');
  const unit = want.chosen.unit === ' ' ? '\u2423' : want.chosen.unit;
  check(title.startsWith(`Step ${k}:`) && title.includes(`wrote \u201c${unit}\u201d`),
        `${what}: the title '${title}' is not step ${k} writing '${want.chosen.unit}'`);
  const picked = await page.locator('#explain-output button.picked').getAttribute('data-step');
  check(picked === String(k), `${what}: the output unit marked is ${picked}, want ${k}`);
  const top = await page.locator('#explain-step table.top5 tr').count();
  check(top === want.top.length + 1, `${what}: ${top - 1} rows of top-5, the API has ${want.top.length}`);
  return want;
}

async function explainView(page, models) {
  const seed = models.find((m) => m.decoder === 'seed');
  const luong = models.find((m) => m.decoder !== 'seed' && m.heads === 1);
  const text = '3 May 2011';
  // the translate view's model and text come along
  await page.click('#nav-translate');
  expected400++; // the text left by the translate view is refused by this model too
  await page.selectOption('#model-select', luong.name);
  await typeAndWait(page, '#text-input', text, luong.name);
  await page.click('#nav-explain');
  check(await page.isVisible('#view-explain') && !(await page.isVisible('#view-translate')),
        'the explain view does not replace the translate view');
  check(await page.inputValue('#explain-model') === luong.name && await page.inputValue('#explain-text') === text,
        'the translate view\'s model and text are not carried over');
  const tr = await api('/api/translate', { model: luong.name, text });
  await page.waitForFunction((n) => document.querySelectorAll('#explain-output button').length === n,
                             tr.target.length + 1, { timeout: 10000 });
  // a luong model: click an output unit
  await page.click('#explain-output button[data-step="1"]');
  const lx = await stepMatches(page, luong.name, text, 1, 'explain ' + luong.name + ' step 1');
  const eqs = await page.locator('#explain-step .eq').allTextContents();
  check(eqs.some((e) => e.includes(lx.equations.score)) && eqs.some((e) => e.includes('h\u0303_t = tanh(W_c [c_t; h_t])')),
        `luong step: the equations shown lack the score or h̃_t: ${JSON.stringify(eqs)}`);
  if (!seed) return;
  // the seed: its eqs. 1-8, a row of the map, then the keyboard
  await page.selectOption('#explain-model', seed.name);
  const st = await api('/api/translate', { model: seed.name, text });
  await page.waitForFunction((out) => Array.from(document.querySelectorAll('#explain-output button'))
                             .map((b) => b.textContent).join('') === out, st.target.map((u) => (u === ' ' ? '\u2423' : u)).join('') + 'END',
                             { timeout: 10000 });
  await stepMatches(page, seed.name, text, 1, 'explain ' + seed.name + ' step 1 kept after the model switch');
  await page.click('#explain-map th.row[data-row="6"]');
  const sx = await stepMatches(page, seed.name, text, 6, 'explain ' + seed.name + ' step 6 (a row of the map)');
  const numbers = await page.locator('#explain-step .eq .no').allTextContents();
  check(JSON.stringify(numbers) === JSON.stringify(['(1)', '(2)', '(3)', '(4)', '(5)', '(6)', '(7)', '(8)']),
        `seed step: equations numbered ${JSON.stringify(numbers)}, want (1) to (8)`);
  const names = await page.locator('#explain-step details.vec').evaluateAll((ds) => ds.map((d) => d.dataset.name));
  for (const v of ['r_t', 'z_t', 's\u0303_t', 's_t', 'c_t'])
    check(names.includes(v), `seed step: no vector ${v} among ${JSON.stringify(names)}`);
  // a vector opens to all its values
  await page.click('#explain-step details.vec[data-name="z_t"] summary');
  const all = (await page.textContent('#explain-step details.vec[data-name="z_t"] .all')).split(',').length;
  check(await page.isVisible('#explain-step details.vec[data-name="z_t"] .all') && all === sx.update.length,
        `z_t opened shows ${all} values, want ${sx.update.length}`);
  if (shots) await page.screenshot({ path: path.join(shots, 'lab-explain.png'), fullPage: true });
  await page.keyboard.press('ArrowRight');
  await stepMatches(page, seed.name, text, 7, 'ArrowRight from step 6');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await stepMatches(page, seed.name, text, 5, 'ArrowLeft twice from step 7');
  // typing in the text box moves its caret, not the step
  await page.focus('#explain-text');
  await page.keyboard.press('ArrowLeft');
  await page.waitForTimeout(300);
  check(await page.getAttribute('#explain-step', 'data-step') === '5', 'ArrowLeft in the text box moved the step');
}

// probe p's map in the page against the API's snapshot s
async function probeMatches(page, shot, p, what) {
  const got = shot.probes[p];
  if (got.weights === null) {
    check((await page.textContent('#probe-' + p)).includes('no output yet'), `${what}: no "no output yet"`);
    return;
  }
  await mapMatches(page, '#probe-' + p, got, 0, what);
}

async function trainView(page) {
  await page.click('#nav-train');
  check(await page.isVisible('#view-train'), 'the training view does not open');
  await page.selectOption('#train-attention', 'dot');
  await page.fill('#train-steps', '50');
  await page.selectOption('#train-size', 'default');
  await page.click('#train-start');
  // watch it train: the loss curve's point count, sampled
  const counts = [];
  const end = Date.now() + 120000;
  let status = '';
  while (Date.now() < end) {
    const n = await page.evaluate(() => {
      const s = document.querySelector('#curve-loss .series');
      return s ? s.getAttribute('points').split(' ').filter(Boolean).length : 0;
    });
    status = await page.textContent('#train-status');
    if (/running|training/.test(status) && n > 0) counts.push(n);
    if (/finished|stopped|failed/.test(status)) break;
    await page.waitForTimeout(50);
  }
  check(/finished/.test(status), 'the run did not finish: ' + status);
  check(counts.length >= 2 && counts[counts.length - 1] > counts[0],
        'the loss curve did not grow while training: ' + JSON.stringify(counts));
  const t = await api('/api/training');
  check(t.state === 'finished' && t.step === 50 && t.model, 'the API state: ' + JSON.stringify(
    { state: t.state, step: t.step, model: t.model }));
  await page.waitForFunction((n) => document.querySelectorAll('#curve-loss .series').length &&
    document.querySelector('#curve-loss .series').getAttribute('points').split(' ').filter(Boolean).length === n,
    t.points.filter((p) => p.loss !== null).length, { timeout: 10000 });
  const last = t.snapshots.length - 1;
  check(last >= 1 && await page.getAttribute('#snapshot-slider', 'max') === String(last),
        `the slider holds ${await page.getAttribute('#snapshot-slider', 'max')} + 1 snapshots, the API ${last + 1}`);
  check(await page.locator('#train-maps .probe').count() === t.probes.length, 'not one panel per probe');
  for (let p = 0; p < t.probes.length; p++)
    await probeMatches(page, t.snapshots[last], p, `probe ${p} at the last snapshot`);
  const options = await page.locator('#model-select option').evaluateAll((o) => o.map((x) => x.value));
  check(options.includes(t.model), `the run's model ${t.model} is not in the models list`);
  // hover: the exact weight
  const cell = page.locator('#probe-0 td.cell').first();
  if (await cell.count()) {
    await cell.hover();
    check((await page.textContent('#readout')).includes('[exact: ' + await cell.getAttribute('data-w') + ']'),
          'hovering a probe cell does not show its weight');
  }
  if (shots) await page.screenshot({ path: path.join(shots, 'lab-training.png'), fullPage: true });
  // scrub back to the untrained model
  await page.locator('#snapshot-slider').fill('0');
  check((await page.textContent('#snapshot-step')).startsWith('step 0 '), 'the slider at 0 is not step 0');
  check(await page.getAttribute('#curve-loss .step-marker', 'data-step') === '0', 'the step marker did not move');
  for (let p = 0; p < t.probes.length; p++)
    await probeMatches(page, t.snapshots[0], p, `probe ${p} at step 0`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const models = (await api('/api/models')).models.filter((m) => m.kind === 'seq2seq');
  const single = models.find((m) => m.heads === 1), multi = models.find((m) => m.heads > 1);
  if (!single || !multi) throw new Error('the lab test needs a one-head and a multi-head model');
  const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (new URL(u).origin === origin) return route.continue();
    problems.push('a request left the server: ' + u);
    return route.abort();
  });
  await page.goto(url);
  await page.waitForSelector('#translate-map table.heatmap', { timeout: 10000 });
  check(await page.isEnabled('#nav-explain') && await page.isEnabled('#nav-train'),
        'explain a step or watch training is not enabled');
  await translateView(page, [single, multi]);
  const everything = (await api('/api/models')).models;
  const classifier = everything.find((m) => m.kind === 'classifier');
  const lm = everything.find((m) => m.kind === 'language-model');
  if (!classifier || !lm) throw new Error('the lab test needs a classifier and a language model');
  await classifierView(page, classifier);
  await languageModelView(page, lm);
  await compareView(page, [single, multi]);
  await explainView(page, models);
  await trainView(page);
  const unexpected = problems.filter((p) => !(/status of 400/.test(p) && expected400-- > 0));
  check(unexpected.length === 0, 'the page: ' + unexpected.join('; '));
  await page.close();
} catch (e) {
  failures++;
  console.error('FAIL ' + (e && e.stack ? e.stack : e));
} finally {
  await browser.close();
}
console.log(`lab browser: ${checks} checks, ${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
