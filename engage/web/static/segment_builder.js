// The segment builder (segment_builder.html): criteria and all/any groups drawn from the criterion
// kinds the API describes, in the marketer's words; each row offers only what its kind and field
// allow (a select of usage kinds, a date picker, is / is not), and the count follows every edit.
// The page only assembles the JSON tree; counting, checking and saving are /api/v1/segments.
(() => {
  const SAMPLE = 5;  // a few masked subscribers, refreshed with the count once asked for
  const data = id => JSON.parse(document.getElementById(id).textContent);
  let saved = data('segment-data');
  const savedSegments = data('saved-segments');  // [{id, name}] for "In a saved segment"
  const xsrf = document.querySelector('input[name=_xsrf]')?.value
    || decodeURIComponent(document.cookie.replace(/(?:^|.*;\s*)_xsrf=([^;]*).*|.*/, '$1'));
  const call = (method, url, body) => fetch(url, {method, headers: {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'},
                                                  body: body === undefined ? undefined : JSON.stringify(body)})
    .then(async r => ({status: r.status, body: await r.json()}));
  const post = (url, body) => call('POST', url, body);
  const el = (tag, attrs = {}, ...children) => { const e = document.createElement(tag); Object.assign(e, attrs); e.append(...children); return e; };
  let kinds = {}, fields = {}, timer = null, seq = 0, sampleOn = false, jsonMode = false;
  const NO_VALUE = new Set(['empty', 'not_empty']), LISTS = new Set(['in', 'not_in']);

  // --- controls: an element to show, read() -> the JSON value (undefined while empty), write(value) ---
  function labelled(text, input, quiet) {  // named by aria-label: a <label> around a select would add its options to the name
    input.setAttribute('aria-label', text);
    return quiet ? el('span', {className: 'param'}, input)
      : el('span', {className: 'param'}, el('span', {className: 'param-label', textContent: text, ariaHidden: 'true'}), input);
  }
  function choice(text, pairs, initial, {multiple = false, quiet = false} = {}) {
    // an option's value is the JSON value's text ("ge", "true", "12"), read back as the JSON value itself
    const asText = v => (v === null || v === undefined ? '' : String(v));
    const select = el('select', {multiple}, ...pairs.map(([v, words]) => el('option', {value: asText(v), textContent: words})));
    if (multiple) select.size = Math.min(pairs.length, 4);
    const valueOf = t => pairs.find(([v]) => asText(v) === t)?.[0] ?? undefined;
    const write = v => {
      if (multiple) { const wanted = (Array.isArray(v) ? v : [v]).map(asText);
        for (const o of select.options) o.selected = wanted.includes(o.value); }
      else select.value = asText(v);
    };
    if (initial !== undefined && initial !== null) write(initial);
    const read = () => {
      if (multiple) { const chosen = [...select.selectedOptions].map(o => valueOf(o.value)); return chosen.length ? chosen : undefined; }
      return select.value === '' ? undefined : valueOf(select.value);
    };
    return {element: labelled(text, select, quiet), input: select, read, write};
  }
  function typed(text, type, {quiet = false, list = false, step} = {}) {
    const input = el('input', {type: list ? 'text' : type, size: list ? 18 : 12});
    if (step) input.step = step;
    if (list) input.placeholder = 'a, b, c';
    const one = t => { if (type !== 'number') return t; const n = Number(t); return Number.isFinite(n) ? n : t; };
    const read = () => {
      const t = input.value.trim();
      if (!t) return undefined;
      return list ? t.split(',').map(s => one(s.trim())).filter(s => s !== '') : one(t);
    };
    const write = v => { input.value = Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? '' : String(v); };
    return {element: labelled(text, input, quiet), input, read, write};
  }
  function pair(make) {  // [low, high] for "between": two controls, "and" between them
    const low = make('from'), high = make('to');
    const element = el('span', {className: 'pair'}, low.element, ' and ', high.element);
    const read = () => { const a = low.read(), b = high.read();
      return a === undefined && b === undefined ? undefined : [a ?? null, b ?? null]; };
    const write = v => { if (Array.isArray(v)) { low.write(v[0]); high.write(v[1]); } };
    return {element, input: low.input, read, write, partial: () => { const v = read(); return v && v.includes(null); }};
  }
  const INPUTS = {integer: ['number', '1'], number: ['number', 'any'], date: ['date'], datetime: ['datetime-local'], text: ['text']};
  function valueControl(type, op, text, choices) {  // a value of `type` as `op` takes it: one, a list, a pair, none
    if (NO_VALUE.has(op)) return null;
    const single = words => {
      if (type === 'bool') return choice(words, [[true, 'yes'], [false, 'no']], true, {quiet: true});
      if (choices) return choice(words, choices, undefined, {quiet: true});
      const [input, step] = INPUTS[type] || ['text'];
      return typed(type === 'datetime' ? `${words} (UTC)` : words, input, {quiet: true, step});
    };
    if (op === 'between') return pair(single);
    if (LISTS.has(op)) return choices ? choice(text, choices, undefined, {multiple: true, quiet: true})
      : typed(`${text}, separated by commas`, INPUTS[type]?.[0] === 'number' ? 'number' : 'text', {quiet: true, list: true});
    return single(text);
  }

  // --- one criterion row ---
  const pairsOf = p => p.options.map(o => [o.value, o.label]);
  function criterionRow(node) {
    const row = el('div', {className: 'criterion'});
    row.setAttribute('role', 'group');
    const number = el('span', {className: 'number'});
    const not = el('input', {type: 'checkbox', className: 'not'});
    const kindPairs = Object.values(kinds).map(k => [k.kind, k.label]);
    const kind = choice('what to select by', kindPairs, 'field', {quiet: true});
    kind.input.classList.add('kind');
    const params = el('span', {className: 'params'});
    const remove = el('button', {type: 'button', className: 'remove', textContent: '×'});
    const note = el('span', {className: 'row-note muted'});
    row.append(number, el('label', {className: 'not-label'}, not, ' not'), kind.element, params, remove, note);
    let controls = {};  // param name -> control
    const k = () => kinds[kind.read()];
    const field = () => (k().kind === 'field' ? fields[controls.field?.read()] : undefined);
    function slotFor(name) { return params.querySelector(`[data-slot="${name}"]`); }
    function put(name, control, dataType) {  // a control into its slot, tagged for tests and reading
      const slot = slotFor(name);
      controls[name] = control;
      slot.replaceChildren(...(control ? [control.element] : []));
      if (control) for (const input of control.element.querySelectorAll('input, select')) {
        input.dataset.param = name; input.dataset.type = dataType; }
    }
    let valueShape = '';
    // a value that follows a comparison (or a field's type) is drawn by drawValue, other params once
    const compared = () => k().params.some(q => q.name === 'op') && k().params.some(q => q.name === 'value');
    function drawValue() {  // the value fits the field and the comparison: re-drawn only when its shape changes
      const p = k().params.find(q => q.name === 'value');
      if (!p || !compared()) return;
      const op = controls.op ? controls.op.read() : undefined, f = field();
      let type = p.type, choices = null, text = p.label;
      if (k().kind === 'field') {
        if (!f) { put('value', null); valueShape = ''; return; }
        type = f.type; text = 'value';
        if (f.choices) choices = f.choices.map(c => [c, f.choice_labels[c] || c]);
      } else if (k().kind === 'attribute') type = 'text';
      const shape = `${type}|${op}|${NO_VALUE.has(op) ? 'none' : op === 'between' ? 'pair' : LISTS.has(op) ? 'list' : 'one'}|${f?.name}`;
      if (shape === valueShape) return;
      const before = controls.value?.read();
      valueShape = shape;
      const control = valueControl(type, op, text, choices);
      put('value', control, type);
      if (control && before !== undefined && !Array.isArray(before) && !LISTS.has(op) && op !== 'between') control.write(before);
    }
    function drawOps() {  // a field's comparisons: only those it allows, in words
      const f = field();
      if (!f) { put('op', null); return; }
      const pairs = f.operators.map(o => [o, f.operator_labels[o] || o]);
      const before = controls.op?.read();
      const control = choice('comparison', pairs, pairs.some(([o]) => o === before) ? before : pairs[0]?.[0], {quiet: true});
      put('op', control, 'operator');
      control.input.addEventListener('change', drawValue);
    }
    function drawParams() {
      params.replaceChildren(); controls = {}; valueShape = '';
      for (const p of k().params) {
        const slot = el('span', {className: 'slot'});
        slot.dataset.slot = p.name;
        params.append(slot, ' ');
      }
      for (const p of k().params) {
        let control;
        if (p.name === 'value' && compared()) continue;
        if (k().kind === 'field' && p.name === 'field') {
          control = choice('field', [[null, 'choose a field…'], ...Object.values(fields).map(f => [f.name, f.label])],
                           undefined, {quiet: true});
          put('field', control, 'field');
          control.input.addEventListener('change', () => { drawOps(); drawValue(); });
          continue;
        }
        if (k().kind === 'field' && p.name === 'op') { drawOps(); continue; }
        if (p.name === 'segment_id') control = choice(p.label, savedSegments.length
          ? savedSegments.map(s => [s.id, s.name]) : [[null, 'no other saved segment yet']], undefined);
        else if (p.options) control = choice(p.label, pairsOf(p), p.default ?? undefined, {quiet: true});  // its options say it
        else if (p.type === 'boolean') {
          const box = el('input', {type: 'checkbox', checked: p.default === true});  // as the server reads it absent
          control = {element: el('label', {className: 'param'}, box, ` ${p.label}`), input: box,
                     read: () => box.checked, write: v => { box.checked = !!v; }};
        } else if (p.type === 'integer' || p.type === 'number') control = typed(p.label, 'number', {step: p.type === 'integer' ? '1' : 'any'});
        else control = typed(p.label, 'text', {list: p.type === 'list[string]'});
        put(p.name, control, p.type);
        if (p.name === 'op') control.input.addEventListener('change', drawValue);
      }
      drawValue();
    }
    kind.input.addEventListener('change', () => { drawParams(); changed(); });
    remove.addEventListener('click', () => { row.remove(); changed(); });
    drawParams();
    row.blank = () => k().kind === 'field' && !field();
    row.called = () => {  // as the engine names it in errors: "City", "Last activity", "Age"
      if (field()) return field().label;
      const date = k().params.find(p => p.name === 'field' && p.options);
      const chosen = date && controls.field?.read();
      return (chosen && date.options.find(o => o.value === chosen)?.label) || k().label;
    };
    row.setNumber = n => {
      row.number = n; number.textContent = `${n}.`;
      row.setAttribute('aria-label', `Criterion ${n}`);
      kind.input.setAttribute('aria-label', `Criterion ${n}: what to select by`);
      remove.setAttribute('aria-label', `Remove criterion ${n}`);
      not.setAttribute('aria-label', `Criterion ${n}: not (select who does not match it)`);
    };
    row.missing = () => {  // what is still to be entered, in the kind's own words; null when complete
      const op = controls.op?.read();
      if (k().kind === 'field' && !field()) return 'choose a field';
      for (const p of k().params) {
        const c = controls[p.name];
        if (p.name === 'value' && NO_VALUE.has(op)) continue;
        if (p.name === 'value' && c && c.read() === undefined) return field()?.asks[op] || p.ask;
        if (c?.partial?.()) return field()?.asks.between || 'enter both ends of the range';
        if (p.required && c && c.read() === undefined) return p.ask;
      }
      return null;
    };
    row.read = () => {  // the criterion's JSON, or null while something required is missing
      if (row.missing()) return null;
      const node = {kind: kind.read()};
      for (const p of k().params) {
        const value = controls[p.name]?.read();
        if (value !== undefined) node[p.name] = value;
      }
      if (node.kind === 'field') delete node.kind;
      return not.checked ? {not: node} : node;
    };
    row.write = saved => {  // a saved criterion into this row; false when it cannot show all of it
      let n = saved;
      if (n.not && !('and' in n.not || 'or' in n.not || 'not' in n.not)) { not.checked = true; n = n.not; }
      if ('and' in n || 'or' in n || 'not' in n || !((n.kind || 'field') in kinds)) return false;
      if (n.field !== undefined && (n.kind || 'field') === 'field' && !(n.field in fields)) return false;
      kind.write(n.kind || 'field'); drawParams();
      for (const name of ['field', 'op']) if (name in n && controls[name]) {
        controls[name].write(n[name]);
        if (name === 'field' && k().kind === 'field') drawOps();
        drawValue();
      }
      for (const [name, value] of Object.entries(n)) if (!['kind', 'field', 'op'].includes(name) && controls[name]) controls[name].write(value);
      return true;
    };
    row.showError = text => { note.textContent = text; row.dataset.error = text ? 'true' : ''; };
    if (node && !row.write(node)) throw new Error('not for the builder');
    return row;
  }

  // --- groups ---
  function groupBox(nested, node) {
    const box = el('div', {className: 'group'});
    box.setAttribute('role', 'group');
    const how = el('select', {className: 'how'}, el('option', {value: 'and', textContent: 'all'}), el('option', {value: 'or', textContent: 'any'}));
    how.setAttribute('aria-label', 'Match all or any of these criteria');
    const items = el('div', {className: 'items'});
    const addRow = el('button', {type: 'button', className: 'add-criterion', textContent: '+ criterion'});
    const addGroup = el('button', {type: 'button', className: 'add-group', textContent: '+ group'});
    box.append(el('p', {}, el('label', {}, 'Match ', how, ' of these criteria:')), items, addRow, ' ', addGroup);
    if (nested) { const rm = el('button', {type: 'button', className: 'remove remove-group', textContent: 'remove group'});
      rm.addEventListener('click', () => { box.remove(); changed(); }); box.append(' ', rm); }
    addRow.addEventListener('click', () => { items.append(criterionRow()); changed(); });
    addGroup.addEventListener('click', () => { items.append(groupBox(true)); changed(); });
    how.addEventListener('change', changed);
    box.nested = nested; box.items = items; box.how = how;
    box.setNumber = n => {
      const name = n ? `Group ${n}` : 'The segment';
      box.setAttribute('aria-label', name);
      for (const [b, words] of [[addRow, 'add a criterion'], [addGroup, 'add a group']]) b.setAttribute('aria-label', `${name}: ${words}`);
      [...items.children].forEach((child, i) => child.setNumber(n ? `${n}.${i + 1}` : `${i + 1}`));
    };
    const how0 = node && ('and' in node ? 'and' : 'or' in node ? 'or' : null);
    if (!node) items.append(criterionRow());
    else if (!how0) items.append(criterionRow(node));
    else { how.value = how0;
      for (const child of node[how0]) items.append('and' in child || 'or' in child ? groupBox(true, child) : criterionRow(child)); }
    return box;
  }
  // a group box as JSON, with where each row's criterion sits in it and which rows are not complete
  function readGroup(box, unfinished) {
    const parts = [];
    for (const child of box.items.children) {
      if (child.classList.contains('group')) { const g = readGroup(child, unfinished); if (g) parts.push(g); continue; }
      if (child.blank()) continue;  // a row where nothing is chosen yet (a new segment's first) selects nothing apart
      const node = child.read();
      if (node === null) unfinished.push(child); else parts.push({node, marks: [['', child]]});
    }
    if (!parts.length) return box.nested ? null : {node: {kind: 'all'}, marks: []};  // an empty subgroup selects nobody's fate
    if (parts.length === 1) return parts[0];
    const how = box.how.value;
    return {node: {[how]: parts.map(p => p.node)},
            marks: parts.flatMap((p, i) => p.marks.map(([s, row]) => [`.${how}[${i}]${s}`, row]))};
  }
  function canon(n) {  // for telling whether the builder shows a saved definition faithfully
    if (Array.isArray(n)) return n.map(canon);
    if (!n || typeof n !== 'object') return n;
    let out = {...n};
    if (!('and' in n || 'or' in n || 'not' in n)) {
      if (out.kind === 'field') delete out.kind;
      for (const p of kinds[out.kind || 'field']?.params || []) if (!(p.name in out) && p.default !== null) out[p.name] = p.default;
    }
    out = Object.fromEntries(Object.entries(out).filter(([, v]) => !(v === false || v === '' || v === null || (Array.isArray(v) && !v.length))));
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, canon(v)]).sort(([a], [b]) => a < b ? -1 : 1));
  }
  const same = (a, b) => JSON.stringify(canon(a)) === JSON.stringify(canon(b));

  const root = document.getElementById('builder'), jsonBox = document.getElementById('definition-json');
  const error = document.getElementById('error'), toggle = document.getElementById('edit-json');
  const pending = document.getElementById('unfinished');
  let marks = [], unfinished = [], countSaid = false;  // countSaid: #error holds a count's refusal (not a save's)
  function renumber() { if (root.firstChild) root.firstChild.setNumber(''); }
  function definition() {
    if (jsonMode) return JSON.parse(jsonBox.value);
    renumber();
    unfinished = [];
    const read = readGroup(root.firstChild, unfinished);
    marks = read.marks.map(([s, row]) => [`segment${s}`, row]);
    return read.node;
  }
  function showUnfinished() {
    for (const row of root.querySelectorAll('.criterion')) row.showError('');
    pending.textContent = jsonMode || !unfinished.length ? ''
      : `Not counted until complete: ${unfinished.map(r => `criterion ${r.number} (${r.called()}): ${r.missing()}`).join('; ')}.`;
  }
  function explain(body) {  // the API's refusal, numbered as the builder lists its criteria
    if (jsonMode || !body.path) return body.error;
    let best = null;
    for (const [path, row] of marks) {
      const exact = body.path === path || body.path === `${path}.not`;
      if ((exact || body.path.startsWith(`${path}.`)) && (!best || path.length > best.path.length)) best = {path, row, exact};
    }
    if (!best) return body.explanation || body.error;
    const said = best.exact ? `Criterion ${best.row.number} (${body.criterion || best.row.called()}): ${body.hint || body.error}`
      : `Criterion ${best.row.number} (${best.row.called()}): ${body.explanation || body.error}`;
    best.row.showError(said);
    return said;
  }
  function built(def) {  // a group box showing `def`, or null when the builder cannot show all of it
    try { const box = groupBox(false, def); root.replaceChildren(box); renumber();
      return same(readGroup(box, []).node, def) ? box : null; }
    catch (e) { return null; }
  }
  function setJsonMode(on, def) {
    jsonMode = on; root.hidden = on; jsonBox.hidden = !on;
    toggle.textContent = on ? 'Use the builder' : 'Edit as JSON';
    if (on) jsonBox.value = JSON.stringify(def, null, 1);
  }
  toggle.addEventListener('click', () => {
    if (!jsonMode) { setJsonMode(true, definition()); showUnfinished(); return; }
    let def; try { def = JSON.parse(jsonBox.value); } catch (e) { error.textContent = `JSON: ${e.message}`; countSaid = true; return; }
    if (built(def)) { setJsonMode(false); changed(); }
    else { root.replaceChildren(); error.textContent = 'The builder cannot show this definition: keep editing it as JSON.'; countSaid = true; }
  });
  function changed() { renumber(); clearTimeout(timer); timer = setTimeout(count, 250); }
  async function count() {
    let def;
    const counter = document.getElementById('count'), warning = document.getElementById('reach-warning');
    const stale = message => {  // no count for a definition that cannot be counted: never an old one
      error.textContent = message; countSaid = true; counter.textContent = 'No count while the definition has an error.';
      counter.dataset.stale = 'true'; delete counter.dataset.reachable; warning.hidden = true;
    };
    try { def = definition(); } catch (e) { stale(`JSON: ${e.message}`); return; }
    showUnfinished();
    document.getElementById('definition').textContent = JSON.stringify(def, null, 1);
    const mine = ++seq, sample = sampleOn ? SAMPLE : 0;
    const r = await post('/api/v1/segments/count', {definition: def, sample});
    if (mine !== seq) return;  // a later edit's count is on its way: this one is stale
    if (r.status !== 200) { stale(explain(r.body)); return; }
    if (countSaid) { error.textContent = ''; countSaid = false; }  // a save's refusal stays until the next save
    const c = r.body;
    delete counter.dataset.stale;
    warning.hidden = c.reachable !== 0;
    warning.textContent = c.matching ? `Nobody here can be sent a message: all ${c.matching.toLocaleString()} who match have opted out.`
      : 'Nobody matches: a campaign to this segment would send nothing.';
    counter.textContent = `${c.matching.toLocaleString()} match · ${c.opted_out.toLocaleString()} opted out · ${c.reachable.toLocaleString()} reachable (${c.took_ms} ms)`;
    counter.dataset.reachable = c.reachable;
    const table = document.getElementById('sample');
    const note = document.getElementById('sample-note');
    table.hidden = note.hidden = !sample;
    if (!sample) return;
    table.querySelector('tbody').replaceChildren(...c.sample.map(s => el('tr', {}, el('td', {textContent: s.msisdn}),
      el('td', {textContent: [s.first_name, s.last_name].filter(Boolean).join(' ')}), el('td', {textContent: s.language || ''}), el('td', {textContent: s.city || ''}))));
    note.textContent = `${c.sample.length} of ${c.reachable.toLocaleString()} reachable, numbers masked`;
    table.dataset.rows = c.sample.length;
  }
  root.addEventListener('input', changed); root.addEventListener('change', changed); jsonBox.addEventListener('input', changed);
  const sampler = document.getElementById('show-sample');
  sampler.addEventListener('click', () => {
    sampleOn = !sampleOn; sampler.textContent = sampleOn ? 'Hide the sample' : 'Show a sample';
    sampler.setAttribute('aria-pressed', String(sampleOn)); count();
  });
  const say = text => { document.getElementById('saved').textContent = text; error.textContent = ''; countSaid = false; };
  const form = document.getElementById('save-form');
  if (form) form.addEventListener('submit', async e => {
    e.preventDefault();
    let def; try { def = definition(); } catch (err) { error.textContent = `JSON: ${err.message}`; return; }
    if (unfinished.length) {  // saving would drop them without a word
      const r = unfinished[0];
      error.textContent = `Finish or remove criterion ${r.number} (${r.called()}) before saving: ${r.missing()}.`;
      return;
    }
    const name = document.getElementById('segment-name').value;
    if (saved) {
      const r = await call('PUT', `/api/v1/segments/${saved.id}`, {name, definition: def});
      if (r.status !== 200) { error.textContent = explain(r.body); return; }
      document.getElementById('title').textContent = r.body.name; document.title = `${r.body.name} · engage`;
      say(`Saved: ${r.body.reachable} reachable.${r.body.reachable === 0 ? ' Nobody in it can be sent a message.' : ''}`);
      return;
    }
    const r = await post('/api/v1/segments', {name, definition: def});
    if (r.status !== 201) { error.textContent = explain(r.body); return; }
    say(`Saved as segment ${r.body.segment_id}: ${r.body.reachable} reachable.${r.body.reachable === 0 ? ' Nobody in it can be sent a message.' : ''}`);
    document.getElementById('title').textContent = name; document.title = `${name} · engage`;
    saved = {id: r.body.segment_id, name, definition: def};  // from now on Save changes it
    history.replaceState(null, '', `/segments/${saved.id}`);
  });
  document.getElementById('duplicate')?.addEventListener('click', async () => {
    const r = await post(`/api/v1/segments/${saved.id}/duplicate`, {});
    if (r.status === 201) location.assign(`/segments/${r.body.segment_id}`); else error.textContent = r.body.error;
  });
  document.getElementById('delete')?.addEventListener('click', async () => {
    if (!confirm(`Delete the segment “${saved.name}”?`)) return;
    const r = await call('DELETE', `/api/v1/segments/${saved.id}`);
    if (r.status === 200) location.assign(`/segments?deleted=${encodeURIComponent(saved.name)}`);
    else error.textContent = r.body.error;
  });
  fetch('/api/v1/segments/kinds').then(r => r.json()).then(answer => {
    const ordered = [...answer.kinds].sort((a, b) => (a.kind === 'field' ? -1 : b.kind === 'field' ? 1 : a.label.localeCompare(b.label)));
    for (const k of ordered) { kinds[k.kind] = k; if (k.fields) for (const f of k.fields) fields[f.name] = f; }
    if (!saved) root.append(groupBox(false));
    else if (!built(saved.definition)) {
      root.replaceChildren(); setJsonMode(true, saved.definition);
      say('This definition has parts the builder cannot show: it is open as JSON.');
    }
    changed();
  });
})();
