/*
 * lab.js - the attention lab's page: translate live and compare, over the
 * JSON API of `attend serve` (docs/lab.md). It only draws: every number
 * comes from the server (the library's translation and its weights, the
 * colour ramp of at_viz_colour).
 *
 *   translate live  a model and a text; each pause in typing (DEBOUNCE_MS)
 *                   asks /api/translate, and only the answer to the latest
 *                   request is drawn. A map: output units down the side,
 *                   input units along the top, as attend's HTML figure
 *                   draws it; hovering a cell shows its exact weight. A
 *                   multi-head model gets a head selector (all heads as a
 *                   grid, their mean, or one head).
 *   compare         the same text under up to four models side by side
 *                   (/api/compare), on the one colour scale [0, 1].
 */
'use strict';
(function () {
  var DEBOUNCE_MS = 200, MAX_COMPARED = 4;
  var anchors = [[0, 0, 0], [255, 255, 255]];
  var models = [];
  var tip = document.getElementById('tooltip');
  var readout = document.getElementById('readout');

  /* ------------------------------------------------------------ helpers */
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function colour(v) {
    if (!(v > 0)) v = 0;
    if (v > 1) v = 1;
    var pos = v * (anchors.length - 1);
    var i = Math.min(Math.floor(pos), anchors.length - 2), f = pos - i;
    var c = [0, 1, 2].map(function (k) {
      return Math.round(anchors[i][k] + f * (anchors[i + 1][k] - anchors[i][k]));
    });
    return 'rgb(' + c.join(',') + ')';
  }
  var symbols = { ' ': '\u2423', '\n': '\u23ce', '\t': '\u21e5' };
  function shown(unit) { return symbols.hasOwnProperty(unit) ? symbols[unit] : unit; }
  function moveTip(ev, text) {
    tip.textContent = text;
    tip.style.display = 'block';
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth - 4) x = ev.clientX - tip.offsetWidth - 10;
    if (y + tip.offsetHeight > window.innerHeight - 4) y = ev.clientY - tip.offsetHeight - 10;
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { tip.style.display = 'none'; }
  function nameOf(r) { return [r.model, r.decoder, r.attention].filter(Boolean).join(' \u00b7 '); }

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
      if (inFlight[channel] === control) inFlight[channel] = null;
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
  function setStatus(node, text, isError) {
    node.textContent = text;
    node.classList.toggle('error', !!isError);
  }

  /* ------------------------------------------------------------ heatmaps */
  /* A translation r: r.target (rows) x r.source (cols), weights [H][Ty][Tx]. */
  function value(r, head, t, j) {
    if (head !== 'mean') return r.weights[head][t][j];
    var s = 0;
    for (var h = 0; h < r.heads; h++) s += r.weights[h][t][j];
    return s / r.heads;
  }
  function clearMarks(table) {
    table.querySelectorAll('.hl, .active').forEach(function (e) {
      e.classList.remove('hl');
      e.classList.remove('active');
    });
  }
  function onCell(ev) {
    var td = ev.target.closest('td.cell');
    if (!td) return;
    var table = td.closest('table'), r = table.attendResult;
    clearMarks(table);
    var t = Number(td.dataset.row), j = Number(td.dataset.col);
    table.querySelector('th.row[data-row="' + t + '"]').classList.add('hl');
    table.querySelector('th.col[data-col="' + j + '"]').classList.add('hl');
    td.classList.add('active');
    var head = table.dataset.head;
    var where = r.heads > 1 ? (head === 'mean' ? 'mean of heads, ' : 'head ' + (Number(head) + 1) + ', ') : '';
    moveTip(ev, td.dataset.w);
    readout.textContent = r.model + ': ' + where + 'output \u201c' + shown(r.target[t]) + '\u201d (' + (t + 1) +
      ') \u2190 input \u201c' + shown(r.source[j]) + '\u201d (' + (j + 1) + '): ' + td.dataset.w;
  }
  function buildTable(r, head, cell) {
    var table = el('table', 'heatmap');
    table.attendResult = r;
    table.dataset.head = head;
    table.style.setProperty('--cell', cell + 'px');
    var tr = el('tr');
    tr.appendChild(el('th', 'corner'));
    r.source.forEach(function (unit, j) {
      var th = el('th', 'col', shown(unit));
      th.dataset.col = j;
      th.dir = 'auto';
      tr.appendChild(th);
    });
    var thead = el('thead');
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = el('tbody');
    r.target.forEach(function (unit, t) {
      var row = el('tr');
      var th = el('th', 'row', shown(unit));
      th.dataset.row = t;
      th.dir = 'auto';
      row.appendChild(th);
      r.source.forEach(function (_, j) {
        var w = value(r, head, t, j);
        var td = el('td', 'cell');
        td.style.background = colour(w);
        td.dataset.row = t;
        td.dataset.col = j;
        td.dataset.w = String(w);
        row.appendChild(td);
      });
      tbody.appendChild(row);
    });
    table.appendChild(tbody);
    table.addEventListener('mouseover', onCell);
    table.addEventListener('mousemove', function (ev) {
      var td = ev.target.closest('td.cell');
      if (td) moveTip(ev, td.dataset.w);
    });
    table.addEventListener('mouseleave', function () { clearMarks(table); hideTip(); });
    return table;
  }
  function cellSize(r, grid) {
    var longest = Math.max(r.target.length, r.source.length, 1);
    return Math.max(grid ? 8 : 12, Math.min(28, Math.floor((grid ? 420 : 720) / longest)));
  }
  /* One translation's map into box: a head selector for several heads
   * (its choice kept in choice.value across redraws). */
  function drawMap(box, r, choice, idSuffix) {
    box.textContent = '';
    hideTip(); /* its cell is gone */
    if (!r.target.length) {
      box.appendChild(el('p', 'empty', 'The output is empty: no map to draw.'));
      return;
    }
    if (r.heads > 1) {
      var label = el('label', 'head-choice', 'heads: ');
      var select = el('select', 'head-select');
      select.id = 'head-select' + idSuffix;
      [['all', 'all heads'], ['mean', 'mean of heads']].forEach(function (o) {
        var opt = el('option', '', o[1]);
        opt.value = o[0];
        select.appendChild(opt);
      });
      for (var h = 0; h < r.heads; h++) {
        var opt = el('option', '', 'head ' + (h + 1));
        opt.value = String(h);
        select.appendChild(opt);
      }
      if (choice.value === undefined || (choice.value !== 'all' && choice.value !== 'mean' && Number(choice.value) >= r.heads))
        choice.value = choice.fallback;
      select.value = choice.value;
      select.addEventListener('change', function () {
        choice.value = select.value;
        drawMap(box, r, choice, idSuffix);
      });
      label.appendChild(select);
      box.appendChild(label);
    }
    var pick = r.heads > 1 ? choice.value : '0';
    if (pick !== 'all') {
      box.appendChild(buildTable(r, pick === 'mean' ? 'mean' : Number(pick), cellSize(r, false)));
      return;
    }
    var grid = el('div', 'head-grid');
    for (var k = 0; k < r.heads; k++) {
      var head = el('div', 'head-box');
      head.appendChild(el('h3', '', 'head ' + (k + 1)));
      head.appendChild(buildTable(r, k, cellSize(r, true)));
      grid.appendChild(head);
    }
    box.appendChild(grid);
  }
  function colourBar(box) {
    box.textContent = '';
    var bar = el('div', 'colourbar');
    var stops = anchors.map(function (c, i) {
      return 'rgb(' + c.join(',') + ') ' + (100 * i / (anchors.length - 1)) + '%';
    });
    var ramp = el('div', 'ramp');
    ramp.style.background = 'linear-gradient(to right, ' + stops.join(', ') + ')';
    bar.appendChild(el('span', '', 'weight 0'));
    bar.appendChild(ramp);
    bar.appendChild(el('span', '', '1'));
    box.appendChild(bar);
  }

  /* ------------------------------------------------------ translate live */
  var modelSelect = document.getElementById('model-select');
  var textInput = document.getElementById('text-input');
  var output = document.getElementById('output');
  var translateStatus = document.getElementById('translate-status');
  var translateMap = document.getElementById('translate-map');
  var headChoice = { fallback: 'all' };

  function translateNow() {
    var text = textInput.value, model = modelSelect.value;
    if (!model) return;
    if (!text) {
      output.textContent = '';
      translateMap.textContent = '';
      setStatus(translateStatus, 'type something to translate');
      return;
    }
    setStatus(translateStatus, 'translating\u2026');
    post('translate', '/api/translate', { model: model, text: text }).then(function (a) {
      if (a.status !== 200) {
        setStatus(translateStatus, a.data.error || 'error ' + a.status, true);
        return;
      }
      output.textContent = a.data.output;
      setStatus(translateStatus, a.data.decoder + ' decoder, ' + a.data.attention + ' attention' +
        (a.data.heads > 1 ? ', ' + a.data.heads + ' heads' : ''));
      drawMap(translateMap, a.data, headChoice, '');
      readout.textContent = 'Hover a cell: rows are output units, columns are input units.';
    }).catch(function (e) {
      if (e.name !== 'AbortError') setStatus(translateStatus, 'the server did not answer: ' + e.message, true);
    });
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
  function comparePanel(r, index) {
    var panel = el('section', 'panel');
    panel.id = 'compare-panel-' + index;
    panel.appendChild(el('h2', '', nameOf(r)));
    if (r.error) {
      panel.appendChild(el('p', 'error', r.error));
      return panel;
    }
    panel.appendChild(el('p', 'panel-output', 'output: ' + r.output));
    var body = el('div', 'panel-body');
    var choice = compareChoices[r.model] || (compareChoices[r.model] = { fallback: 'mean' });
    drawMap(body, r, choice, '-' + index);
    panel.appendChild(body);
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
    }).catch(function (e) {
      if (e.name !== 'AbortError') setStatus(compareStatus, 'the server did not answer: ' + e.message, true);
    });
  }
  var compareSoon = debounce(compareNow);
  compareText.addEventListener('input', compareSoon);
  compareBox.addEventListener('change', function () { limitChoices(); compareNow(); });

  /* --------------------------------------------------------------- views */
  var views = ['translate', 'compare'];
  function show(view) {
    views.forEach(function (v) {
      document.getElementById('view-' + v).hidden = v !== view;
      document.getElementById('nav-' + v).classList.toggle('active', v === view);
    });
    readout.textContent = 'Hover a cell: rows are output units, columns are input units.';
    hideTip();
    if (view === 'compare' && !comparePanels.childNodes.length) compareNow();
  }
  views.forEach(function (v) {
    document.getElementById('nav-' + v).addEventListener('click', function () { show(v); });
  });

  /* ---------------------------------------------------------------- start */
  function fillModels() {
    var usable = models.filter(function (m) { return m.kind === 'seq2seq'; });
    models.forEach(function (m) {
      var opt = el('option', '', m.name + (m.kind === 'seq2seq' ? '' : ' (' + m.kind + ': does not translate)'));
      opt.value = m.name;
      opt.disabled = m.kind !== 'seq2seq';
      modelSelect.appendChild(opt);
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
    if (!usable.length) {
      readout.textContent = 'No seq2seq model under the --models folder: train one (attend train --out DIR/NAME) and restart attend serve.';
      return;
    }
    modelSelect.value = usable[0].name;
    readout.textContent = 'Type in the text box: the output and its attention follow.';
    translateNow();
  }
  function getJSON(path) {
    return fetch(path).then(function (r) {
      if (!r.ok) throw new Error(path + ' answered ' + r.status);
      return r.json();
    });
  }
  Promise.all([getJSON('/api/colours'), getJSON('/api/models')]).then(function (got) {
    anchors = got[0].colours;
    models = got[1].models;
    colourBar(document.getElementById('translate-colourbar'));
    colourBar(document.getElementById('compare-colourbar'));
    fillModels();
  }).catch(function (e) {
    readout.textContent = 'The server did not answer: ' + e.message;
  });
})();
