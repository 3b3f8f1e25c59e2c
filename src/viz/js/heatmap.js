// heatmap.js - an attention map as an HTML table, shared by attend's HTML
// figures (src/viz/html.c) and the attention lab's page (cli/lab/lab.js),
// which embed it at build time where their script says `// @include
// heatmap.js` (src/viz/js/expand.cmake; these leading // lines are left
// out). A map is {title, model, mechanism, heads, rows, cols, row_labels,
// col_labels, weights [heads][rows][cols]}: buildTable draws one head (or
// their mean), output units down the side and input units along the top,
// in the colour ramp `anchors` (at_viz_colour's); hovering a cell marks
// its labels, shows its weight beside the pointer and writes the exact
// weight in the read-out line; buildPanel adds a head selector (all heads
// as a grid, their mean, or one head). It reads the including script's
// `anchors`, `tip`, `readout` and `sameInput`.
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
  function shade(t) {
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    var base = [59, 82, 139];
    var c = base.map(function (b) { return Math.round(255 + t * (b - 255)); });
    return 'rgb(' + c.join(',') + ')';
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  var symbols = { ' ': '\u2423', '\n': '\u23ce', '\r\n': '\u23ce', '\t': '\u21e5' };
  function shown(label) { return symbols.hasOwnProperty(label) ? symbols[label] : label; }
  function fmt(w) { return w.toFixed(4); }
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
  function nameOf(map, i) {
    var name = [map.model, map.mechanism].filter(Boolean).join(' \u00b7 ');
    return name || 'map ' + (i + 1);
  }

  /* ------------------------------------------------------------ heatmaps */
  function value(map, head, r, c) {
    if (head !== 'mean') return map.weights[head][r][c];
    var s = 0;
    for (var h = 0; h < map.heads; h++) s += map.weights[h][r][c];
    return s / map.heads;
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
    var table = td.closest('table');
    clearMarks(table);
    var r = td.dataset.row, c = td.dataset.col, map = table.attendMap;
    table.querySelector('th.row[data-row="' + r + '"]').classList.add('hl');
    table.querySelector('th.col[data-col="' + c + '"]').classList.add('hl');
    td.classList.add('active');
    var w = Number(td.dataset.w);
    var head = table.dataset.head === 'mean' ? 'mean of heads' : 'head ' + (Number(table.dataset.head) + 1);
    var row = shown(map.row_labels[r]), col = shown(map.col_labels[c]);
    var text = 'output \u201c' + row + '\u201d (' + (Number(r) + 1) + ') \u2190 input \u201c' +
      col + '\u201d (' + (Number(c) + 1) + '): ' + fmt(w);
    var where = map.heads > 1 ? head + ', ' : '';
    if (table.dataset.layer !== undefined) {
      where = 'layer ' + (Number(table.dataset.layer) + 1) + ', ' + head + ': ';
      text = '\u201c' + row + '\u201d (' + (Number(r) + 1) + ') attends to \u201c' + col + '\u201d (' +
        (Number(c) + 1) + '): ' + fmt(w);
    }
    moveTip(ev, tipText(table, td));
    readout.textContent = where + text + '  [exact: ' + td.dataset.w + ']';
  }
  /* the tooltip: the weight; on a layers page the two characters and the exact weight */
  function tipText(table, td) {
    if (table.dataset.layer === undefined) return fmt(Number(td.dataset.w));
    var map = table.attendMap;
    return shown(map.row_labels[td.dataset.row]) + ' \u2192 ' + shown(map.col_labels[td.dataset.col]) + ': ' + td.dataset.w;
  }
  function buildTable(map, head, cell, layer) {
    var t = el('table', 'heatmap');
    t.attendMap = map;
    t.dataset.head = head;
    if (layer !== undefined) {
      t.dataset.layer = layer;
      if (cell < 12) t.classList.add('compact');
    }
    t.style.setProperty('--cell', cell + 'px');
    var vertical = map.col_labels.some(function (s) { return Array.from(s).length > 2; });
    var tr = el('tr');
    tr.appendChild(el('th', 'corner'));
    map.col_labels.forEach(function (s, c) {
      var th = el('th', 'col' + (vertical ? ' vertical' : ''), shown(s));
      th.dataset.col = c;
      th.dir = 'auto';
      tr.appendChild(th);
    });
    var thead = el('thead');
    thead.appendChild(tr);
    t.appendChild(thead);
    var tbody = el('tbody');
    for (var r = 0; r < map.rows; r++) {
      var row = el('tr');
      var th = el('th', 'row', shown(map.row_labels[r]));
      th.dataset.row = r;
      th.dir = 'auto';
      row.appendChild(th);
      for (var c = 0; c < map.cols; c++) {
        var w = value(map, head, r, c);
        var td = el('td', 'cell');
        td.style.background = colour(w);
        td.dataset.row = r;
        td.dataset.col = c;
        td.dataset.w = String(w);
        row.appendChild(td);
      }
      tbody.appendChild(row);
    }
    t.appendChild(tbody);
    t.addEventListener('mouseover', onCell);
    t.addEventListener('mousemove', function (ev) {
      var td = ev.target.closest('td.cell');
      if (td) moveTip(ev, tipText(t, td));
    });
    t.addEventListener('mouseleave', function () { clearMarks(t); hideTip(); });
    return t;
  }
  function cellSize(map, grid) {
    var longest = Math.max(map.rows, map.cols);
    return Math.max(grid ? 8 : 12, Math.min(28, Math.floor((grid ? 420 : 720) / longest)));
  }
  function buildPanel(map, index, several) {
    var panel = el('section', 'panel');
    panel.id = 'panel-' + index;
    if (several) panel.appendChild(el('h2', '', nameOf(map, index)));
    if (several && !sameInput) panel.appendChild(el('p', 'panel-input', map.title));
    var body = el('div', 'panel-body'), select = null;
    if (map.heads > 1) {
      var label = el('label', 'head-choice', 'heads: ');
      select = el('select', 'head-select');
      select.id = 'head-select-' + index;
      [['all', 'all heads'], ['mean', 'mean of heads']].forEach(function (o) {
        var opt = el('option', '', o[1]);
        opt.value = o[0];
        select.appendChild(opt);
      });
      for (var h = 0; h < map.heads; h++) {
        var opt = el('option', '', 'head ' + (h + 1));
        opt.value = String(h);
        select.appendChild(opt);
      }
      select.value = several ? 'mean' : 'all';
      select.addEventListener('change', draw);
      label.appendChild(select);
      panel.appendChild(label);
    }
    function draw() {
      body.textContent = '';
      var choice = select ? select.value : '0';
      if (choice !== 'all') {
        var head = choice === 'mean' ? 'mean' : Number(choice);
        body.appendChild(buildTable(map, head, cellSize(map, false)));
        return;
      }
      var grid = el('div', 'head-grid');
      for (var h = 0; h < map.heads; h++) {
        var box = el('div', 'head-box');
        box.appendChild(el('h3', '', 'head ' + (h + 1)));
        box.appendChild(buildTable(map, h, cellSize(map, true)));
        grid.appendChild(box);
      }
      body.appendChild(grid);
    }
    draw();
    panel.appendChild(body);
    return panel;
  }
  function buildColourBar() {
    var bar = el('div', 'colourbar');
    var stops = anchors.map(function (c, i) {
      return 'rgb(' + c.join(',') + ') ' + (100 * i / (anchors.length - 1)) + '%';
    });
    var ramp = el('div', 'ramp');
    ramp.style.background = 'linear-gradient(to right, ' + stops.join(', ') + ')';
    bar.appendChild(el('span', '', 'weight 0'));
    bar.appendChild(ramp);
    bar.appendChild(el('span', '', '1'));
    return bar;
  }
