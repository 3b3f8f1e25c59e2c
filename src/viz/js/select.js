// select.js - a labelled <select> of "name 1" .. "name count" after some
// extra options, shared by attend's HTML figures (the layer and head
// selectors of a language model's page, src/viz/html.c) and the attention
// lab's page (cli/lab/lab.js), embedded where their script says
// `// @include select.js` (src/viz/js/expand.cmake; these leading // lines
// are left out). Needs heatmap.js (el).
  function selectOf(id, name, count, extra) {
    var label = el('label', '', name + ': ');
    var select = el('select');
    select.id = id;
    extra.forEach(function (o) {
      var opt = el('option', '', o[1]);
      opt.value = o[0];
      select.appendChild(opt);
    });
    for (var i = 0; i < count; i++) {
      var opt = el('option', '', name + ' ' + (i + 1));
      opt.value = String(i);
      select.appendChild(opt);
    }
    label.appendChild(select);
    return { label: label, select: select };
  }
