// The campaign wizard in steps. Without this script the form is one page that still works.
// Each Next asks the server (/campaigns/check) for every mistake at once and shows those of the
// steps seen so far beside their fields; step 4 shows the server's review. What is typed is kept in
// sessionStorage, so that a reload or Back brings it back, with the form's creation key: creating
// twice from the same form leads to the one campaign. A fresh visit starts a fresh form.
(() => {
  const form = document.getElementById('campaign-form');
  const key = form.dataset.storage;
  const steps = [...form.querySelectorAll('fieldset[data-step]')];
  const marks = [...document.querySelectorAll('#steps li')];
  const back = document.getElementById('back'), next = document.getElementById('next');
  const submit = form.querySelector('button[type=submit]');
  const xsrf = form.querySelector('input[name=_xsrf]');
  let step = 1, resume = false;

  const pick = document.getElementById('schedule');
  const showKind = () => form.querySelectorAll('[data-for]').forEach(e => { e.hidden = !e.dataset.for.split(' ').includes(pick.value); });
  const template = document.getElementById('template'), armB = document.getElementById('arm-b');
  const showArms = () => {  // an A/B share only for a template that has an arm B
    if (!armB) return;
    const arms = (template.selectedOptions[0] && template.selectedOptions[0].dataset.arms || '').split(' ');
    armB.hidden = !arms.includes('B');
    if (armB.hidden) armB.querySelector('input').value = '';
  };

  function save() {
    const data = {_step: step};
    for (const el of form.elements) {
      if (!el.name || el.name === '_xsrf') continue;
      if (el.type === 'checkbox') { (data[el.name] = data[el.name] || []); if (el.checked) data[el.name].push(el.value); }
      else data[el.name] = el.value;
    }
    sessionStorage.setItem(key, JSON.stringify(data));
  }
  function restore() {
    const data = JSON.parse(sessionStorage.getItem(key) || 'null');
    if (!data) return;
    for (const el of form.elements) {
      if (!el.name || el.name === '_xsrf' || !(el.name in data)) continue;
      if (el.type === 'checkbox') el.checked = data[el.name].includes(el.value); else el.value = data[el.name];
    }
    step = Math.min(3, data._step || 1);  // the review is asked for again, never restored stale
    resume = data._step === 4;
  }

  const stepOf = name => {
    const el = form.querySelector(`[name="${name}"]`) || document.getElementById(`error-${name}`);
    const set = el && el.closest('fieldset[data-step]');
    return set ? Number(set.dataset.step) : 0;
  };
  function show(n, focus = true) {
    step = n;
    steps.forEach(f => { f.hidden = Number(f.dataset.step) !== n; });
    marks.forEach(m => { if (Number(m.dataset.step) === n) m.setAttribute('aria-current', 'step'); else m.removeAttribute('aria-current'); });
    back.hidden = n === 1; next.hidden = n === 4; submit.hidden = n !== 4 && !form.dataset.draft;  // a saved draft saves from any step
    save();
    if (focus) {
      const first = steps[n - 1].querySelector('[aria-invalid=true]') || steps[n - 1].querySelector('input:not([type=hidden]), select, #review');
      if (first) { if (first.id === 'review') first.tabIndex = -1; first.focus(); }
    }
  }
  function mark(errors, upto) {  // every mistake of the steps up to `upto` beside its field
    form.querySelectorAll('[aria-invalid=true]').forEach(el => { el.removeAttribute('aria-invalid'); el.removeAttribute('aria-describedby'); });
    form.querySelectorAll('.field-error').forEach(el => { el.hidden = true; el.textContent = ''; });
    let shown = 0;
    for (const [name, message] of Object.entries(errors)) {
      if (stepOf(name) > upto) continue;
      const note = document.getElementById(`error-${name}`);
      const field = form.querySelector(`[name="${name}"]`) || (name === 'days' && form.querySelector('fieldset.days'));
      if (note) { note.textContent = message; note.hidden = false; }
      if (field) { field.setAttribute('aria-invalid', 'true'); if (note) field.setAttribute('aria-describedby', note.id); }
      shown += 1;
    }
    return shown;
  }
  function summary(count, general) {
    let box = document.getElementById('error');
    if (!count && !general.length) { if (box) box.remove(); return; }
    if (!box) { box = document.createElement('div'); box.id = 'error'; box.className = 'error'; box.setAttribute('role', 'alert'); document.getElementById('steps').before(box); }
    const p = document.createElement('p');
    p.textContent = `${count + general.length} thing${count + general.length === 1 ? '' : 's'} to fix${count ? ': each is shown beside its field' : ''}.`;
    const list = document.createElement('ul');
    for (const g of general) { const li = document.createElement('li'); li.textContent = g; list.append(li); }
    box.replaceChildren(p, ...(general.length ? [list] : []));
  }
  async function check(review) {
    const body = new FormData(form);
    const response = await fetch(`/campaigns/check${review ? '?review=1' : ''}`, {method: 'POST', body, headers: {'X-XSRFToken': xsrf.value}});
    if (!response.ok) throw new Error(`the check answered ${response.status}`);
    return response.json();
  }
  next.addEventListener('click', async () => {
    next.disabled = true;
    try {
      const answer = await check(step === 3);
      const count = mark(answer.errors, step);
      const general = step === 3 ? answer.general : [];
      summary(count, general);
      const wrong = Object.keys(answer.errors).map(stepOf).filter(n => n && n <= step);
      if (wrong.length) { show(Math.min(...wrong)); return; }
      if (general.length) return;
      if (step === 3) document.getElementById('review').innerHTML = answer.review;  // drawn by the server's autoescaping template
      show(step + 1);
    } catch (err) {
      summary(0, [`The form could not be checked (${err.message}); try again.`]);
    } finally { next.disabled = false; }
  });
  back.addEventListener('click', () => show(step - 1));
  form.addEventListener('input', save);
  form.addEventListener('change', save);
  pick.addEventListener('change', showKind);
  template.addEventListener('change', showArms);

  const navigation = (performance.getEntriesByType('navigation')[0] || {}).type;
  const refused = document.getElementById('error');
  if (refused) {  // the server refused the whole form: its values stand, go to the first step with a mistake
    const wrong = [...form.querySelectorAll('[aria-invalid=true]')].map(el => Number(el.closest('fieldset[data-step]').dataset.step));
    step = wrong.length ? Math.min(...wrong) : 3;
  } else if (navigation === 'reload' || navigation === 'back_forward') restore();
  else sessionStorage.removeItem(key);
  document.getElementById('steps').hidden = false;
  showKind(); showArms(); show(step, false);
  if (resume) next.click();
})();
