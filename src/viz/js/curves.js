// curves.js - training curves as inline SVG, shared by attend's snapshot
// pages (attend train --snapshots, src/viz/html.c) and the attention lab's
// training view (cli/lab/lab.js), embedded where their script says
// `// @include curves.js` (src/viz/js/expand.cmake; these leading // lines
// are left out). linePlot draws series against the step with a
// .step-marker that its returned mark(step) moves; metricText writes
// validation metrics. Needs heatmap.js (el, fmt).
  /* the SVG namespace, from the parser: the page names no address */
  var svgNS = (function () { var d = el('div'); d.innerHTML = '<svg></svg>'; return d.firstChild.namespaceURI; })();
  function svgEl(tag, attrs, text) {
    var e = document.createElementNS(svgNS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  var seriesColours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
  /* A small line plot: series [{name, xs, ys}], x from 0 to xmax; returns
   * mark(step), which moves the plot's .step-marker to that step. */
  function linePlot(box, id, title, series, xmax, unitRange) {
    var W = 440, H = 220, L = 52, R = 12, T = 26, B = 36, w = W - L - R, h = H - T - B;
    var svg = svgEl('svg', { id: id, class: 'curve', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H });
    var lo = Infinity, hi = -Infinity;
    series.forEach(function (s) { s.ys.forEach(function (y) { lo = Math.min(lo, y); hi = Math.max(hi, y); }); });
    if (unitRange || !isFinite(lo)) { lo = 0; hi = 1; }
    else { lo = Math.min(0, lo); if (!(hi > lo)) hi = lo + 1; }
    xmax = Math.max(1, xmax);
    function X(x) { return L + w * x / xmax; }
    function Y(y) { return T + h - h * (y - lo) / (hi - lo); }
    svg.appendChild(svgEl('text', { x: L, y: 16, class: 'curve-title' }, title));
    for (var k = 0; k <= 4; k++) {
      var yv = lo + (hi - lo) * k / 4, xv = Math.round(xmax * k / 4);
      svg.appendChild(svgEl('line', { x1: L, x2: L + w, y1: Y(yv), y2: Y(yv), class: 'grid' }));
      svg.appendChild(svgEl('text', { x: L - 6, y: Y(yv) + 4, 'text-anchor': 'end', class: 'tick' }, String(Number(yv.toPrecision(3)))));
      svg.appendChild(svgEl('text', { x: X(xv), y: T + h + 16, 'text-anchor': 'middle', class: 'tick' }, String(xv)));
    }
    svg.appendChild(svgEl('text', { x: L + w / 2, y: H - 4, 'text-anchor': 'middle', class: 'tick' }, 'step'));
    svg.appendChild(svgEl('rect', { x: L, y: T, width: w, height: h, class: 'frame' }));
    series.forEach(function (s, i) {
      var c = seriesColours[i % seriesColours.length];
      var pts = s.xs.map(function (x, j) { return X(x).toFixed(1) + ',' + Y(s.ys[j]).toFixed(1); });
      svg.appendChild(svgEl('polyline', { points: pts.join(' '), fill: 'none', stroke: c, 'stroke-width': 1.6, class: 'series' }));
      if (s.dots) s.xs.forEach(function (x, j) { svg.appendChild(svgEl('circle', { cx: X(x), cy: Y(s.ys[j]), r: 2.5, fill: c })); });
      svg.appendChild(svgEl('text', { x: L + w - 4, y: T + 14 + 14 * i, 'text-anchor': 'end', fill: c, class: 'legend-text' }, s.name));
    });
    var marker = svgEl('line', { x1: L, x2: L, y1: T, y2: T + h, class: 'step-marker' });
    svg.appendChild(marker);
    box.appendChild(svg);
    return function mark(step) {
      marker.setAttribute('x1', X(step));
      marker.setAttribute('x2', X(step));
      marker.setAttribute('data-step', String(step));
    };
  }
  function metricText(valid) {
    return Object.keys(valid).map(function (k) { return 'valid ' + k + ' ' + fmt(valid[k]); }).join(' \u00b7 ');
  }
