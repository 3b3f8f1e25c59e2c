/*
 * html.c - self-contained interactive HTML pages: one file, no network.
 *
 * The page carries its data as JSON in a <script type="application/json">
 * element (every < > & escaped, so no label can close the element) and a
 * small script that builds the view from it:
 *   maps      a table per map (or per head) with the output tokens down
 *             the side and the input tokens along the top; hovering a cell
 *             shows its weight beside the pointer and in a read-out line,
 *             and highlights its output and input tokens; a multi-head map
 *             gets a head selector (all heads as a grid, their mean, or
 *             one head); several maps sit side by side.
 *   layers    the layers of a language model on one passage (a map per
 *             layer, rows = the position attending, cols = the position
 *             attended to): a layer selector and a head selector choose
 *             one layer or all, one head, their mean or all; hovering a
 *             cell shows the two characters and the exact weight.
 *   document  static (HAN) attention: the text itself, each word shaded by
 *             its weight and each sentence by its own, at word level,
 *             sentence level or both (word shade scaled by the square root
 *             of the sentence's, as Yang et al. 2016 show it).
 *   documents a report of many documents (a classifier's test messages),
 *             each under its title, a note and its tags, shaded by the same
 *             renderDoc as the one-document page; "show:" radios keep the
 *             documents of one tag, and a document is drawn when it first
 *             comes near the screen, so a long report opens at once.
 *             Weights are written to 4 significant digits.
 *   snapshots attention while training (its data written by snapshots.c):
 *             a slider and a play button choose a snapshot; each probe's
 *             map is drawn as a map above, and a marker on the loss and
 *             validation curves (inline SVG) shows the chosen step.
 * The colour map's anchors go into the data, so the page and the PNG use
 * the same colours. Weights are written as the shortest decimal that
 * reads back as the same float, so "exact" means exact. The CSS and script below are kept one line per string.
 */
#include "viz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const page_css[] = {
    "body { font-family: \"Noto Sans\", \"Noto Sans Arabic\", \"DejaVu Sans\", \"Noto Sans CJK SC\", sans-serif; margin: 20px; color: #222; background: #fff; }\n",
    "h1 { font-size: 20px; margin: 0 0 4px; }\n",
    "#subheading { color: #555; margin: 0 0 12px; font-size: 14px; }\n",
    "#readout { position: sticky; top: 0; background: #f5f5f7; border: 1px solid #ddd; border-radius: 4px; padding: 6px 10px; font-size: 14px; min-height: 20px; margin-bottom: 12px; z-index: 2; }\n",
    ".colourbar { display: flex; align-items: center; gap: 8px; font-size: 12px; margin-bottom: 12px; }\n",
    ".colourbar .ramp { width: 220px; height: 12px; border-radius: 2px; }\n",
    ".panels { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }\n",
    ".panel h2 { font-size: 15px; margin: 0 0 6px; }\n",
    ".panel-input { font-size: 13px; color: #555; margin: -2px 0 6px; }\n",
    ".head-choice { font-size: 13px; display: block; margin-bottom: 6px; }\n",
    ".head-grid { display: flex; flex-wrap: wrap; gap: 18px; }\n",
    ".head-box h3 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }\n",
    "table.heatmap { border-collapse: collapse; }\n",
    "table.heatmap td.cell { width: var(--cell); height: var(--cell); min-width: var(--cell); padding: 0; border: 0; }\n",
    "table.heatmap td.cell.active { outline: 2px solid #ff2d55; outline-offset: -2px; }\n",
    "table.heatmap th { font-weight: normal; font-size: 13px; padding: 0 4px; white-space: nowrap; color: #222; }\n",
    "table.heatmap th.row { text-align: right; }\n",
    "table.heatmap th.col { vertical-align: bottom; text-align: center; padding: 0 0 3px; }\n",
    "table.heatmap th.col.vertical { writing-mode: vertical-rl; text-orientation: mixed; text-align: end; padding: 3px 0; }\n",
    "table.heatmap th.hl { background: #ff2d55; color: #fff; border-radius: 3px; }\n",
    "#tooltip { position: fixed; display: none; pointer-events: none; background: #222; color: #fff; padding: 3px 7px; border-radius: 4px; font-size: 13px; z-index: 5; }\n",
    ".modes { display: flex; gap: 16px; font-size: 14px; margin-bottom: 8px; }\n",
    ".legend { font-size: 12px; color: #666; margin: 0 0 10px; }\n",
    ".document { max-width: 900px; line-height: 2; font-size: 16px; }\n",
    ".sentence { margin: 0 0 6px; padding: 2px 6px; border-radius: 4px; }\n",
    ".sweight { display: inline-block; width: 48px; height: 10px; background: #eee; margin-inline-end: 10px; vertical-align: middle; border-radius: 2px; }\n",
    ".sfill { display: block; height: 10px; background: #3b528b; border-radius: 2px; }\n",
    ".word { padding: 1px 3px; border-radius: 3px; cursor: default; }\n",
    ".word:hover { outline: 2px solid #ff2d55; }\n",
    ".choices { display: flex; gap: 18px; font-size: 14px; margin-bottom: 10px; }\n",
    ".layer-row h2 { font-size: 15px; margin: 8px 0 6px; }\n",
    "table.heatmap.compact th { font-size: 0; padding: 0; }\n",
    ".filters { display: flex; flex-wrap: wrap; gap: 14px; font-size: 14px; margin-bottom: 8px; }\n",
    ".shown-count { font-size: 13px; color: #555; margin: 0 0 10px; }\n",
    ".report-doc { border-top: 1px solid #ddd; padding: 10px 0 4px; }\n",
    ".report-doc h2 { font-size: 15px; margin: 0 0 2px; overflow-wrap: anywhere; }\n",
    ".report-doc .note { font-size: 13px; color: #444; margin: 0 0 4px; }\n",
    ".tags { margin: 0 0 6px; }\n",
    ".tag { display: inline-block; font-size: 11px; background: #eef0f6; color: #3b528b; border-radius: 8px; padding: 0 7px; margin-inline-end: 5px; }\n",
    ".snapshot-controls { display: flex; align-items: center; gap: 12px; font-size: 14px; margin-bottom: 10px; }\n",
    "#snapshot-slider { width: 360px; }\n",
    "#snapshot-play { min-width: 64px; font-size: 14px; }\n",
    ".curves { display: flex; flex-wrap: wrap; gap: 20px; margin-bottom: 10px; }\n",
    "svg.curve { font-size: 11px; }\n",
    "svg.curve .curve-title { font-size: 13px; font-weight: 600; fill: #222; }\n",
    "svg.curve .tick { fill: #555; }\n",
    "svg.curve .grid { stroke: #e6e6e6; }\n",
    "svg.curve .frame { fill: none; stroke: #999; }\n",
    "svg.curve .step-marker { stroke: #ff2d55; stroke-width: 2; }\n",
    ".probe h2 { font-size: 15px; margin: 0 0 2px; }\n",
};

static const char *const page_js[] = {
    "'use strict';\n",
    "(function () {\n",
    "  var data = JSON.parse(document.getElementById('attend-data').textContent);\n",
    "  var anchors = data.colours;\n",
    "  var tip = document.getElementById('tooltip');\n",
    "  var readout = document.getElementById('readout');\n",
    "  var sameInput = true;\n",
    "\n",
    "  function colour(v) {\n",
    "    if (!(v > 0)) v = 0;\n",
    "    if (v > 1) v = 1;\n",
    "    var pos = v * (anchors.length - 1);\n",
    "    var i = Math.min(Math.floor(pos), anchors.length - 2), f = pos - i;\n",
    "    var c = [0, 1, 2].map(function (k) {\n",
    "      return Math.round(anchors[i][k] + f * (anchors[i + 1][k] - anchors[i][k]));\n",
    "    });\n",
    "    return 'rgb(' + c.join(',') + ')';\n",
    "  }\n",
    "  function shade(t) {\n",
    "    if (!(t > 0)) t = 0;\n",
    "    if (t > 1) t = 1;\n",
    "    var base = [59, 82, 139];\n",
    "    var c = base.map(function (b) { return Math.round(255 + t * (b - 255)); });\n",
    "    return 'rgb(' + c.join(',') + ')';\n",
    "  }\n",
    "  function el(tag, cls, text) {\n",
    "    var e = document.createElement(tag);\n",
    "    if (cls) e.className = cls;\n",
    "    if (text !== undefined) e.textContent = text;\n",
    "    return e;\n",
    "  }\n",
    "  var symbols = { ' ': '\\u2423', '\\n': '\\u23ce', '\\r\\n': '\\u23ce', '\\t': '\\u21e5' };\n",
    "  function shown(label) { return symbols.hasOwnProperty(label) ? symbols[label] : label; }\n",
    "  function fmt(w) { return w.toFixed(4); }\n",
    "  function moveTip(ev, text) {\n",
    "    tip.textContent = text;\n",
    "    tip.style.display = 'block';\n",
    "    var x = ev.clientX + 14, y = ev.clientY + 14;\n",
    "    if (x + tip.offsetWidth > window.innerWidth - 4) x = ev.clientX - tip.offsetWidth - 10;\n",
    "    if (y + tip.offsetHeight > window.innerHeight - 4) y = ev.clientY - tip.offsetHeight - 10;\n",
    "    tip.style.left = x + 'px';\n",
    "    tip.style.top = y + 'px';\n",
    "  }\n",
    "  function hideTip() { tip.style.display = 'none'; }\n",
    "  function nameOf(map, i) {\n",
    "    var name = [map.model, map.mechanism].filter(Boolean).join(' \\u00b7 ');\n",
    "    return name || 'map ' + (i + 1);\n",
    "  }\n",
    "\n",
    "  /* ------------------------------------------------------------ heatmaps */\n",
    "  function value(map, head, r, c) {\n",
    "    if (head !== 'mean') return map.weights[head][r][c];\n",
    "    var s = 0;\n",
    "    for (var h = 0; h < map.heads; h++) s += map.weights[h][r][c];\n",
    "    return s / map.heads;\n",
    "  }\n",
    "  function clearMarks(table) {\n",
    "    table.querySelectorAll('.hl, .active').forEach(function (e) {\n",
    "      e.classList.remove('hl');\n",
    "      e.classList.remove('active');\n",
    "    });\n",
    "  }\n",
    "  function onCell(ev) {\n",
    "    var td = ev.target.closest('td.cell');\n",
    "    if (!td) return;\n",
    "    var table = td.closest('table');\n",
    "    clearMarks(table);\n",
    "    var r = td.dataset.row, c = td.dataset.col, map = table.attendMap;\n",
    "    table.querySelector('th.row[data-row=\"' + r + '\"]').classList.add('hl');\n",
    "    table.querySelector('th.col[data-col=\"' + c + '\"]').classList.add('hl');\n",
    "    td.classList.add('active');\n",
    "    var w = Number(td.dataset.w);\n",
    "    var head = table.dataset.head === 'mean' ? 'mean of heads' : 'head ' + (Number(table.dataset.head) + 1);\n",
    "    var row = shown(map.row_labels[r]), col = shown(map.col_labels[c]);\n",
    "    var text = 'output \\u201c' + row + '\\u201d (' + (Number(r) + 1) + ') \\u2190 input \\u201c' +\n",
    "      col + '\\u201d (' + (Number(c) + 1) + '): ' + fmt(w);\n",
    "    var where = map.heads > 1 ? head + ', ' : '';\n",
    "    if (table.dataset.layer !== undefined) {\n",
    "      where = 'layer ' + (Number(table.dataset.layer) + 1) + ', ' + head + ': ';\n",
    "      text = '\\u201c' + row + '\\u201d (' + (Number(r) + 1) + ') attends to \\u201c' + col + '\\u201d (' +\n",
    "        (Number(c) + 1) + '): ' + fmt(w);\n",
    "    }\n",
    "    moveTip(ev, tipText(table, td));\n",
    "    readout.textContent = where + text + '  [exact: ' + td.dataset.w + ']';\n",
    "  }\n",
    "  /* the tooltip: the weight; on a layers page the two characters and the exact weight */\n",
    "  function tipText(table, td) {\n",
    "    if (table.dataset.layer === undefined) return fmt(Number(td.dataset.w));\n",
    "    var map = table.attendMap;\n",
    "    return shown(map.row_labels[td.dataset.row]) + ' \\u2192 ' + shown(map.col_labels[td.dataset.col]) + ': ' + td.dataset.w;\n",
    "  }\n",
    "  function buildTable(map, head, cell, layer) {\n",
    "    var t = el('table', 'heatmap');\n",
    "    t.attendMap = map;\n",
    "    t.dataset.head = head;\n",
    "    if (layer !== undefined) {\n",
    "      t.dataset.layer = layer;\n",
    "      if (cell < 12) t.classList.add('compact');\n",
    "    }\n",
    "    t.style.setProperty('--cell', cell + 'px');\n",
    "    var vertical = map.col_labels.some(function (s) { return Array.from(s).length > 2; });\n",
    "    var tr = el('tr');\n",
    "    tr.appendChild(el('th', 'corner'));\n",
    "    map.col_labels.forEach(function (s, c) {\n",
    "      var th = el('th', 'col' + (vertical ? ' vertical' : ''), shown(s));\n",
    "      th.dataset.col = c;\n",
    "      th.dir = 'auto';\n",
    "      tr.appendChild(th);\n",
    "    });\n",
    "    var thead = el('thead');\n",
    "    thead.appendChild(tr);\n",
    "    t.appendChild(thead);\n",
    "    var tbody = el('tbody');\n",
    "    for (var r = 0; r < map.rows; r++) {\n",
    "      var row = el('tr');\n",
    "      var th = el('th', 'row', shown(map.row_labels[r]));\n",
    "      th.dataset.row = r;\n",
    "      th.dir = 'auto';\n",
    "      row.appendChild(th);\n",
    "      for (var c = 0; c < map.cols; c++) {\n",
    "        var w = value(map, head, r, c);\n",
    "        var td = el('td', 'cell');\n",
    "        td.style.background = colour(w);\n",
    "        td.dataset.row = r;\n",
    "        td.dataset.col = c;\n",
    "        td.dataset.w = String(w);\n",
    "        row.appendChild(td);\n",
    "      }\n",
    "      tbody.appendChild(row);\n",
    "    }\n",
    "    t.appendChild(tbody);\n",
    "    t.addEventListener('mouseover', onCell);\n",
    "    t.addEventListener('mousemove', function (ev) {\n",
    "      var td = ev.target.closest('td.cell');\n",
    "      if (td) moveTip(ev, tipText(t, td));\n",
    "    });\n",
    "    t.addEventListener('mouseleave', function () { clearMarks(t); hideTip(); });\n",
    "    return t;\n",
    "  }\n",
    "  function cellSize(map, grid) {\n",
    "    var longest = Math.max(map.rows, map.cols);\n",
    "    return Math.max(grid ? 8 : 12, Math.min(28, Math.floor((grid ? 420 : 720) / longest)));\n",
    "  }\n",
    "  function buildPanel(map, index, several) {\n",
    "    var panel = el('section', 'panel');\n",
    "    panel.id = 'panel-' + index;\n",
    "    if (several) panel.appendChild(el('h2', '', nameOf(map, index)));\n",
    "    if (several && !sameInput) panel.appendChild(el('p', 'panel-input', map.title));\n",
    "    var body = el('div', 'panel-body'), select = null;\n",
    "    if (map.heads > 1) {\n",
    "      var label = el('label', 'head-choice', 'heads: ');\n",
    "      select = el('select', 'head-select');\n",
    "      select.id = 'head-select-' + index;\n",
    "      [['all', 'all heads'], ['mean', 'mean of heads']].forEach(function (o) {\n",
    "        var opt = el('option', '', o[1]);\n",
    "        opt.value = o[0];\n",
    "        select.appendChild(opt);\n",
    "      });\n",
    "      for (var h = 0; h < map.heads; h++) {\n",
    "        var opt = el('option', '', 'head ' + (h + 1));\n",
    "        opt.value = String(h);\n",
    "        select.appendChild(opt);\n",
    "      }\n",
    "      select.value = several ? 'mean' : 'all';\n",
    "      select.addEventListener('change', draw);\n",
    "      label.appendChild(select);\n",
    "      panel.appendChild(label);\n",
    "    }\n",
    "    function draw() {\n",
    "      body.textContent = '';\n",
    "      var choice = select ? select.value : '0';\n",
    "      if (choice !== 'all') {\n",
    "        var head = choice === 'mean' ? 'mean' : Number(choice);\n",
    "        body.appendChild(buildTable(map, head, cellSize(map, false)));\n",
    "        return;\n",
    "      }\n",
    "      var grid = el('div', 'head-grid');\n",
    "      for (var h = 0; h < map.heads; h++) {\n",
    "        var box = el('div', 'head-box');\n",
    "        box.appendChild(el('h3', '', 'head ' + (h + 1)));\n",
    "        box.appendChild(buildTable(map, h, cellSize(map, true)));\n",
    "        grid.appendChild(box);\n",
    "      }\n",
    "      body.appendChild(grid);\n",
    "    }\n",
    "    draw();\n",
    "    panel.appendChild(body);\n",
    "    return panel;\n",
    "  }\n",
    "  function buildColourBar() {\n",
    "    var bar = el('div', 'colourbar');\n",
    "    var stops = anchors.map(function (c, i) {\n",
    "      return 'rgb(' + c.join(',') + ') ' + (100 * i / (anchors.length - 1)) + '%';\n",
    "    });\n",
    "    var ramp = el('div', 'ramp');\n",
    "    ramp.style.background = 'linear-gradient(to right, ' + stops.join(', ') + ')';\n",
    "    bar.appendChild(el('span', '', 'weight 0'));\n",
    "    bar.appendChild(ramp);\n",
    "    bar.appendChild(el('span', '', '1'));\n",
    "    return bar;\n",
    "  }\n",
    "  function showMaps() {\n",
    "    var maps = data.maps, first = maps[0];\n",
    "    document.getElementById('heading').textContent = data.title || (maps.length > 1 ? 'attention compared' : nameOf(first, 0));\n",
    "    sameInput = maps.every(function (m) { return m.title === first.title; });\n",
    "    document.getElementById('subheading').textContent = sameInput ? first.title : '';\n",
    "    var view = document.getElementById('view');\n",
    "    view.appendChild(buildColourBar());\n",
    "    var panels = el('div', 'panels');\n",
    "    maps.forEach(function (m, i) { panels.appendChild(buildPanel(m, i, maps.length > 1)); });\n",
    "    view.appendChild(panels);\n",
    "    readout.textContent = 'Hover a cell: rows are output tokens, columns are input tokens.';\n",
    "  }\n",
    "\n",
    "  /* ---------------------------------------------------- static attention */\n",
    "  var docLegend = 'Each word is shaded by its weight relative to the largest in its sentence; each sentence by its weight relative to the largest sentence weight. Hover for exact values.';\n",
    "  /* The level radios (words and sentences, words, sentences); onChange on a change. */\n",
    "  function levelChoice(onChange) {\n",
    "    var modes = el('div', 'modes');\n",
    "    [['both', 'words and sentences'], ['words', 'words'], ['sentences', 'sentences']].forEach(function (m, i) {\n",
    "      var label = el('label');\n",
    "      var input = el('input');\n",
    "      input.type = 'radio';\n",
    "      input.name = 'level';\n",
    "      input.value = m[0];\n",
    "      input.id = 'level-' + m[0];\n",
    "      if (i === 0) input.checked = true;\n",
    "      input.addEventListener('change', onChange);\n",
    "      label.appendChild(input);\n",
    "      label.appendChild(document.createTextNode(' ' + m[1]));\n",
    "      modes.appendChild(label);\n",
    "    });\n",
    "    return modes;\n",
    "  }\n",
    "  function levelMode() { return document.querySelector('input[name=level]:checked').value; }\n",
    "  /* One document (title, sentences of words and weights) into box, the one\n",
    "   * shading of every page; where prefixes the read-out. Returns paint(mode). */\n",
    "  function renderDoc(box, doc, where) {\n",
    "    var words = [];\n",
    "    var maxS = Math.max.apply(null, doc.sentences.map(function (s) { return s.weight; })) || 1;\n",
    "    var docBox = el('div', 'document');\n",
    "    doc.sentences.forEach(function (s, si) {\n",
    "      var p = el('p', 'sentence');\n",
    "      p.dir = 'auto';\n",
    "      p.dataset.s = si;\n",
    "      var bar = el('span', 'sweight');\n",
    "      var fill = el('span', 'sfill');\n",
    "      fill.style.width = Math.round(48 * s.weight / maxS) + 'px';\n",
    "      bar.appendChild(fill);\n",
    "      bar.title = 'sentence ' + (si + 1) + ': ' + fmt(s.weight);\n",
    "      p.appendChild(bar);\n",
    "      var maxW = Math.max.apply(null, s.word_weights) || 1;\n",
    "      s.words.forEach(function (w, wi) {\n",
    "        var span = el('span', 'word', w);\n",
    "        span.dataset.s = si;\n",
    "        span.dataset.w = String(s.word_weights[wi]);\n",
    "        span.relW = s.word_weights[wi] / maxW;\n",
    "        span.relS = s.weight / maxS;\n",
    "        words.push(span);\n",
    "        p.appendChild(span);\n",
    "        p.appendChild(document.createTextNode(' '));\n",
    "      });\n",
    "      p.relS = s.weight / maxS;\n",
    "      docBox.appendChild(p);\n",
    "    });\n",
    "    box.appendChild(docBox);\n",
    "    docBox.addEventListener('mouseover', function (ev) {\n",
    "      var span = ev.target.closest('.word');\n",
    "      if (!span) return;\n",
    "      var s = doc.sentences[span.dataset.s];\n",
    "      moveTip(ev, fmt(Number(span.dataset.w)));\n",
    "      readout.textContent = where + 'word \\u201c' + span.textContent + '\\u201d: ' + fmt(Number(span.dataset.w)) +\n",
    "        ' in sentence ' + (Number(span.dataset.s) + 1) + ' (sentence weight ' + fmt(s.weight) + ')';\n",
    "    });\n",
    "    docBox.addEventListener('mouseleave', hideTip);\n",
    "    return function paint(mode) {\n",
    "      docBox.querySelectorAll('.sentence').forEach(function (p) {\n",
    "        p.style.background = mode === 'sentences' ? shade(p.relS) : 'transparent';\n",
    "        p.style.color = mode === 'sentences' && p.relS > 0.55 ? '#fff' : '';\n",
    "      });\n",
    "      words.forEach(function (span) {\n",
    "        var t = mode === 'words' ? span.relW : mode === 'both' ? Math.sqrt(span.relS) * span.relW : 0;\n",
    "        span.style.background = mode === 'sentences' ? 'transparent' : shade(t);\n",
    "        span.style.color = mode !== 'sentences' && t > 0.55 ? '#fff' : '';\n",
    "      });\n",
    "    };\n",
    "  }\n",
    "  function showDoc() {\n",
    "    document.getElementById('heading').textContent =\n",
    "      [data.model, data.mechanism].filter(Boolean).join(' \\u00b7 ') || 'static attention';\n",
    "    document.getElementById('subheading').textContent = data.title;\n",
    "    var view = document.getElementById('view'), paint = null;\n",
    "    view.appendChild(levelChoice(function () { paint(levelMode()); }));\n",
    "    view.appendChild(el('p', 'legend', docLegend));\n",
    "    paint = renderDoc(view, data, '');\n",
    "    paint(levelMode());\n",
    "    readout.textContent = 'Hover a word to see its weight.';\n",
    "  }\n",
    "\n",
    "  /* ------------------------------------------- a report of many documents */\n",
    "  /* The filter radios: all, then each tag (in order of first use) with its count. */\n",
    "  function tagChoice(docs, onChange) {\n",
    "    var counts = {}, order = [];\n",
    "    docs.forEach(function (d) {\n",
    "      d.tags.forEach(function (t) {\n",
    "        if (!counts.hasOwnProperty(t)) { counts[t] = 0; order.push(t); }\n",
    "        counts[t]++;\n",
    "      });\n",
    "    });\n",
    "    var box = el('div', 'filters');\n",
    "    box.appendChild(el('span', '', 'show:'));\n",
    "    [['all', 'all (' + docs.length + ')']].concat(order.map(function (t) {\n",
    "      return [t, t + ' (' + counts[t] + ')'];\n",
    "    })).forEach(function (o, i) {\n",
    "      var label = el('label');\n",
    "      var input = el('input');\n",
    "      input.type = 'radio';\n",
    "      input.name = 'filter';\n",
    "      input.value = o[0];\n",
    "      input.id = 'filter-' + i;\n",
    "      input.dataset.tag = i === 0 ? '' : o[0];\n",
    "      if (i === 0) input.checked = true;\n",
    "      input.addEventListener('change', onChange);\n",
    "      label.appendChild(input);\n",
    "      label.appendChild(document.createTextNode(' ' + o[1]));\n",
    "      box.appendChild(label);\n",
    "    });\n",
    "    return box;\n",
    "  }\n",
    "  function showDocuments() {\n",
    "    var docs = data.docs;\n",
    "    document.getElementById('heading').textContent = data.title || 'documents';\n",
    "    var view = document.getElementById('view'), sections = [], painted = [];\n",
    "    var count = el('p', 'shown-count');\n",
    "    function filter() {\n",
    "      var tag = document.querySelector('input[name=filter]:checked').dataset.tag, shownDocs = 0;\n",
    "      sections.forEach(function (sec) {\n",
    "        sec.hidden = tag !== '' && sec.attendTags.indexOf(tag) < 0;\n",
    "        if (!sec.hidden) shownDocs++;\n",
    "      });\n",
    "      count.textContent = shownDocs + ' of ' + docs.length + ' documents';\n",
    "    }\n",
    "    view.appendChild(tagChoice(docs, filter));\n",
    "    view.appendChild(levelChoice(function () {\n",
    "      painted.forEach(function (sec) { sec.paint(levelMode()); });\n",
    "    }));\n",
    "    view.appendChild(el('p', 'legend', docLegend));\n",
    "    view.appendChild(count);\n",
    "    var list = el('div', 'reports');\n",
    "    docs.forEach(function (doc, i) {\n",
    "      var sec = el('section', 'report-doc');\n",
    "      sec.id = 'doc-' + i;\n",
    "      sec.attendTags = doc.tags;\n",
    "      var name = doc.title || 'document ' + (i + 1);\n",
    "      var h2 = el('h2', '', name);\n",
    "      h2.dir = 'auto';\n",
    "      sec.appendChild(h2);\n",
    "      var about = [doc.model, doc.mechanism].filter(Boolean).join(' \\u00b7 ');\n",
    "      if (doc.note || about) sec.appendChild(el('p', 'note', [doc.note, about].filter(Boolean).join(' \\u2014 ')));\n",
    "      var chips = el('p', 'tags');\n",
    "      doc.tags.forEach(function (t) { chips.appendChild(el('span', 'tag', t)); });\n",
    "      if (doc.tags.length) sec.appendChild(chips);\n",
    "      var body = el('div', 'doc-body');\n",
    "      var words = doc.sentences.reduce(function (n, s) { return n + s.words.length; }, 0);\n",
    "      body.style.minHeight = Math.ceil(words / 12 + doc.sentences.length) * 32 + 'px';\n",
    "      sec.appendChild(body);\n",
    "      /* drawn when first near the screen: a report of a thousand long\n",
    "       * documents opens at once */\n",
    "      sec.render = function () {\n",
    "        if (sec.paint) return;\n",
    "        sec.paint = renderDoc(body, doc, name + ': ');\n",
    "        sec.paint(levelMode());\n",
    "        body.style.minHeight = '';\n",
    "        painted.push(sec);\n",
    "      };\n",
    "      sections.push(sec);\n",
    "      list.appendChild(sec);\n",
    "    });\n",
    "    view.appendChild(list);\n",
    "    filter();\n",
    "    if (window.IntersectionObserver) {\n",
    "      var seen = new IntersectionObserver(function (entries) {\n",
    "        entries.forEach(function (e) {\n",
    "          if (!e.isIntersecting) return;\n",
    "          e.target.render();\n",
    "          seen.unobserve(e.target);\n",
    "        });\n",
    "      }, { rootMargin: '1500px 0px' });\n",
    "      sections.forEach(function (sec) { seen.observe(sec); });\n",
    "    } else {\n",
    "      sections.forEach(function (sec) { sec.render(); });\n",
    "    }\n",
    "    readout.textContent = 'Hover a word to see its weight; choose a tag to show only those documents.';\n",
    "  }\n",
    "\n",
    "  /* ------------------------------------------- layers of a language model */\n",
    "  function selectOf(id, name, count, extra) {\n",
    "    var label = el('label', '', name + ': ');\n",
    "    var select = el('select');\n",
    "    select.id = id;\n",
    "    extra.forEach(function (o) {\n",
    "      var opt = el('option', '', o[1]);\n",
    "      opt.value = o[0];\n",
    "      select.appendChild(opt);\n",
    "    });\n",
    "    for (var i = 0; i < count; i++) {\n",
    "      var opt = el('option', '', name + ' ' + (i + 1));\n",
    "      opt.value = String(i);\n",
    "      select.appendChild(opt);\n",
    "    }\n",
    "    label.appendChild(select);\n",
    "    return { label: label, select: select };\n",
    "  }\n",
    "  function showLayers() {\n",
    "    var maps = data.maps, first = maps[0];\n",
    "    document.getElementById('heading').textContent = data.title || 'attention of every layer and head';\n",
    "    document.getElementById('subheading').textContent = first.title;\n",
    "    var view = document.getElementById('view');\n",
    "    view.appendChild(buildColourBar());\n",
    "    var choices = el('div', 'choices');\n",
    "    var layers = selectOf('layer-select', 'layer', maps.length, [['all', 'all layers']]);\n",
    "    var heads = selectOf('head-select', 'head', first.heads, [['all', 'all heads'], ['mean', 'mean of heads']]);\n",
    "    layers.select.value = '0';\n",
    "    heads.select.value = 'all';\n",
    "    choices.appendChild(layers.label);\n",
    "    choices.appendChild(heads.label);\n",
    "    view.appendChild(choices);\n",
    "    var body = el('div', 'layers');\n",
    "    view.appendChild(body);\n",
    "    function draw() {\n",
    "      body.textContent = '';\n",
    "      var lv = layers.select.value, hv = heads.select.value, ls = [], hs = [];\n",
    "      for (var l = 0; l < maps.length; l++) if (lv === 'all' || lv === String(l)) ls.push(l);\n",
    "      if (hv === 'mean') hs.push('mean');\n",
    "      for (var h = 0; h < first.heads; h++) if (hv === 'all' || hv === String(h)) hs.push(h);\n",
    "      var cell = Math.max(3, Math.min(28, Math.floor(1000 / (hs.length * first.cols))));\n",
    "      ls.forEach(function (l) {\n",
    "        var row = el('section', 'layer-row');\n",
    "        row.appendChild(el('h2', '', 'layer ' + (l + 1)));\n",
    "        var grid = el('div', 'head-grid');\n",
    "        hs.forEach(function (h) {\n",
    "          var box = el('div', 'head-box');\n",
    "          box.appendChild(el('h3', '', h === 'mean' ? 'mean of heads' : 'head ' + (h + 1)));\n",
    "          box.appendChild(buildTable(maps[l], h, cell, l));\n",
    "          grid.appendChild(box);\n",
    "        });\n",
    "        row.appendChild(grid);\n",
    "        body.appendChild(row);\n",
    "      });\n",
    "    }\n",
    "    layers.select.addEventListener('change', draw);\n",
    "    heads.select.addEventListener('change', draw);\n",
    "    draw();\n",
    "    readout.textContent = 'Hover a cell: row = the position attending, column = the position it attends to.';\n",
    "  }\n",
    "\n",
    "  /* ------------------------------------------- snapshots during training */\n",
    "  /* the SVG namespace, from the parser: the page names no address */\n",
    "  var svgNS = (function () { var d = el('div'); d.innerHTML = '<svg></svg>'; return d.firstChild.namespaceURI; })();\n",
    "  function svgEl(tag, attrs, text) {\n",
    "    var e = document.createElementNS(svgNS, tag);\n",
    "    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });\n",
    "    if (text !== undefined) e.textContent = text;\n",
    "    return e;\n",
    "  }\n",
    "  var seriesColours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];\n",
    "  /* A small line plot: series [{name, xs, ys}], x from 0 to xmax; returns\n",
    "   * mark(step), which moves the plot's .step-marker to that step. */\n",
    "  function linePlot(box, id, title, series, xmax, unitRange) {\n",
    "    var W = 440, H = 220, L = 52, R = 12, T = 26, B = 36, w = W - L - R, h = H - T - B;\n",
    "    var svg = svgEl('svg', { id: id, class: 'curve', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H });\n",
    "    var lo = Infinity, hi = -Infinity;\n",
    "    series.forEach(function (s) { s.ys.forEach(function (y) { lo = Math.min(lo, y); hi = Math.max(hi, y); }); });\n",
    "    if (unitRange || !isFinite(lo)) { lo = 0; hi = 1; }\n",
    "    else { lo = Math.min(0, lo); if (!(hi > lo)) hi = lo + 1; }\n",
    "    xmax = Math.max(1, xmax);\n",
    "    function X(x) { return L + w * x / xmax; }\n",
    "    function Y(y) { return T + h - h * (y - lo) / (hi - lo); }\n",
    "    svg.appendChild(svgEl('text', { x: L, y: 16, class: 'curve-title' }, title));\n",
    "    for (var k = 0; k <= 4; k++) {\n",
    "      var yv = lo + (hi - lo) * k / 4, xv = Math.round(xmax * k / 4);\n",
    "      svg.appendChild(svgEl('line', { x1: L, x2: L + w, y1: Y(yv), y2: Y(yv), class: 'grid' }));\n",
    "      svg.appendChild(svgEl('text', { x: L - 6, y: Y(yv) + 4, 'text-anchor': 'end', class: 'tick' }, String(Number(yv.toPrecision(3)))));\n",
    "      svg.appendChild(svgEl('text', { x: X(xv), y: T + h + 16, 'text-anchor': 'middle', class: 'tick' }, String(xv)));\n",
    "    }\n",
    "    svg.appendChild(svgEl('text', { x: L + w / 2, y: H - 4, 'text-anchor': 'middle', class: 'tick' }, 'step'));\n",
    "    svg.appendChild(svgEl('rect', { x: L, y: T, width: w, height: h, class: 'frame' }));\n",
    "    series.forEach(function (s, i) {\n",
    "      var c = seriesColours[i % seriesColours.length];\n",
    "      var pts = s.xs.map(function (x, j) { return X(x).toFixed(1) + ',' + Y(s.ys[j]).toFixed(1); });\n",
    "      svg.appendChild(svgEl('polyline', { points: pts.join(' '), fill: 'none', stroke: c, 'stroke-width': 1.6, class: 'series' }));\n",
    "      if (s.dots) s.xs.forEach(function (x, j) { svg.appendChild(svgEl('circle', { cx: X(x), cy: Y(s.ys[j]), r: 2.5, fill: c })); });\n",
    "      svg.appendChild(svgEl('text', { x: L + w - 4, y: T + 14 + 14 * i, 'text-anchor': 'end', fill: c, class: 'legend-text' }, s.name));\n",
    "    });\n",
    "    var marker = svgEl('line', { x1: L, x2: L, y1: T, y2: T + h, class: 'step-marker' });\n",
    "    svg.appendChild(marker);\n",
    "    box.appendChild(svg);\n",
    "    return function mark(step) {\n",
    "      marker.setAttribute('x1', X(step));\n",
    "      marker.setAttribute('x2', X(step));\n",
    "      marker.setAttribute('data-step', String(step));\n",
    "    };\n",
    "  }\n",
    "  function metricText(valid) {\n",
    "    return Object.keys(valid).map(function (k) { return 'valid ' + k + ' ' + fmt(valid[k]); }).join(' \\u00b7 ');\n",
    "  }\n",
    "  function showSnapshots() {\n",
    "    var shots = data.snapshots, points = data.points;\n",
    "    document.getElementById('heading').textContent = data.title || 'attention while training';\n",
    "    document.getElementById('subheading').textContent = [data.model, data.mechanism].filter(Boolean).join(' \\u00b7 ');\n",
    "    var view = document.getElementById('view');\n",
    "    var controls = el('div', 'snapshot-controls');\n",
    "    var play = el('button', '', 'play');\n",
    "    play.id = 'snapshot-play';\n",
    "    play.type = 'button';\n",
    "    var slider = el('input');\n",
    "    slider.id = 'snapshot-slider';\n",
    "    slider.type = 'range';\n",
    "    slider.min = '0';\n",
    "    slider.max = String(shots.length - 1);\n",
    "    slider.step = '1';\n",
    "    slider.value = String(shots.length - 1);\n",
    "    slider.setAttribute('aria-label', 'snapshot');\n",
    "    var label = el('span', 'snapshot-label');\n",
    "    label.id = 'snapshot-step';\n",
    "    controls.appendChild(play);\n",
    "    controls.appendChild(slider);\n",
    "    controls.appendChild(label);\n",
    "    view.appendChild(controls);\n",
    "    var xmax = Math.max(shots[shots.length - 1].step, points.length ? points[points.length - 1][0] : 0);\n",
    "    var curves = el('div', 'curves');\n",
    "    var loss = points.filter(function (p) { return p[1] !== null; });\n",
    "    var marks = [linePlot(curves, 'curve-loss', 'training loss (smoothed)', [{ name: 'loss', xs: loss.map(function (p) { return p[0]; }), ys: loss.map(function (p) { return p[1]; }) }], xmax, false)];\n",
    "    var names = [], evals = points.filter(function (p) { return p[2] !== null; });\n",
    "    evals.forEach(function (p) { Object.keys(p[2]).forEach(function (k) { if (names.indexOf(k) < 0) names.push(k); }); });\n",
    "    var valid = names.map(function (k) {\n",
    "      var e = evals.filter(function (p) { return p[2].hasOwnProperty(k); });\n",
    "      return { name: k, dots: true, xs: e.map(function (p) { return p[0]; }), ys: e.map(function (p) { return p[2][k]; }) };\n",
    "    });\n",
    "    var unit = valid.every(function (s) { return s.ys.every(function (y) { return y >= 0 && y <= 1; }); });\n",
    "    marks.push(linePlot(curves, 'curve-valid', valid.length ? 'validation' : 'validation (none yet)', valid, xmax, unit));\n",
    "    view.appendChild(curves);\n",
    "    view.appendChild(buildColourBar());\n",
    "    var panels = el('div', 'panels');\n",
    "    panels.id = 'snapshot-maps';\n",
    "    view.appendChild(panels);\n",
    "    var heads = {};\n",
    "    function show(i) {\n",
    "      var s = shots[i];\n",
    "      var text = 'step ' + s.step + ' (snapshot ' + (i + 1) + ' of ' + shots.length + ')';\n",
    "      if (s.loss !== null) text += ' \\u00b7 loss ' + fmt(s.loss);\n",
    "      if (s.valid_step >= 0) text += ' \\u00b7 ' + metricText(s.valid) + ' (step ' + s.valid_step + ')';\n",
    "      label.textContent = text;\n",
    "      marks.forEach(function (m) { m(s.step); });\n",
    "      panels.textContent = '';\n",
    "      data.probes.forEach(function (probe, p) {\n",
    "        var box = el('section', 'probe');\n",
    "        box.id = 'probe-' + p;\n",
    "        var h2 = el('h2', '', probe);\n",
    "        h2.dir = 'auto';\n",
    "        box.appendChild(h2);\n",
    "        var out = el('p', 'panel-input', '\\u2192 ' + (s.outputs[p] === '' ? '(empty)' : s.outputs[p]));\n",
    "        out.dir = 'auto';\n",
    "        box.appendChild(out);\n",
    "        var map = s.maps[p];\n",
    "        if (map === null) box.appendChild(el('p', 'legend', 'no output yet: the model wrote END first'));\n",
    "        else {\n",
    "          box.appendChild(buildPanel(map, p, false));\n",
    "          var select = box.querySelector('select');\n",
    "          if (select) {\n",
    "            if (heads[p] !== undefined) {\n",
    "              select.value = heads[p];\n",
    "              select.dispatchEvent(new Event('change'));\n",
    "            }\n",
    "            select.addEventListener('change', function () { heads[p] = select.value; });\n",
    "          }\n",
    "        }\n",
    "        panels.appendChild(box);\n",
    "      });\n",
    "      readout.textContent = 'Hover a cell: rows are output tokens, columns are input tokens (step ' + s.step + ').';\n",
    "    }\n",
    "    var timer = null;\n",
    "    function stop() {\n",
    "      if (timer !== null) clearInterval(timer);\n",
    "      timer = null;\n",
    "      play.textContent = 'play';\n",
    "    }\n",
    "    slider.addEventListener('input', function () { show(Number(slider.value)); });\n",
    "    play.addEventListener('click', function () {\n",
    "      if (timer !== null) return stop();\n",
    "      if (Number(slider.value) >= shots.length - 1) slider.value = '0';\n",
    "      show(Number(slider.value));\n",
    "      play.textContent = 'pause';\n",
    "      timer = setInterval(function () {\n",
    "        var i = Number(slider.value) + 1;\n",
    "        if (i > shots.length - 1) return stop();\n",
    "        slider.value = String(i);\n",
    "        show(i);\n",
    "      }, 600);\n",
    "    });\n",
    "    show(shots.length - 1);\n",
    "  }\n",
    "\n",
    "  if (data.kind === 'snapshots') showSnapshots();\n",
    "  else if (data.kind === 'document') showDoc();\n",
    "  else if (data.kind === 'documents') showDocuments();\n",
    "  else if (data.kind === 'layers') showLayers();\n",
    "  else showMaps();\n",
    "})();\n",
};

static void put_lines(sbuf *b, const char *const *lines, size_t n) {
    for (size_t i = 0; i < n; i++) sbuf_puts(b, lines[i]);
}

/* The shortest decimal (6 to 9 digits) that reads back as the same float,
 * so the page shows exact weights without the noise of "0.699999988". */
static void put_number(sbuf *b, float v) {
    char text[32];
    if (!isfinite(v)) v = 0;
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)v);
        if (strtof(text, NULL) == v) break;
    }
    sbuf_puts(b, text);
}

static void put_strings(sbuf *b, char *const *s, int n) {
    sbuf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        if (i) sbuf_puts(b, ",");
        sbuf_json_string_html(b, s[i]);
    }
    sbuf_puts(b, "]");
}

static void put_key_string(sbuf *b, const char *key, const char *value) {
    sbuf_printf(b, "\"%s\":", key);
    sbuf_json_string_html(b, value ? value : "");
    sbuf_puts(b, ",");
}

/* The colour map's anchors at 0, 1/8, ..., 1. */
static void put_colours(sbuf *b) {
    sbuf_puts(b, "\"colours\":[");
    for (int k = 0; k <= 8; k++) {
        uint8_t rgb[3];
        at_viz_colour((float)k / 8.0f, rgb);
        sbuf_printf(b, "%s[%d,%d,%d]", k ? "," : "", rgb[0], rgb[1], rgb[2]);
    }
    sbuf_puts(b, "],");
}

static void put_map(sbuf *b, const at_attention_map *m) {
    sbuf_puts(b, "{");
    put_key_string(b, "title", m->title);
    put_key_string(b, "model", m->model);
    put_key_string(b, "mechanism", m->mechanism);
    sbuf_printf(b, "\"heads\":%d,\"rows\":%d,\"cols\":%d,\"row_labels\":", m->heads, m->rows,
                m->cols);
    put_strings(b, m->row_labels, m->rows);
    sbuf_puts(b, ",\"col_labels\":");
    put_strings(b, m->col_labels, m->cols);
    sbuf_puts(b, ",\"weights\":[");
    for (int h = 0; h < m->heads; h++) {
        sbuf_puts(b, h ? ",[" : "[");
        for (int r = 0; r < m->rows; r++) {
            sbuf_puts(b, r ? ",\n[" : "\n[");
            const float *row = m->weights + ((size_t)h * m->rows + r) * m->cols;
            for (int c = 0; c < m->cols; c++) {
                if (c) sbuf_puts(b, ",");
                put_number(b, row[c]);
            }
            sbuf_puts(b, "]");
        }
        sbuf_puts(b, "]");
    }
    sbuf_puts(b, "]}");
}

/* 4 significant digits: a report of a thousand long documents stays a
 * file a browser opens at once (the hover shows 4 decimals anyway). */
static void put_short_number(sbuf *b, float v) {
    sbuf_printf(b, "%.4g", isfinite(v) ? (double)v : 0.0);
}

/* The sentences of a document; weights exact, or to 4 digits (short). */
static void put_doc(sbuf *b, const at_attention_doc *d, int short_numbers) {
    void (*number)(sbuf *, float) = short_numbers ? put_short_number : put_number;
    sbuf_puts(b, "\"sentences\":[");
    for (int s = 0, w = 0; s < d->sentences; w += d->lengths[s], s++) {
        sbuf_puts(b, s ? ",\n{\"weight\":" : "\n{\"weight\":");
        number(b, d->sentence_weights[s]);
        sbuf_puts(b, ",\"words\":");
        put_strings(b, d->word_text + w, d->lengths[s]);
        sbuf_puts(b, ",\"word_weights\":[");
        for (int i = 0; i < d->lengths[s]; i++) {
            if (i) sbuf_puts(b, ",");
            number(b, d->word_weights[w + i]);
        }
        sbuf_puts(b, "]}");
    }
    sbuf_puts(b, "]");
}

/* Everything before the data. */
static void put_head(sbuf *b, const char *title) {
    sbuf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<title>");
    sbuf_xml_text(b, title && title[0] ? title : "attention");
    sbuf_puts(b, " \xE2\x80\x94 attend</title>\n<style>\n");
    put_lines(b, page_css, sizeof page_css / sizeof page_css[0]);
    sbuf_puts(b, "</style>\n</head>\n<body>\n<h1 id=\"heading\"></h1>\n<p id=\"subheading\"></p>\n"
                 "<div id=\"readout\" role=\"status\" aria-live=\"polite\"></div>\n"
                 "<div id=\"view\"></div>\n<div id=\"tooltip\"></div>\n"
                 "<script id=\"attend-data\" type=\"application/json\">");
}

static at_status finish(at_ctx *ctx, sbuf *b, const char *path) {
    sbuf_puts(b, "</script>\n<script>\n");
    put_lines(b, page_js, sizeof page_js / sizeof page_js[0]);
    sbuf_puts(b, "</script>\n</body>\n</html>\n");
    at_status s = b->failed ? at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path)
                            : viz_write_file(ctx, path, b->data, b->len);
    sbuf_free(b);
    return s;
}

/* A page of maps; kind "maps" (side by side) or "layers" (selected). */
static at_status html_maps(at_ctx *ctx, const char *kind, int n,
                           const at_attention_map *const *maps, const char *title,
                           const char *path) {
    sbuf b = {0};
    char name[300];
    snprintf(name, sizeof name, "%s%s%s", maps[0]->model, maps[0]->mechanism[0] ? " " : "",
             maps[0]->mechanism);
    put_head(&b, title ? title : name);
    sbuf_printf(&b, "{\"kind\":\"%s\",", kind);
    put_key_string(&b, "title", title);
    put_colours(&b);
    sbuf_puts(&b, "\"maps\":[");
    for (int i = 0; i < n; i++) {
        if (i) sbuf_puts(&b, ",\n");
        put_map(&b, maps[i]);
    }
    sbuf_puts(&b, "]}");
    return finish(ctx, &b, path);
}

at_status viz_html_maps(at_ctx *ctx, int n, const at_attention_map *const *maps,
                        const char *title, const char *path) {
    return html_maps(ctx, "maps", n, maps, title, path);
}

at_status viz_html_layers(at_ctx *ctx, int n, const at_attention_map *const *maps,
                          const char *title, const char *path) {
    return html_maps(ctx, "layers", n, maps, title, path);
}

at_status viz_html_doc(at_ctx *ctx, const at_attention_doc *doc, const char *path) {
    sbuf b = {0};
    put_head(&b, doc->title);
    sbuf_puts(&b, "{\"kind\":\"document\",");
    put_key_string(&b, "title", doc->title);
    put_key_string(&b, "model", doc->model);
    put_key_string(&b, "mechanism", doc->mechanism);
    put_colours(&b);
    put_doc(&b, doc, 0);
    sbuf_puts(&b, "}");
    return finish(ctx, &b, path);
}

/* The space-separated words of tags as a JSON array of strings. */
static void put_tags(sbuf *b, const char *tags) {
    sbuf_puts(b, "[");
    int first = 1;
    for (const char *p = tags ? tags : ""; *p;) {
        size_t n = strcspn(p, " ");
        if (n > 0) {
            char *tag = malloc(n + 1);
            if (!tag) {
                b->failed = 1;
                return;
            }
            memcpy(tag, p, n);
            tag[n] = 0;
            sbuf_puts(b, first ? "" : ",");
            sbuf_json_string_html(b, tag);
            free(tag);
            first = 0;
        }
        p += n + (p[n] == ' ');
    }
    sbuf_puts(b, "]");
}

at_status viz_html_report(at_ctx *ctx, int n, const at_attention_doc *const *docs,
                          const char *const *notes, const char *const *tags, const char *title,
                          const char *path) {
    sbuf b = {0};
    put_head(&b, title && title[0] ? title : "documents");
    sbuf_puts(&b, "{\"kind\":\"documents\",");
    put_key_string(&b, "title", title);
    put_colours(&b);
    sbuf_puts(&b, "\"docs\":[");
    for (int i = 0; i < n && !b.failed; i++) {
        const at_attention_doc *d = docs[i];
        sbuf_puts(&b, i ? ",\n{" : "\n{");
        put_key_string(&b, "title", d->title);
        put_key_string(&b, "model", d->model);
        put_key_string(&b, "mechanism", d->mechanism);
        put_key_string(&b, "note", notes ? notes[i] : NULL);
        sbuf_puts(&b, "\"tags\":");
        put_tags(&b, tags ? tags[i] : NULL);
        sbuf_puts(&b, ",");
        put_doc(&b, d, 1);
        sbuf_puts(&b, "}");
    }
    sbuf_puts(&b, "]}");
    return finish(ctx, &b, path);
}

/* ---------------------------------------------- pages built by other files */

void viz_html_begin(sbuf *b, const char *title) { put_head(b, title); }
void viz_html_put_colours(sbuf *b) { put_colours(b); }
void viz_html_put_map(sbuf *b, const at_attention_map *map) { put_map(b, map); }
void viz_html_put_number(sbuf *b, float v) { put_number(b, v); }
at_status viz_html_end(at_ctx *ctx, sbuf *b, const char *path) { return finish(ctx, b, path); }
