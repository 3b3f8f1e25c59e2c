// figure.js - the script of attend's interactive HTML figures (src/viz/html.c):
// it reads the page's data (the JSON in #attend-data: kind maps, layers,
// document, documents or snapshots) and builds the view. The drawing it
// shares with the attention lab is in heatmap.js, document.js, select.js
// and curves.js, put in at build time where a line says `// @include
// NAME` (src/viz/js/expand.cmake); these leading // lines are left out.
'use strict';
(function () {
  var data = JSON.parse(document.getElementById('attend-data').textContent);
  var anchors = data.colours;
  var tip = document.getElementById('tooltip');
  var readout = document.getElementById('readout');
  var sameInput = true;

  // @include heatmap.js
  function showMaps() {
    var maps = data.maps, first = maps[0];
    document.getElementById('heading').textContent = data.title || (maps.length > 1 ? 'attention compared' : nameOf(first, 0));
    sameInput = maps.every(function (m) { return m.title === first.title; });
    document.getElementById('subheading').textContent = sameInput ? first.title : '';
    var view = document.getElementById('view');
    view.appendChild(buildColourBar());
    var panels = el('div', 'panels');
    maps.forEach(function (m, i) { panels.appendChild(buildPanel(m, i, maps.length > 1)); });
    view.appendChild(panels);
    readout.textContent = 'Hover a cell: rows are output tokens, columns are input tokens.';
  }

  // @include document.js
  function showDoc() {
    document.getElementById('heading').textContent =
      [data.model, data.mechanism].filter(Boolean).join(' \u00b7 ') || 'static attention';
    document.getElementById('subheading').textContent = data.title;
    var view = document.getElementById('view'), paint = null;
    view.appendChild(levelChoice(function () { paint(levelMode()); }));
    view.appendChild(el('p', 'legend', docLegend));
    paint = renderDoc(view, data, '');
    paint(levelMode());
    readout.textContent = 'Hover a word to see its weight.';
  }

  /* ------------------------------------------- a report of many documents */
  /* The filter radios: all, then each tag (in order of first use) with its count. */
  function tagChoice(docs, onChange) {
    var counts = {}, order = [];
    docs.forEach(function (d) {
      d.tags.forEach(function (t) {
        if (!counts.hasOwnProperty(t)) { counts[t] = 0; order.push(t); }
        counts[t]++;
      });
    });
    var box = el('div', 'filters');
    box.appendChild(el('span', '', 'show:'));
    [['all', 'all (' + docs.length + ')']].concat(order.map(function (t) {
      return [t, t + ' (' + counts[t] + ')'];
    })).forEach(function (o, i) {
      var label = el('label');
      var input = el('input');
      input.type = 'radio';
      input.name = 'filter';
      input.value = o[0];
      input.id = 'filter-' + i;
      input.dataset.tag = i === 0 ? '' : o[0];
      if (i === 0) input.checked = true;
      input.addEventListener('change', onChange);
      label.appendChild(input);
      label.appendChild(document.createTextNode(' ' + o[1]));
      box.appendChild(label);
    });
    return box;
  }
  function showDocuments() {
    var docs = data.docs;
    document.getElementById('heading').textContent = data.title || 'documents';
    var view = document.getElementById('view'), sections = [], painted = [];
    var count = el('p', 'shown-count');
    function filter() {
      var tag = document.querySelector('input[name=filter]:checked').dataset.tag, shownDocs = 0;
      sections.forEach(function (sec) {
        sec.hidden = tag !== '' && sec.attendTags.indexOf(tag) < 0;
        if (!sec.hidden) shownDocs++;
      });
      count.textContent = shownDocs + ' of ' + docs.length + ' documents';
    }
    view.appendChild(tagChoice(docs, filter));
    view.appendChild(levelChoice(function () {
      painted.forEach(function (sec) { sec.paint(levelMode()); });
    }));
    view.appendChild(el('p', 'legend', docLegend));
    view.appendChild(count);
    var list = el('div', 'reports');
    docs.forEach(function (doc, i) {
      var sec = el('section', 'report-doc');
      sec.id = 'doc-' + i;
      sec.attendTags = doc.tags;
      var name = doc.title || 'document ' + (i + 1);
      var h2 = el('h2', '', name);
      h2.dir = 'auto';
      sec.appendChild(h2);
      var about = [doc.model, doc.mechanism].filter(Boolean).join(' \u00b7 ');
      if (doc.note || about) sec.appendChild(el('p', 'note', [doc.note, about].filter(Boolean).join(' \u2014 ')));
      var chips = el('p', 'tags');
      doc.tags.forEach(function (t) { chips.appendChild(el('span', 'tag', t)); });
      if (doc.tags.length) sec.appendChild(chips);
      var body = el('div', 'doc-body');
      var words = doc.sentences.reduce(function (n, s) { return n + s.words.length; }, 0);
      body.style.minHeight = Math.ceil(words / 12 + doc.sentences.length) * 32 + 'px';
      sec.appendChild(body);
      /* drawn when first near the screen: a report of a thousand long
       * documents opens at once */
      sec.render = function () {
        if (sec.paint) return;
        sec.paint = renderDoc(body, doc, name + ': ');
        sec.paint(levelMode());
        body.style.minHeight = '';
        painted.push(sec);
      };
      sections.push(sec);
      list.appendChild(sec);
    });
    view.appendChild(list);
    filter();
    if (window.IntersectionObserver) {
      var seen = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (!e.isIntersecting) return;
          e.target.render();
          seen.unobserve(e.target);
        });
      }, { rootMargin: '1500px 0px' });
      sections.forEach(function (sec) { seen.observe(sec); });
    } else {
      sections.forEach(function (sec) { sec.render(); });
    }
    readout.textContent = 'Hover a word to see its weight; choose a tag to show only those documents.';
  }

  /* ------------------------------------------- layers of a language model */
  // @include select.js
  function showLayers() {
    var maps = data.maps, first = maps[0];
    document.getElementById('heading').textContent = data.title || 'attention of every layer and head';
    document.getElementById('subheading').textContent = first.title;
    var view = document.getElementById('view');
    view.appendChild(buildColourBar());
    var choices = el('div', 'choices');
    var layers = selectOf('layer-select', 'layer', maps.length, [['all', 'all layers']]);
    var heads = selectOf('head-select', 'head', first.heads, [['all', 'all heads'], ['mean', 'mean of heads']]);
    layers.select.value = '0';
    heads.select.value = 'all';
    choices.appendChild(layers.label);
    choices.appendChild(heads.label);
    view.appendChild(choices);
    var body = el('div', 'layers');
    view.appendChild(body);
    function draw() {
      body.textContent = '';
      var lv = layers.select.value, hv = heads.select.value, ls = [], hs = [];
      for (var l = 0; l < maps.length; l++) if (lv === 'all' || lv === String(l)) ls.push(l);
      if (hv === 'mean') hs.push('mean');
      for (var h = 0; h < first.heads; h++) if (hv === 'all' || hv === String(h)) hs.push(h);
      var cell = Math.max(3, Math.min(28, Math.floor(1000 / (hs.length * first.cols))));
      ls.forEach(function (l) {
        var row = el('section', 'layer-row');
        row.appendChild(el('h2', '', 'layer ' + (l + 1)));
        var grid = el('div', 'head-grid');
        hs.forEach(function (h) {
          var box = el('div', 'head-box');
          box.appendChild(el('h3', '', h === 'mean' ? 'mean of heads' : 'head ' + (h + 1)));
          box.appendChild(buildTable(maps[l], h, cell, l));
          grid.appendChild(box);
        });
        row.appendChild(grid);
        body.appendChild(row);
      });
    }
    layers.select.addEventListener('change', draw);
    heads.select.addEventListener('change', draw);
    draw();
    readout.textContent = 'Hover a cell: row = the position attending, column = the position it attends to.';
  }

  /* ------------------------------------------- snapshots during training */
  // @include curves.js
  function showSnapshots() {
    var shots = data.snapshots, points = data.points;
    document.getElementById('heading').textContent = data.title || 'attention while training';
    document.getElementById('subheading').textContent = [data.model, data.mechanism].filter(Boolean).join(' \u00b7 ');
    var view = document.getElementById('view');
    var controls = el('div', 'snapshot-controls');
    var play = el('button', '', 'play');
    play.id = 'snapshot-play';
    play.type = 'button';
    var slider = el('input');
    slider.id = 'snapshot-slider';
    slider.type = 'range';
    slider.min = '0';
    slider.max = String(shots.length - 1);
    slider.step = '1';
    slider.value = String(shots.length - 1);
    slider.setAttribute('aria-label', 'snapshot');
    var label = el('span', 'snapshot-label');
    label.id = 'snapshot-step';
    controls.appendChild(play);
    controls.appendChild(slider);
    controls.appendChild(label);
    view.appendChild(controls);
    var xmax = Math.max(shots[shots.length - 1].step, points.length ? points[points.length - 1][0] : 0);
    var curves = el('div', 'curves');
    var loss = points.filter(function (p) { return p[1] !== null; });
    var marks = [linePlot(curves, 'curve-loss', 'training loss (smoothed)', [{ name: 'loss', xs: loss.map(function (p) { return p[0]; }), ys: loss.map(function (p) { return p[1]; }) }], xmax, false)];
    var names = [], evals = points.filter(function (p) { return p[2] !== null; });
    evals.forEach(function (p) { Object.keys(p[2]).forEach(function (k) { if (names.indexOf(k) < 0) names.push(k); }); });
    var valid = names.map(function (k) {
      var e = evals.filter(function (p) { return p[2].hasOwnProperty(k); });
      return { name: k, dots: true, xs: e.map(function (p) { return p[0]; }), ys: e.map(function (p) { return p[2][k]; }) };
    });
    var unit = valid.every(function (s) { return s.ys.every(function (y) { return y >= 0 && y <= 1; }); });
    marks.push(linePlot(curves, 'curve-valid', valid.length ? 'validation' : 'validation (none yet)', valid, xmax, unit));
    view.appendChild(curves);
    view.appendChild(buildColourBar());
    var panels = el('div', 'panels');
    panels.id = 'snapshot-maps';
    view.appendChild(panels);
    var heads = {};
    function show(i) {
      var s = shots[i];
      var text = 'step ' + s.step + ' (snapshot ' + (i + 1) + ' of ' + shots.length + ')';
      if (s.loss !== null) text += ' \u00b7 loss ' + fmt(s.loss);
      if (s.valid_step >= 0) text += ' \u00b7 ' + metricText(s.valid) + ' (step ' + s.valid_step + ')';
      label.textContent = text;
      marks.forEach(function (m) { m(s.step); });
      panels.textContent = '';
      data.probes.forEach(function (probe, p) {
        var box = el('section', 'probe');
        box.id = 'probe-' + p;
        var h2 = el('h2', '', probe);
        h2.dir = 'auto';
        box.appendChild(h2);
        var out = el('p', 'panel-input', '\u2192 ' + (s.outputs[p] === '' ? '(empty)' : s.outputs[p]));
        out.dir = 'auto';
        box.appendChild(out);
        var map = s.maps[p];
        if (map === null) box.appendChild(el('p', 'legend', 'no output yet: the model wrote END first'));
        else {
          box.appendChild(buildPanel(map, p, false));
          var select = box.querySelector('select');
          if (select) {
            if (heads[p] !== undefined) {
              select.value = heads[p];
              select.dispatchEvent(new Event('change'));
            }
            select.addEventListener('change', function () { heads[p] = select.value; });
          }
        }
        panels.appendChild(box);
      });
      readout.textContent = 'Hover a cell: rows are output tokens, columns are input tokens (step ' + s.step + ').';
    }
    var timer = null;
    function stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      play.textContent = 'play';
    }
    slider.addEventListener('input', function () { show(Number(slider.value)); });
    play.addEventListener('click', function () {
      if (timer !== null) return stop();
      if (Number(slider.value) >= shots.length - 1) slider.value = '0';
      show(Number(slider.value));
      play.textContent = 'pause';
      timer = setInterval(function () {
        var i = Number(slider.value) + 1;
        if (i > shots.length - 1) return stop();
        slider.value = String(i);
        show(i);
      }, 600);
    });
    show(shots.length - 1);
  }

  if (data.kind === 'snapshots') showSnapshots();
  else if (data.kind === 'document') showDoc();
  else if (data.kind === 'documents') showDocuments();
  else if (data.kind === 'layers') showLayers();
  else showMaps();
})();
