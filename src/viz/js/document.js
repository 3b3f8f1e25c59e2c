// document.js - a document shaded by static (HAN) attention, shared by
// attend's HTML figures (src/viz/html.c) and the attention lab's page
// (cli/lab/lab.js), embedded where their script says `// @include
// document.js` (src/viz/js/expand.cmake; these leading // lines are left
// out). A document is {sentences: [{weight, words, word_weights}]};
// renderDoc shades each word by its weight relative to the largest in its
// sentence and each sentence by its weight, at word level, sentence level
// or both (levelChoice's radios), as Yang et al. 2016 show it; hovering a
// word gives its weight. Needs heatmap.js.
  /* ---------------------------------------------------- static attention */
  var docLegend = 'Each word is shaded by its weight relative to the largest in its sentence; each sentence by its weight relative to the largest sentence weight. Hover for exact values.';
  /* The level radios (words and sentences, words, sentences); onChange on a change. */
  function levelChoice(onChange) {
    var modes = el('div', 'modes');
    [['both', 'words and sentences'], ['words', 'words'], ['sentences', 'sentences']].forEach(function (m, i) {
      var label = el('label');
      var input = el('input');
      input.type = 'radio';
      input.name = 'level';
      input.value = m[0];
      input.id = 'level-' + m[0];
      if (i === 0) input.checked = true;
      input.addEventListener('change', onChange);
      label.appendChild(input);
      label.appendChild(document.createTextNode(' ' + m[1]));
      modes.appendChild(label);
    });
    return modes;
  }
  function levelMode() { return document.querySelector('input[name=level]:checked').value; }
  /* One document (title, sentences of words and weights) into box, the one
   * shading of every page; where prefixes the read-out. Returns paint(mode). */
  function renderDoc(box, doc, where) {
    var words = [];
    var maxS = Math.max.apply(null, doc.sentences.map(function (s) { return s.weight; })) || 1;
    var docBox = el('div', 'document');
    doc.sentences.forEach(function (s, si) {
      var p = el('p', 'sentence');
      p.dir = 'auto';
      p.dataset.s = si;
      var bar = el('span', 'sweight');
      var fill = el('span', 'sfill');
      fill.style.width = Math.round(48 * s.weight / maxS) + 'px';
      bar.appendChild(fill);
      bar.title = 'sentence ' + (si + 1) + ': ' + fmt(s.weight);
      p.appendChild(bar);
      var maxW = Math.max.apply(null, s.word_weights) || 1;
      s.words.forEach(function (w, wi) {
        var span = el('span', 'word', w);
        span.dataset.s = si;
        span.dataset.w = String(s.word_weights[wi]);
        span.relW = s.word_weights[wi] / maxW;
        span.relS = s.weight / maxS;
        words.push(span);
        p.appendChild(span);
        p.appendChild(document.createTextNode(' '));
      });
      p.relS = s.weight / maxS;
      docBox.appendChild(p);
    });
    box.appendChild(docBox);
    docBox.addEventListener('mouseover', function (ev) {
      var span = ev.target.closest('.word');
      if (!span) return;
      var s = doc.sentences[span.dataset.s];
      moveTip(ev, fmt(Number(span.dataset.w)));
      readout.textContent = where + 'word \u201c' + span.textContent + '\u201d: ' + fmt(Number(span.dataset.w)) +
        ' in sentence ' + (Number(span.dataset.s) + 1) + ' (sentence weight ' + fmt(s.weight) + ')';
    });
    docBox.addEventListener('mouseleave', hideTip);
    return function paint(mode) {
      docBox.querySelectorAll('.sentence').forEach(function (p) {
        p.style.background = mode === 'sentences' ? shade(p.relS) : 'transparent';
        p.style.color = mode === 'sentences' && p.relS > 0.55 ? '#fff' : '';
      });
      words.forEach(function (span) {
        var t = mode === 'words' ? span.relW : mode === 'both' ? Math.sqrt(span.relS) * span.relW : 0;
        span.style.background = mode === 'sentences' ? 'transparent' : shade(t);
        span.style.color = mode !== 'sentences' && t > 0.55 ? '#fff' : '';
      });
    };
  }
