/*
 * lab.js - the attention lab's page: translate live, compare and explain a
 * step, over the JSON API of `attend serve` (docs/lab.md). It only draws:
 * every number comes from the server (the library's translation and its
 * weights, a step's explanation, the colour ramp of at_viz_colour).
 *
 *   translate live  a model and a text; each pause in typing (DEBOUNCE_MS)
 *                   asks the server, and only the answer to the latest
 *                   request is drawn. A translator (/api/translate): a
 *                   map, output units down the side, input units along
 *                   the top; hovering a cell shows its weight (exactly in
 *                   the read-out). A multi-head model gets a head selector
 *                   (all heads as a grid, their mean, or one head). A
 *                   classifier (/api/classify): the label, the classes'
 *                   probabilities and the words and sentences shaded. A
 *                   language model (/api/lm): the continuation, the next
 *                   characters and the attention of every layer and head.
 *                   The maps, documents, selectors and curves are drawn by
 *                   attend's HTML figures' own code, put in below at build
 *                   time (the @include lines; src/viz/js/).
 *   compare         the same text under up to four models side by side
 *                   (/api/compare), on the one colour scale [0, 1].
 *   explain a step  a model and a text (the translate view's, carried
 *                   over until changed here); clicking an output unit or
 *                   a row of the map opens that decoder step
 *                   (/api/explain): its equations as docs/explain.md
 *                   writes them, each followed by its numbers. Left and
 *                   right move between steps.
 */
'use strict';
(function () {
  var DEBOUNCE_MS = 200, MAX_COMPARED = 4;
  var anchors = [[0, 0, 0], [255, 255, 255]];
  var models = [];
  var tip = document.getElementById('tooltip');
  var readout = document.getElementById('readout');

  /* ------------------------------------------- drawing shared with the figures */
  // @include heatmap.js
  // @include document.js
  // @include select.js
  // @include curves.js

  /* ------------------------------------------------------------ helpers */
  function titleOf(r) { return [r.model, r.decoder, r.attention].filter(Boolean).join(' \u00b7 '); }

  /* POST body as JSON to path; resolves to {status, data}. A newer call of
   * the same channel aborts the older one, so only the latest is drawn. */
  var inFlight = {};
  function post(channel, path, body) {
    if (inFlight[channel]) inFlight[channel].abort();
    var control = new AbortController();
    inFlight[channel] = control;
    return fetch(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body), signal: control.signal
    }).then(function (r) {
      return r.json().then(function (data) { return { status: r.status, data: data }; });
    }).then(function (answer) {
      /* A newer request on the channel may have started after this answer
       * had already arrived (too late to abort it): drop the answer as an
       * aborted one, so that only the latest request is ever drawn. */
      if (inFlight[channel] !== control) {
        var stale = new Error('a newer request replaced this one');
        stale.name = 'AbortError';
        throw stale;
      }
      inFlight[channel] = null;
      return answer;
    });
  }
  function debounce(fn) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, DEBOUNCE_MS);
    };
  }
  /* a request that failed (not one aborted for a newer one) said in node */
  function failed(node) {
    return function (e) {
      if (e.name !== 'AbortError') setStatus(node, 'the server did not answer: ' + e.message, true);
    };
  }
  function setStatus(node, text, isError) {
    node.textContent = text;
    node.classList.toggle('error', !!isError);
  }

  /* ------------------------------------------------------------ heatmaps */
  /* A translation r (target x source, weights [H][Ty][Tx]) as heatmap.js's map. */
  function mapOf(r) {
    return { title: r.input, model: r.model, mechanism: r.attention, heads: r.heads,
      rows: r.target.length, cols: r.source.length, row_labels: r.target, col_labels: r.source,
      weights: r.weights };
  }
  /* One translation's map into box as the figures draw it (buildPanel): a
   * head selector for several heads, its choice kept in choice.value
   * across redraws (choice.fallback at first). Returns the panel. */
  function drawMap(box, r, choice, name) {
    box.textContent = '';
    hideTip(); /* its cell is gone */
    if (!r.target.length) {
      box.appendChild(el('p', 'empty', 'The output is empty: no map to draw.'));
      return null;
    }
    var panel = buildPanel(mapOf(r), name, false);
    var select = panel.querySelector('select');
    if (select) {
      var keep = choice.value;
      if (keep === undefined || !Array.prototype.some.call(select.options, function (o) { return o.value === keep; }))
        keep = choice.fallback;
      if (select.value !== keep) {
        select.value = keep;
        select.dispatchEvent(new Event('change'));
      }
      choice.value = keep;
      select.addEventListener('change', function () { choice.value = select.value; });
    }
    box.appendChild(panel);
    return panel;
  }
  function colourBar(box) {
    box.textContent = '';
    box.appendChild(buildColourBar());
  }

  /* ------------------------------------------------------ translate live */
  var modelSelect = document.getElementById('model-select');
  var textInput = document.getElementById('text-input');
  var output = document.getElementById('output');
  var translateStatus = document.getElementById('translate-status');
  var translateMap = document.getElementById('translate-map');
  var headChoice = { fallback: 'all' };

  /* model's translation of text into a view: its status node says where
   * it is; clear() empties the view for an empty text, draw(r) draws an
   * answer. The channel keeps only the latest request. */
  function translateFor(channel, model, text, statusNode, clear, draw) {
    if (!model) return;
    if (!text) {
      clear();
      setStatus(statusNode, 'type something to translate');
      return;
    }
    setStatus(statusNode, 'translating\u2026');
    post(channel, '/api/translate', { model: model, text: text }).then(function (a) {
      if (a.status !== 200) setStatus(statusNode, a.data.error || 'error ' + a.status, true);
      else draw(a.data);
    }).catch(failed(statusNode));
  }
  function kindOf(name) {
    var m = models.filter(function (x) { return x.name === name; })[0];
    return m ? m.kind : 'seq2seq';
  }
  /* The view of the chosen model: a translation, a classification or a
   * language model's next character. */
  function translateNow() {
    var kind = kindOf(modelSelect.value);
    output.title = '';
    if (kind === 'classifier') return classifyNow();
    if (kind === 'language-model') return predictNow();
    translateFor('translate', modelSelect.value, textInput.value, translateStatus, function () {
      output.textContent = '';
      translateMap.textContent = '';
    }, function (r) {
      output.textContent = r.output;
      setStatus(translateStatus, r.decoder + ' decoder, ' + r.attention + ' attention' +
        (r.heads > 1 ? ', ' + r.heads + ' heads' : ''));
      drawMap(translateMap, r, headChoice, 'translate');
      readout.textContent = 'Hover a cell: rows are output units, columns are input units.';
    });
  }
  /* POST body to path for the translate view's model; draw(answer) unless
   * the text is empty or the server refuses it (said in the status). */
  function askFor(path, body, working, draw) {
    if (!body.text) {
      output.textContent = '';
      translateMap.textContent = '';
      setStatus(translateStatus, 'type something');
      return;
    }
    setStatus(translateStatus, working);
    post('translate', path, body).then(function (a) {
      if (a.status !== 200) setStatus(translateStatus, a.data.error || 'error ' + a.status, true);
      else draw(a.data);
    }).catch(failed(translateStatus));
  }
  /* the exact weight of a hovered word, after renderDoc's read-out */
  function exactWords(box) {
    box.addEventListener('mouseover', function (ev) {
      var span = ev.target.closest('.word');
      if (span) readout.textContent += '  [exact: ' + span.dataset.w + ']';
    });
  }

  /* ------------------------------------------------------------ classify */
  /* A classifier's answer c: the label, every class's probability, and the
   * document shaded by its word and sentence attention (document.js, the
   * look of `attend classify --plot x.html`). A flat model's words are one
   * sentence of weight 1, as the figure shows them. */
  function classifyNow() {
    askFor('/api/classify', { model: modelSelect.value, text: textInput.value }, 'classifying\u2026',
      function (c) {
        var k = c.classes.indexOf(c.label);
        output.textContent = c.label;
        setStatus(translateStatus, c.classifier + ' classifier: p(' + c.label + ') = ' + fmt(c.probs[k]) +
          (c.unknown ? ', ' + c.unknown + ' unknown words' : ''));
        translateMap.textContent = '';
        hideTip();
        var table = el('table', 'class-probs');
        c.classes.forEach(function (name, i) {
          var tr = el('tr', i === k ? 'chosen' : '');
          tr.appendChild(el('th', '', name));
          var bar = el('span', 'pbar');
          bar.style.width = Math.round(160 * c.probs[i]) + 'px';
          var td = el('td');
          td.appendChild(bar);
          tr.appendChild(td);
          var p = el('td', 'p', fmt(c.probs[i]));
          p.title = String(c.probs[i]);
          p.dataset.p = String(c.probs[i]);
          tr.appendChild(p);
          table.appendChild(tr);
        });
        translateMap.appendChild(table);
        if (!c.sentences.length) {
          translateMap.appendChild(el('p', 'empty', 'No word in the text: the model read one unknown word.'));
          return;
        }
        var flat = c.sentences[0].weight === null;
        var doc = { sentences: flat ? [{ weight: 1, words: [].concat.apply([], c.sentences.map(function (x) { return x.words; })),
          word_weights: [].concat.apply([], c.sentences.map(function (x) { return x.word_weights; })) }] : c.sentences };
        var box = el('div', 'doc-view');
        var paint = null;
        translateMap.appendChild(box); /* levelMode reads the radios in the page */
        box.appendChild(levelChoice(function () { paint(levelMode()); }));
        box.appendChild(el('p', 'legend', docLegend));
        paint = renderDoc(box, doc, '');
        paint(levelMode());
        exactWords(box);
        readout.textContent = 'Hover a word: its weight in its sentence, and the sentence\u2019s weight.';
      });
  }

  /* ------------------------------------------------------ language models */
  /* A language model's answer r: the five most likely next characters, a
   * greedy continuation, and the attention of the characters it read over
   * each other (the look of `attend lm attention --out x.html`): a layer
   * selector, a head selector (all heads in a grid, their mean, or one). */
  var LM_CONTINUATION = 40;
  var lmChoice = { layer: null, head: 'all' };
  function predictNow() {
    askFor('/api/lm', { model: modelSelect.value, text: textInput.value, length: LM_CONTINUATION },
      'predicting\u2026', drawPrediction);
  }
  function drawPrediction(r) {
    output.textContent = r.continuation;
    output.title = 'the next ' + LM_CONTINUATION + ' characters, each the most likely';
    setStatus(translateStatus, r.lm + ' language model' + (r.weights ? ', ' + r.layers + ' layers \u00d7 ' +
      r.heads + ' heads' : '') + '; it reads the last ' + r.context + ' characters');
    translateMap.textContent = '';
    hideTip();
    var next = el('table', 'next-chars');
    var head = el('tr');
    ['next', 'character', 'p'].forEach(function (t) { head.appendChild(el('th', '', t)); });
    next.appendChild(head);
    r.next.forEach(function (n, k) {
      var tr = el('tr', k === 0 ? 'chosen' : '');
      tr.appendChild(el('td', '', String(k + 1)));
      tr.appendChild(el('td', 'unit', '\u201c' + shown(n.unit) + '\u201d'));
      var p = el('td', 'p', fmt(n.p));
      p.title = String(n.p);
      p.dataset.p = String(n.p);
      tr.appendChild(p);
      var bar = el('span', 'pbar');
      bar.style.width = Math.round(160 * n.p) + 'px';
      var td = el('td');
      td.appendChild(bar);
      tr.appendChild(td);
      next.appendChild(tr);
    });
    translateMap.appendChild(next);
    if (!r.weights) {
      translateMap.appendChild(el('p', 'empty', 'A ' + r.lm + ' model has no attention to show.'));
      return;
    }
    var choices = el('div', 'choices');
    var layers = selectOf('lm-layer', 'layer', r.layers, []);
    var heads = selectOf('lm-head', 'head', r.heads, [['all', 'all heads'], ['mean', 'mean of heads']]);
    if (lmChoice.layer === null || lmChoice.layer >= r.layers) lmChoice.layer = r.layers - 1;
    layers.select.value = String(lmChoice.layer);
    heads.select.value = lmChoice.head === 'all' || lmChoice.head === 'mean' || Number(lmChoice.head) < r.heads
      ? lmChoice.head : 'all';
    choices.appendChild(layers.label);
    if (r.heads > 1) choices.appendChild(heads.label);
    translateMap.appendChild(choices);
    var body = el('div', 'lm-maps');
    translateMap.appendChild(body);
    function draw() {
      lmChoice.layer = Number(layers.select.value);
      lmChoice.head = heads.select.value;
      body.textContent = '';
      hideTip();
      var l = lmChoice.layer, map = { title: r.prompt, model: r.model, mechanism: 'layer ' + (l + 1),
        heads: r.heads, rows: r.read.length, cols: r.read.length, row_labels: r.read, col_labels: r.read,
        weights: r.weights[l] };
      var hs = lmChoice.head === 'all' ? r.weights[l].map(function (_, h) { return h; })
        : [lmChoice.head === 'mean' ? 'mean' : Number(lmChoice.head)];
      var grid = el('div', 'head-grid');
      var cell = Math.max(6, Math.min(28, Math.floor((hs.length > 1 ? 900 : 720) / (hs.length > 1 ? 2 : 1) / r.read.length)));
      hs.forEach(function (h) {
        var box = el('div', 'head-box');
        if (r.heads > 1) box.appendChild(el('h3', '', h === 'mean' ? 'mean of heads' : 'head ' + (h + 1)));
        box.appendChild(buildTable(map, h, cell, l));
        grid.appendChild(box);
      });
      body.appendChild(grid);
    }
    layers.select.addEventListener('change', draw);
    heads.select.addEventListener('change', draw);
    draw();
    readout.textContent = 'Hover a cell: row = the character attending, column = the character it attends to.';
  }
  var translateSoon = debounce(translateNow);
  textInput.addEventListener('input', translateSoon);
  modelSelect.addEventListener('change', function () {
    headChoice.value = undefined;
    translateNow();
  });
  /* ------------------------------------------------------------- compare */
  var compareBox = document.getElementById('compare-models');
  var compareText = document.getElementById('compare-text');
  var compareStatus = document.getElementById('compare-status');
  var comparePanels = document.getElementById('compare-panels');
  var compareChoices = {};

  function comparedModels() {
    return Array.prototype.map.call(compareBox.querySelectorAll('input:checked'), function (c) { return c.value; });
  }
  function limitChoices() {
    var full = comparedModels().length >= MAX_COMPARED;
    compareBox.querySelectorAll('input').forEach(function (c) { c.disabled = full && !c.checked; });
  }
  /* One model's panel: its name and output above its map (buildPanel's
   * panel), or its error. */
  function comparePanel(r, index) {
    var holder = el('div');
    var choice = compareChoices[r.model] || (compareChoices[r.model] = { fallback: 'mean' });
    var panel = r.error ? null : drawMap(holder, r, choice, 'compare-' + index);
    if (!panel) { /* an error, or an empty output */
      panel = el('section', 'panel');
      panel.appendChild(r.error ? el('p', 'error', r.error) : holder.firstChild);
    }
    panel.id = 'compare-panel-' + index;
    if (!r.error) panel.insertBefore(el('p', 'panel-output', 'output: ' + r.output), panel.firstChild);
    panel.insertBefore(el('h2', '', titleOf(r)), panel.firstChild);
    return panel;
  }
  function compareNow() {
    var chosen = comparedModels(), text = compareText.value;
    if (!chosen.length || !text) {
      comparePanels.textContent = '';
      setStatus(compareStatus, chosen.length ? 'type something to translate' : 'pick up to four models');
      return;
    }
    setStatus(compareStatus, 'translating\u2026');
    post('compare', '/api/compare', { models: chosen, text: text }).then(function (a) {
      if (a.status !== 200) {
        setStatus(compareStatus, a.data.error || 'error ' + a.status, true);
        return;
      }
      comparePanels.textContent = '';
      a.data.results.forEach(function (r, i) { comparePanels.appendChild(comparePanel(r, i)); });
      setStatus(compareStatus, a.data.results.length + ' models, one colour scale (0 to 1); a multi-head model shows the mean of its heads unless you pick one');
    }).catch(failed(compareStatus));
  }
  var compareSoon = debounce(compareNow);
  compareText.addEventListener('input', compareSoon);
  compareBox.addEventListener('change', function () { limitChoices(); compareNow(); });

  /* ------------------------------------------------------ explain a step */
  /* A model and a text: /api/translate draws the map and the output, one
   * button per output unit (and END); clicking one, or a row of the map,
   * asks /api/explain for that step and writes its equations, each
   * followed by its numbers. Left/right move between steps. */
  var explainModel = document.getElementById('explain-model');
  var explainText = document.getElementById('explain-text');
  var explainOutput = document.getElementById('explain-output');
  var explainStatus = document.getElementById('explain-status');
  var explainMap = document.getElementById('explain-map');
  var explainStep = document.getElementById('explain-step');
  var explainChoice = { fallback: 'mean' };
  var explained = { translation: null, step: -1, edited: false };
  var SHORT = 6; /* a longer vector shows its first SHORT values, its norm, and opens to all */

  /* a number of a step: 4 decimals, or 3 digits in exponent form when tiny or huge */
  function num(v) {
    if (v === null) return '\u2212\u221e';
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(4);
  }
  function signed(v) { return (v >= 0 ? '+' : '') + num(v); }
  function norm(v) { return Math.sqrt(v.reduce(function (s, x) { return s + x * x; }, 0)); }
  function eq(box, no, text) {
    var p = el('p', 'eq');
    if (no) p.appendChild(el('span', 'no', '(' + no + ')'));
    p.appendChild(document.createTextNode(text));
    box.appendChild(p);
  }
  function vec(box, name, v) {
    if (!v) return;
    var d = el('details', 'vec');
    d.dataset.name = name;
    var head = v.slice(0, v.length <= SHORT + 2 ? v.length : SHORT).map(signed).join(', ');
    d.appendChild(el('summary', '', name + ' = [' + head + (v.length > SHORT + 2 ? ', \u2026' : '') +
      ']  (' + v.length + ' values)  \u2016\u00b7\u2016 = ' + num(norm(v))));
    d.appendChild(el('div', 'all', '[' + v.map(signed).join(', ') + ']'));
    box.appendChild(d);
  }
  /* One head's row over the input units: the units, e_j, α_j (coloured as
   * the map), the contributions, and the family's own rows. */
  function stepRow(box, x, h) {
    var rows = [['units', 'j', x.source.map(shown)], ['scores', 'e_j', x.scores[h].map(num)],
      ['alpha', '\u03b1_j', x.weights[h]], ['share', 'contribution_j', x.contributions[h].map(num)]];
    var f = x.family || {};
    if (f.in_window) rows.push(['window', 'in window', f.in_window.map(function (w) { return w > 0 ? 'in' : ''; })],
      ['align', 'align_j', f.align.map(num)]);
    if (f.p_choose) rows.push(['pchoose', 'p_j = \u03c3(e_j)', f.p_choose.map(num)]);
    if (f.prior) rows.push(['prior', '\u03b1\u0302_{t\u22121}(j)', f.prior.map(num)], ['base', 'y_t(j)', f.base.map(num)]);
    var table = el('table', 'steprow-table');
    table.dataset.head = h;
    rows.forEach(function (r) {
      var tr = el('tr', r[0]);
      tr.appendChild(el('th', '', r[1]));
      r[2].forEach(function (v, j) {
        var td;
        if (r[0] === 'alpha') {
          td = el('td', 'alpha' + (v > 0.6 ? ' light' : ''), num(v));
          td.style.background = colour(v);
          td.dataset.v = String(v);
          td.title = '\u03b1_' + j + ' = ' + v;
        } else {
          td = el('td', '', v);
        }
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    var wrap = el('div', 'steprow');
    wrap.appendChild(table);
    box.appendChild(wrap);
  }
  /* The inputs of largest contribution to head h's context, up to 3. */
  function topInputs(box, x, h) {
    var share = x.contributions[h];
    var order = share.map(function (_, j) { return j; }).sort(function (a, b) { return share[b] - share[a]; });
    var words = order.slice(0, 3).map(function (j) {
      return 'j=' + j + ' \u201c' + shown(x.source[j]) + '\u201d ' + num(share[j]);
    });
    var p = el('p', 'note top-inputs', 'top contributing inputs: ' + words.join(',  ') +
      '  (of \u2016c\u2016 = ' + num(norm(x.head_context[h])) + ')');
    box.appendChild(p);
  }
  function attentionPart(box, x, seed) {
    box.appendChild(el('h3', '', 'Attention (' + x.model.attention + ')'));
    eq(box, seed ? 1 : '', x.equations.score);
    eq(box, seed ? 2 : '', x.equations.weights);
    var f = x.family || {};
    if (f.in_window) box.appendChild(el('p', 'note', 'p_t = ' + num(f.p_t) + ', window ' +
      (f.window ? 'j = ' + f.window[0] + ' \u2026 ' + f.window[1] : 'empty')));
    if (f.p_choose) box.appendChild(el('p', 'note', 'the scan starts at j = ' + f.previous_position + ' and ' +
      (f.position < 0 ? 'finds no p_j \u2265 0.5: \u03b1 = 0, c_t = 0' : 'stops at j = ' + f.position + ', where \u03b1_j = 1')));
    for (var h = 0; h < x.model.heads; h++) {
      if (x.model.heads > 1) box.appendChild(el('h3', 'head', 'head ' + (h + 1)));
      stepRow(box, x, h);
      topInputs(box, x, h);
    }
    box.appendChild(el('p', 'note', x.equations.contribution));
    if (x.model.heads > 1) {
      eq(box, '', x.equations.context);
      x.head_context.forEach(function (c, h) { vec(box, 'c_' + (h + 1), c); });
    } else {
      eq(box, seed ? 3 : '', x.equations.context);
    }
    vec(box, 'c_t', x.context);
  }
  function seedPart(box, x) {
    box.appendChild(el('h3', '', 'The decoder (the seed\u2019s AttentionDecoder)'));
    vec(box, 'y_{t\u22121}', x.input);
    vec(box, 's_{t\u22121}', x.state_prev);
    eq(box, 4, x.equations.reset);
    vec(box, 'r_t', x.reset);
    eq(box, 5, x.equations.update);
    vec(box, 'z_t', x.update);
    eq(box, 6, x.equations.proposal);
    vec(box, 's\u0303_t', x.proposal);
    eq(box, 7, x.equations.next_state);
    vec(box, 's_t', x.state);
    eq(box, 8, x.equations.output);
  }
  function luongState(box, x) {
    var cell = x.model.cell === 'lstm' ? 'LSTM' : 'GRU';
    box.appendChild(el('h3', '', 'The decoder\u2019s state (luong, ' + cell + ' cell, input feeding)'));
    eq(box, '', x.equations.state);
    vec(box, 'x_t', x.input);
    vec(box, 'h_{t\u22121}', x.state_prev);
    vec(box, 'c_{t\u22121} cell', x.memory_prev);
    vec(box, 'h_t', x.state);
    vec(box, 'c_t cell', x.memory);
  }
  function luongOutput(box, x) {
    box.appendChild(el('h3', '', 'The attentional state and the output'));
    eq(box, '', x.equations.attentional);
    vec(box, 'h\u0303_t', x.attentional);
    eq(box, '', x.equations.output);
  }
  function topFive(box, x) {
    var table = el('table', 'top5');
    var head = el('tr');
    ['top-5', 'unit', 'p', 'logit'].forEach(function (t) { head.appendChild(el('th', '', t)); });
    table.appendChild(head);
    x.top.forEach(function (c, k) {
      var tr = el('tr', c.id === x.chosen.id ? 'chosen' : '');
      [String(k + 1), '\u201c' + shown(c.unit) + '\u201d', c.probability.toFixed(5), signed(x.logits[c.id])]
        .forEach(function (t) { tr.appendChild(el('td', '', t)); });
      table.appendChild(tr);
    });
    box.appendChild(table);
  }
  function drawStep(x) {
    explainStep.textContent = '';
    var seed = x.model.decoder === 'seed';
    var title = el('h2', '', 'Step ' + x.step + ': fed y_{t\u22121} = \u201c' + shown(x.previous.unit) +
      '\u201d, wrote \u201c' + shown(x.chosen.unit) + '\u201d (p = ' + x.chosen.probability.toFixed(5) + ')');
    explainStep.appendChild(title);
    explainStep.dataset.step = x.step;
    if (!seed) luongState(explainStep, x);
    attentionPart(explainStep, x, seed);
    if (seed) seedPart(explainStep, x);
    else luongOutput(explainStep, x);
    topFive(explainStep, x);
  }
  function markStep(k) {
    explainOutput.querySelectorAll('button').forEach(function (b) {
      b.classList.toggle('picked', Number(b.dataset.step) === k);
    });
    explainMap.querySelectorAll('th.row').forEach(function (th) {
      th.classList.toggle('picked', Number(th.dataset.row) === k);
    });
  }
  function openStep(k) {
    var r = explained.translation;
    if (!r || k < 0 || k > r.target.length) return;
    explained.step = k;
    markStep(k);
    setStatus(explainStatus, 'explaining step ' + k + '\u2026');
    post('explain-step', '/api/explain', { model: r.model, text: r.input, step: k }).then(function (a) {
      if (a.status !== 200) {
        setStatus(explainStatus, a.data.error || 'error ' + a.status, true);
        return;
      }
      drawStep(a.data);
      explainStep.dataset.model = r.model;
      setStatus(explainStatus, 'step ' + k + ' of the steps 0 \u2026 ' + r.target.length + ' (\u2190 \u2192 move)');
    }).catch(failed(explainStatus));
  }
  function outputButtons(r) {
    explainOutput.textContent = '';
    r.target.concat(['<END>']).forEach(function (unit, k) {
      var b = el('button', k === r.target.length ? 'end' : '', k === r.target.length ? 'END' : shown(unit));
      b.type = 'button';
      b.dataset.step = k;
      b.title = 'step ' + k + (k === r.target.length ? ': the step that wrote END' : '');
      b.addEventListener('click', function () { openStep(k); });
      explainOutput.appendChild(b);
    });
  }
  function explainTranslate() {
    translateFor('explain-map', explainModel.value, explainText.value, explainStatus, function () {
      explainOutput.textContent = '';
      explainMap.textContent = '';
    }, function (r) {
      explained.translation = r;
      outputButtons(r);
      drawMap(explainMap, r, explainChoice, 'explain');
      if (explained.step >= 0 && explained.step <= r.target.length) openStep(explained.step);
      else setStatus(explainStatus, 'click an output unit or a row of the map to open its step');
    });
  }
  var explainSoon = debounce(explainTranslate);
  explainText.addEventListener('input', function () {
    explained.edited = true;
    explainSoon();
  });
  /* a row of the map (its label or any of its cells) opens its step */
  explainMap.addEventListener('click', function (ev) {
    var at = ev.target.closest('th.row, td.cell');
    if (at) openStep(Number(at.dataset.row));
  });
  explainModel.addEventListener('change', function () {
    explained.edited = true;
    explainChoice.value = undefined;
    explainTranslate();
  });
  /* Left/right move between steps, unless a text box or a list has the keys. */
  document.addEventListener('keydown', function (ev) {
    if (document.getElementById('view-explain').hidden || !explained.translation) return;
    if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
    var tag = document.activeElement && document.activeElement.tagName;
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') return;
    ev.preventDefault();
    var k = Math.max(explained.step, 0) + (ev.key === 'ArrowRight' ? 1 : -1);
    if (explained.step < 0) k = 0;
    openStep(Math.min(Math.max(k, 0), explained.translation.target.length));
  });
  /* Entering the view: the translate view's model and text come along
   * until the learner types here. */
  function enterExplain() {
    if (!explained.edited && modelSelect.value && kindOf(modelSelect.value) === 'seq2seq') {
      var changed = explainModel.value !== modelSelect.value || explainText.value !== textInput.value;
      explainModel.value = modelSelect.value;
      explainText.value = textInput.value;
      if (changed || !explained.translation) {
        explained.step = -1;
        explainTranslate();
      }
    } else if (!explained.translation) {
      explainTranslate();
    }
  }

  /* ------------------------------------------------------ watch training */
  /* One run at a time (/api/training): the form starts one on generated
   * dates, stop raises the trainer's flag. While the run trains the page
   * asks every POLL_MS for what is new (?since=the last step it holds),
   * redraws the loss and validation curves and the probes' maps at the
   * chosen snapshot; the slider scrubs back through the snapshots (at its
   * right end it follows the newest). Attached to `attend train --serve`,
   * the page opens here and only watches. */
  var POLL_MS = 500;
  var trainForm = document.getElementById('train-form');
  var trainStart = document.getElementById('train-start');
  var trainStop = document.getElementById('train-stop');
  var trainStatus = document.getElementById('train-status');
  var trainCurves = document.getElementById('train-curves');
  var trainMaps = document.getElementById('train-maps');
  var slider = document.getElementById('snapshot-slider');
  var play = document.getElementById('snapshot-play');
  var stepLabel = document.getElementById('snapshot-step');
  var watched = { run: null, state: 'idle', steps: 0, probes: [], points: [], shots: [], since: -1,
    attached: false, timer: null, marks: [], choices: {} };

  function drawCurves() {
    trainCurves.textContent = '';
    var pts = watched.points, xmax = watched.steps;
    var loss = pts.filter(function (p) { return p.loss !== null; });
    watched.marks = [linePlot(trainCurves, 'curve-loss', 'training loss (smoothed)', [{ name: 'loss',
      xs: loss.map(function (p) { return p.step; }), ys: loss.map(function (p) { return p.loss; }) }], xmax, false)];
    var evals = pts.filter(function (p) { return p.valid; }), names = [];
    evals.forEach(function (p) { Object.keys(p.valid).forEach(function (k) { if (names.indexOf(k) < 0) names.push(k); }); });
    var valid = names.map(function (k) {
      var e = evals.filter(function (p) { return p.valid[k] !== null && p.valid[k] !== undefined; });
      return { name: k, dots: true, xs: e.map(function (p) { return p.step; }), ys: e.map(function (p) { return p.valid[k]; }) };
    });
    var unit = valid.every(function (s) { return s.ys.every(function (y) { return y >= 0 && y <= 1; }); });
    watched.marks.push(linePlot(trainCurves, 'curve-valid', valid.length ? 'validation' : 'validation (none yet)', valid, xmax, unit));
  }
  /* snapshot i: its step on the curves, each probe's output and map */
  function showShot(i) {
    var s = watched.shots[i];
    if (!s) return;
    var text = 'step ' + s.step + ' (snapshot ' + (i + 1) + ' of ' + watched.shots.length + ')';
    if (s.loss !== null) text += ' \u00b7 loss ' + fmt(s.loss);
    if (Object.keys(s.valid).length) text += ' \u00b7 ' + metricText(s.valid);
    stepLabel.textContent = text;
    watched.marks.forEach(function (m) { m(s.step); });
    trainMaps.textContent = '';
    watched.probes.forEach(function (probe, p) {
      var box = el('section', 'panel probe');
      box.id = 'probe-' + p;
      var h2 = el('h2', '', probe);
      h2.dir = 'auto';
      box.appendChild(h2);
      var got = s.probes[p];
      var out = el('p', 'panel-output', '\u2192 ' + (got.output === '' ? '(empty)' : got.output));
      out.dir = 'auto';
      box.appendChild(out);
      var body = el('div', 'panel-body');
      if (got.weights === null) body.appendChild(el('p', 'empty', 'no output yet: the model wrote END first'));
      else {
        var r = { model: probe + ' (step ' + s.step + ')', source: got.source, target: got.target,
          heads: got.heads, weights: got.weights };
        drawMap(body, r, watched.choices[p] || (watched.choices[p] = { fallback: 'mean' }), 'probe-' + p);
      }
      box.appendChild(body);
      trainMaps.appendChild(box);
    });
  }
  function describeRun(t) {
    var where = t.run ? t.run + ' (' + t.attention + ' attention): ' : '';
    var text = where + ({ idle: 'no run yet', running: 'training', stopped: 'stopped', finished: 'finished',
      failed: 'failed' })[t.state] + (t.state === 'idle' ? '' : ', step ' + t.step + ' of ' + t.steps);
    if (t.model && t.state !== 'running') text += '; its model ' + t.model + ' is in the models list';
    if (t.error) text += ' \u2014 ' + t.error;
    setStatus(trainStatus, text, t.state === 'failed');
  }
  /* merge an answer of /api/training into the page */
  function takeTraining(t) {
    if (t.run !== watched.run) { /* a new run: start over */
      watched.run = t.run;
      watched.points = [];
      watched.shots = [];
      watched.since = -1;
      watched.choices = {};
    }
    var ended = watched.state === 'running' && t.state !== 'running';
    watched.state = t.state;
    watched.steps = t.steps;
    watched.attached = t.attached;
    if (t.probes.length) watched.probes = t.probes;
    var last = watched.points.length ? watched.points[watched.points.length - 1].step : -1;
    t.points.forEach(function (p) { if (p.step > last) watched.points.push(p); });
    var lastShot = watched.shots.length ? watched.shots[watched.shots.length - 1].step : -1;
    var following = Number(slider.value) >= watched.shots.length - 1;
    var added = 0;
    t.snapshots.forEach(function (s) { if (s.step > lastShot) { watched.shots.push(s); added++; } });
    /* the next poll asks for what comes after both */
    watched.since = Math.min(watched.points.length ? watched.points[watched.points.length - 1].step : -1,
      watched.shots.length ? watched.shots[watched.shots.length - 1].step : -1);
    describeRun(t);
    trainStart.disabled = t.attached || t.state === 'running';
    trainStop.disabled = t.attached || t.state !== 'running';
    slider.disabled = play.disabled = !watched.shots.length;
    slider.max = String(Math.max(watched.shots.length - 1, 0));
    drawCurves();
    if (added && following) slider.value = slider.max;
    if (watched.shots.length) showShot(Number(slider.value));
    if (ended && !t.attached) refreshModels();
  }
  function poll() {
    clearTimeout(watched.timer);
    watched.timer = null;
    var path = '/api/training' + (watched.since >= 0 ? '?since=' + watched.since : '');
    return getJSON(path).then(function (t) {
      if (t.run !== watched.run && watched.since >= 0) { /* another run: all of it */
        watched.since = -1;
        return getJSON('/api/training');
      }
      return t;
    }).then(function (t) {
      takeTraining(t);
      if (t.state === 'running') watched.timer = setTimeout(poll, POLL_MS);
    }).catch(function (e) {
      setStatus(trainStatus, watched.attached && watched.state === 'running'
        ? 'the run ended: attend train stopped serving with it' : 'the server did not answer: ' + e.message, !watched.attached);
    });
  }
  trainForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var steps = Number(document.getElementById('train-steps').value);
    var body = { attention: document.getElementById('train-attention').value, steps: steps,
      size: document.getElementById('train-size').value };
    setStatus(trainStatus, 'starting\u2026');
    post('train-start', '/api/training/start', body).then(function (a) {
      if (a.status !== 202) {
        setStatus(trainStatus, a.data.error || 'error ' + a.status, true);
        return;
      }
      slider.value = '0';
      poll();
    }).catch(failed(trainStatus));
  });
  trainStop.addEventListener('click', function () {
    trainStop.disabled = true;
    post('train-stop', '/api/training/stop', {}).then(function (a) {
      if (a.status !== 202) setStatus(trainStatus, a.data.error || 'error ' + a.status, true);
      poll();
    }).catch(failed(trainStatus));
  });
  var playTimer = null;
  function stopPlaying() {
    if (playTimer !== null) clearInterval(playTimer);
    playTimer = null;
    play.textContent = 'play';
  }
  slider.addEventListener('input', function () { showShot(Number(slider.value)); });
  play.addEventListener('click', function () {
    if (playTimer !== null) return stopPlaying();
    if (Number(slider.value) >= watched.shots.length - 1) slider.value = '0';
    showShot(Number(slider.value));
    play.textContent = 'pause';
    playTimer = setInterval(function () {
      var i = Number(slider.value) + 1;
      if (i > watched.shots.length - 1) return stopPlaying();
      slider.value = String(i);
      showShot(i);
    }, 600);
  });

  /* --------------------------------------------------------------- views */
  var views = ['translate', 'compare', 'explain', 'train'];
  function show(view) {
    views.forEach(function (v) {
      document.getElementById('view-' + v).hidden = v !== view;
      document.getElementById('nav-' + v).classList.toggle('active', v === view);
    });
    readout.textContent = 'Hover a cell: rows are output units, columns are input units.';
    hideTip();
    if (view === 'compare' && !comparePanels.childNodes.length) compareNow();
    if (view === 'train') {
      readout.textContent = 'Hover a cell of a probe\u2019s map: rows are output units, columns are input units; the slider goes back through the snapshots.';
      poll();
    }
    if (view === 'explain') {
      readout.textContent = 'Click an output unit, or a row of the map, to open its step; \u2190 and \u2192 move between steps.';
      enterExplain();
    }
  }
  views.forEach(function (v) {
    document.getElementById('nav-' + v).addEventListener('click', function () { show(v); });
  });

  /* ---------------------------------------------------------------- start */
  /* the models list again (a run the lab trained joins it) */
  function refreshModels() {
    getJSON('/api/models').then(function (got) {
      var chosen = [modelSelect.value, explainModel.value], compared = comparedModels();
      models = got.models;
      modelSelect.textContent = explainModel.textContent = '';
      compareBox.querySelectorAll('label').forEach(function (l) { l.remove(); });
      fillModels(true);
      modelSelect.value = chosen[0] || modelSelect.value;
      explainModel.value = chosen[1] || explainModel.value;
      compareBox.querySelectorAll('input').forEach(function (c) { c.checked = compared.indexOf(c.value) >= 0; });
      limitChoices();
    }).catch(function () {});
  }
  function fillModels(again) {
    var usable = models.filter(function (m) { return m.kind === 'seq2seq'; });
    var what = { classifier: ' (classifier)', 'language-model': ' (language model)' };
    models.forEach(function (m) {
      var opt = el('option', '', m.name + (what[m.kind] || ''));
      opt.value = m.name;
      modelSelect.appendChild(opt);
      opt = el('option', '', m.name + (m.kind === 'seq2seq' ? '' : ' (' + m.kind + ': no decoder steps)'));
      opt.value = m.name;
      opt.disabled = m.kind !== 'seq2seq';
      explainModel.appendChild(opt);
    });
    usable.forEach(function (m, i) {
      var label = el('label');
      var box = el('input');
      box.type = 'checkbox';
      box.value = m.name;
      box.checked = i < 2;
      label.appendChild(box);
      label.appendChild(document.createTextNode(' ' + m.name));
      compareBox.appendChild(label);
    });
    limitChoices();
    if (again) return;
    if (!models.length) {
      readout.textContent = 'No model under the --models folder: train one (attend train --out DIR/NAME); it appears here when this list is asked for again (reload the page).';
      return;
    }
    modelSelect.value = (usable[0] || models[0]).name;
    if (usable.length) explainModel.value = usable[0].name;
    readout.textContent = 'Type in the text box: the output and its attention follow.';
    translateNow();
  }
  function getJSON(path) {
    return fetch(path).then(function (r) {
      if (!r.ok) throw new Error(path + ' answered ' + r.status);
      return r.json();
    });
  }
  Promise.all([getJSON('/api/colours'), getJSON('/api/models'), getJSON('/api/training')]).then(function (got) {
    anchors = got[0].colours;
    models = got[1].models;
    colourBar(document.getElementById('translate-colourbar'));
    colourBar(document.getElementById('compare-colourbar'));
    colourBar(document.getElementById('train-colourbar'));
    var t = got[2];
    if (t.attached) /* attend train --serve: no models, only its run */
      views.slice(0, 3).forEach(function (v) { document.getElementById('nav-' + v).disabled = true; });
    else fillModels();
    if (t.attached || t.state === 'running') show('train'); /* a run to watch: open on it */
  }).catch(function (e) {
    readout.textContent = 'The server did not answer: ' + e.message;
  });
})();
