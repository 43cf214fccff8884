/* leuko web page: the form for one blood count, the stored-patient view with its trend chart,
 * and one renderer for the assessment JSON. Plain ES2020, no library, no build step, works
 * offline. Every text from the server is inserted as text (never as HTML). */
'use strict';

(() => {
  // ------------------------------------------------------------------ small helpers

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const SVG_NS = 'http://www.w3.org/2000/svg';

  function put(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false || c === '') continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return el;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.setAttribute('class', v);
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    return el;
  }

  /** An HTML element: h('p', {class: 'x'}, 'text', child, ...). */
  function h(tag, attrs, ...children) {
    return put(setAttrs(document.createElement(tag), attrs), children);
  }

  /** An SVG element. */
  function s(tag, attrs, ...children) {
    return put(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function fmtNum(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return String(v ?? '');
    return String(Number(v.toPrecision(4)));
  }

  function parseTime(text) {
    if (!text) return NaN;
    const t = Date.parse(text);
    return Number.isFinite(t) ? t : NaN;
  }

  const dateFmt = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
  const dateTimeFmt = new Intl.DateTimeFormat('en-GB', {
    day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
  const dayMonthFmt = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short' });
  const monthFmt = new Intl.DateTimeFormat('en-GB', { month: 'short' });

  function fmtDate(text) {
    const t = typeof text === 'number' ? text : parseTime(text);
    return Number.isFinite(t) ? dateFmt.format(new Date(t)) : String(text ?? '');
  }

  function fmtDateTime(text) {
    const t = typeof text === 'number' ? text : parseTime(text);
    if (!Number.isFinite(t)) return String(text ?? '');
    const d = new Date(t);
    // A date given without a time arrives as midnight UTC: show it as a date.
    if (typeof text === 'string' && /T00:00:00(\.0+)?Z$/.test(text)) return dateFmt.format(d);
    return dateTimeFmt.format(d);
  }

  /** A Date as the value of an <input type="datetime-local">, in local time. */
  function localInputValue(d) {
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  /** The value of a datetime-local input as RFC 3339 (UTC), or null. */
  function localToRfc3339(value) {
    if (!value) return null;
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) return null;
    return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  function todayIso() {
    const d = new Date();
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  }

  function announce(text) {
    const live = $('#live');
    live.textContent = '';
    // A fresh text node in a later task is announced even when the words repeat.
    window.setTimeout(() => { live.textContent = text; }, 60);
  }

  const storage = {
    get(key) { try { return window.sessionStorage.getItem(key); } catch (_) { return null; } },
    set(key, value) { try { window.sessionStorage.setItem(key, value); } catch (_) { /* private mode */ } },
    remove(key) { try { window.sessionStorage.removeItem(key); } catch (_) { /* private mode */ } },
  };

  // ------------------------------------------------------------------ vocabulary

  // [value sent to the engine, label shown]
  const COUNT_UNITS = [
    ['10^9/L', '×10⁹/L'],
    ['G/L', 'G/L'],
    ['10^3/µL', '×10³/µL'],
    ['K/µL', 'K/µL'],
    ['/µL', '/µL'],
    ['cells/mm³', 'cells/mm³'],
  ];

  const SYMPTOMS = [
    ['fever', 'Fever', 'fever'],
    ['chills', 'Chills or shivering', 'chills'],
    ['sore-throat', 'Sore throat', 'sore throat'],
    ['mouth-ulcers', 'Mouth ulcers', 'mouth ulcers'],
    ['fatigue', 'Tiredness (fatigue)', 'fatigue'],
    ['night-sweats', 'Night sweats', 'night sweats'],
    ['weight-loss', 'Weight loss without trying', 'weight loss'],
    ['joint-pain', 'Joint pain', 'joint pain'],
    ['rash', 'Rash', 'rash'],
    ['splenomegaly', 'Enlarged spleen', 'splenomegaly'],
    ['lymphadenopathy', 'Enlarged lymph nodes (swollen glands)', 'lymphadenopathy'],
    ['petechiae', 'Bruising or tiny red spots (petechiae)', 'petechiae'],
    ['recurrent-infections', 'Recurrent infections', 'recurrent infections'],
    ['paresthesia', 'Tingling or numbness', 'paresthesia'],
  ];

  const LEVELS = {
    emergency: { label: 'Emergency', meaning: 'Go to emergency care now.', icon: 'stop' },
    urgent: { label: 'Urgent', meaning: 'See a clinician today (within 24 hours).', icon: 'warn' },
    soon: { label: 'Soon', meaning: 'See a clinician within days to two weeks.', icon: 'clock' },
    routine: { label: 'Routine', meaning: 'Recheck at the usual pace.', icon: 'check' },
    none: { label: 'Nothing low', meaning: 'Nothing is low for this person.', icon: 'ok' },
  };

  const ANALYTES = {
    wbc: 'White blood cells (WBC)',
    anc: 'Neutrophils, absolute (ANC)',
    alc: 'Lymphocytes, absolute',
    amc: 'Monocytes, absolute',
    aec: 'Eosinophils, absolute',
    abc: 'Basophils, absolute',
    'bands-abs': 'Band neutrophils, absolute',
    'blast-abs': 'Blasts, absolute',
    'neut-pct': 'Neutrophils, percent',
    'band-pct': 'Bands, percent',
    'lymph-pct': 'Lymphocytes, percent',
    'mono-pct': 'Monocytes, percent',
    'eos-pct': 'Eosinophils, percent',
    'baso-pct': 'Basophils, percent',
    'blast-pct': 'Blasts, percent',
    'variant-lymph-pct': 'Atypical lymphocytes, percent',
    plt: 'Platelets',
    hgb: 'Haemoglobin',
    mcv: 'Mean cell volume (MCV)',
    b12: 'Vitamin B12',
    folate: 'Folate',
    crp: 'C-reactive protein (CRP)',
    copper: 'Copper',
    temperature: 'Temperature',
  };

  const GRADE_KEYS = {
    wbc: 'White blood cells',
    anc: 'Neutrophils (ANC)',
    lymphocytes: 'Lymphocytes',
    platelets: 'Platelets',
    anemia: 'Anaemia (haemoglobin)',
  };

  const GRADE_WORDS = ['not low', 'mild', 'moderate', 'severe', 'life-threatening'];

  const PRIORITY = {
    immediate: 'Now',
    confirm: 'Confirm',
    'first-line': 'First-line',
    specialist: 'Specialist',
  };

  const CONFIDENCE = {
    secondary: 'secondary source',
    unconfirmed: 'not confirmed',
    expert: 'expert judgement',
  };

  function unitLabel(u) {
    switch (u) {
      case '10*9/L': return '×10⁹/L';
      case '10*3/uL': return '×10³/µL';
      case '/uL': return '/µL';
      case 'Cel': return '°C';
      case '[degF]': return '°F';
      default: return u || '';
    }
  }

  function gradeUnit(key) {
    return key === 'anemia' ? 'g/dL' : '×10⁹/L';
  }

  // ------------------------------------------------------------------ icons

  function icon(kind, cls = 'icon') {
    const svg = s('svg', { class: cls, viewBox: '0 0 24 24', width: 24, height: 24, 'aria-hidden': 'true', focusable: 'false' });
    const stroke = { fill: 'none', stroke: 'currentColor', 'stroke-width': 2.4, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' };
    switch (kind) {
      case 'stop':
        put(svg, [
          s('polygon', { points: '8,2 16,2 22,8 22,16 16,22 8,22 2,16 2,8', ...stroke }),
          s('line', { x1: 12, y1: 7, x2: 12, y2: 13, ...stroke }),
          s('circle', { cx: 12, cy: 17, r: 1.4, fill: 'currentColor' }),
        ]);
        break;
      case 'warn':
        put(svg, [
          s('path', { d: 'M12 3 L22 20 H2 Z', ...stroke }),
          s('line', { x1: 12, y1: 9, x2: 12, y2: 14, ...stroke }),
          s('circle', { cx: 12, cy: 17, r: 1.3, fill: 'currentColor' }),
        ]);
        break;
      case 'clock':
        put(svg, [
          s('circle', { cx: 12, cy: 12, r: 9.5, ...stroke }),
          s('path', { d: 'M12 7 V12 L15.5 14', ...stroke }),
        ]);
        break;
      case 'check':
        put(svg, [
          s('circle', { cx: 12, cy: 12, r: 9.5, ...stroke }),
          s('path', { d: 'M7.5 12.5 L10.5 15.5 L16.5 9', ...stroke }),
        ]);
        break;
      case 'ok':
        put(svg, [s('circle', { cx: 12, cy: 12, r: 9.5, ...stroke }), s('line', { x1: 8, y1: 12, x2: 16, y2: 12, ...stroke })]);
        break;
      case 'down':
        put(svg, [s('path', { d: 'M12 5 V19 M6 13 L12 19 L18 13', ...stroke })]);
        break;
      default:
        break;
    }
    return svg;
  }

  function levelBadge(level) {
    const L = LEVELS[level] || { label: level, icon: 'ok' };
    return h('span', { class: `level-badge level-${level}` }, icon(L.icon, 'icon icon-sm'), h('span', null, L.label));
  }

  // ------------------------------------------------------------------ tabs

  function initTabs() {
    const tabs = $$('[role="tab"]');
    function select(tab, focus) {
      for (const t of tabs) {
        const on = t === tab;
        t.setAttribute('aria-selected', on ? 'true' : 'false');
        t.tabIndex = on ? 0 : -1;
        document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
      }
      if (focus) tab.focus();
      showResultFor(tab.id === 'tab-patient' ? 'patient' : 'form');
      if (tab.id === 'tab-patient' && state.timeline) drawTrend();
    }
    tabs.forEach((tab, i) => {
      tab.addEventListener('click', () => select(tab, false));
      tab.addEventListener('keydown', (e) => {
        let j = null;
        if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
        else if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
        else if (e.key === 'Home') j = 0;
        else if (e.key === 'End') j = tabs.length - 1;
        if (j !== null) {
          e.preventDefault();
          select(tabs[j], true);
        }
      });
    });
  }

  // ------------------------------------------------------------------ state

  const state = {
    results: { form: null, patient: null }, // last assessment per view
    busy: { form: false, patient: false, load: false },
    fieldMap: {}, // record path -> form element id, for the last record sent
    timeline: null,
    timelineId: null,
    apiKey: '',
    rowSeq: { cond: 0, med: 0, earlier: 0 },
  };

  // ------------------------------------------------------------------ the form: setup

  function fillUnitSelects() {
    for (const sel of $$('select.unit-count')) {
      for (const [value, label] of COUNT_UNITS) sel.append(h('option', { value }, label));
      sel.value = '10^9/L';
    }
  }

  function buildSymptoms() {
    const box = $('#symptoms');
    for (const [id, label, name] of SYMPTOMS) {
      box.append(h('div', { class: 'check' },
        h('input', { type: 'checkbox', id: `symptom-${id}`, name: 'symptom', value: name }),
        h('label', { for: `symptom-${id}` }, label)));
    }
  }

  function removeButton(label, row, container, addButton) {
    return h('button', {
      type: 'button',
      class: 'remove',
      'aria-label': label,
      onclick: () => {
        const rows = $$('.row', container);
        const i = rows.indexOf(row);
        row.remove();
        const left = $$('.row', container);
        const next = left[i] || left[i - 1];
        const target = next ? next.querySelector('input') : addButton;
        (target || addButton).focus();
        renumber(container);
      },
    }, 'Remove');
  }

  /** Keeps the visible row numbers (in the remove buttons' names) in order. */
  function renumber(container) {
    $$('.row', container).forEach((row, i) => {
      const btn = row.querySelector('button.remove');
      if (btn) btn.setAttribute('aria-label', `Remove ${row.dataset.noun.toLowerCase()} ${i + 1}`);
      const n = row.querySelector('.row-number');
      if (n) n.textContent = `${row.dataset.noun} ${i + 1}`;
    });
  }

  function field(id, labelText, input, extraClass) {
    return h('div', { class: `field${extraClass ? ` ${extraClass}` : ''}` }, h('label', { for: id }, labelText), input);
  }

  function addConditionRow(focus) {
    const container = $('#cond-rows');
    const n = state.rowSeq.cond++;
    const id = `cond-${n}`;
    const row = h('div', { class: 'row row-cond', 'data-noun': 'Condition', 'data-index': n });
    put(row, [
      field(id, 'Condition', h('input', { type: 'text', id, autocomplete: 'off', 'aria-describedby': 'cond-hint' })),
      removeButton('Condition: remove', row, container, $('#add-condition')),
    ]);
    container.append(row);
    renumber(container);
    if (focus) $(`#${id}`).focus();
  }

  function addMedicineRow(focus) {
    const container = $('#med-rows');
    const n = state.rowSeq.med++;
    const row = h('div', { class: 'row row-med', 'data-noun': 'Medicine', 'data-index': n });
    put(row, [
      field(`med-name-${n}`, 'Medicine name', h('input', { type: 'text', id: `med-name-${n}`, autocomplete: 'off', 'aria-describedby': 'med-hint' })),
      field(`med-start-${n}`, 'Started', h('input', { type: 'date', id: `med-start-${n}` })),
      field(`med-end-${n}`, 'Stopped', h('input', { type: 'date', id: `med-end-${n}` })),
      removeButton('Medicine: remove', row, container, $('#add-medicine')),
    ]);
    container.append(row);
    renumber(container);
    if (focus) $(`#med-name-${n}`).focus();
  }

  function addEarlierRow(focus) {
    const container = $('#earlier-rows');
    const n = state.rowSeq.earlier++;
    const row = h('div', { class: 'row row-earlier', 'data-noun': 'Earlier count', 'data-index': n });
    put(row, [
      field(`earlier-at-${n}`, 'Date', h('input', { type: 'date', id: `earlier-at-${n}` })),
      field(`earlier-wbc-${n}`, 'WBC', h('input', { type: 'text', id: `earlier-wbc-${n}`, inputmode: 'decimal', autocomplete: 'off' })),
      field(`earlier-anc-${n}`, 'ANC', h('input', { type: 'text', id: `earlier-anc-${n}`, inputmode: 'decimal', autocomplete: 'off' })),
      removeButton('Earlier count: remove', row, container, $('#add-earlier')),
    ]);
    container.append(row);
    renumber(container);
    if (focus) $(`#earlier-at-${n}`).focus();
  }

  function initForm() {
    fillUnitSelects();
    buildSymptoms();
    addConditionRow(false);
    addMedicineRow(false);
    addEarlierRow(false);
    const now = localInputValue(new Date());
    $('#sample-at').value = now;
    $('#temp-at').value = now;
    $('#birth-date').max = todayIso();
    $('#add-condition').addEventListener('click', () => addConditionRow(true));
    $('#add-medicine').addEventListener('click', () => addMedicineRow(true));
    $('#add-earlier').addEventListener('click', () => addEarlierRow(true));
    // The earlier counts follow the white-count unit until the person picks their own.
    const earlier = $('#earlier-unit');
    earlier.dataset.follow = 'yes';
    earlier.addEventListener('change', () => { earlier.dataset.follow = 'no'; });
    $('#wbc-unit').addEventListener('change', () => {
      if (earlier.dataset.follow === 'yes') earlier.value = $('#wbc-unit').value;
    });
    $('#assess-form').addEventListener('submit', (e) => {
      e.preventDefault();
      submitForm();
    });
  }

  // ------------------------------------------------------------------ the form: errors

  function describedBy(el, id, add) {
    const ids = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean).filter((x) => x !== id);
    if (add) ids.push(id);
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
    else el.removeAttribute('aria-describedby');
  }

  function fieldMessage(id, message, kind) {
    const el = document.getElementById(id);
    if (!el) return false;
    const box = el.closest('.field, .check') || el.parentElement;
    const msgId = `${id}-${kind}`;
    let msg = document.getElementById(msgId);
    if (!msg) {
      msg = h('p', { id: msgId, class: kind === 'error' ? 'field-error' : 'field-note' });
      box.append(msg);
    }
    clear(msg);
    put(msg, [h('span', { class: 'visually-hidden' }, kind === 'error' ? 'Error: ' : 'Note: '),
      h('span', { 'aria-hidden': 'true', class: 'msg-mark' }, kind === 'error' ? '✖ ' : 'ℹ '), message]);
    describedBy(el, msgId, true);
    if (kind === 'error') {
      el.setAttribute('aria-invalid', 'true');
      box.classList.add('has-error');
      const det = el.closest('details');
      if (det) det.open = true;
    }
    return true;
  }

  function clearMessages(root) {
    for (const m of $$('.field-error, .field-note', root)) {
      const base = m.id.replace(/-(error|note)$/, '');
      const el = document.getElementById(base);
      if (el) {
        describedBy(el, m.id, false);
        el.removeAttribute('aria-invalid');
      }
      m.remove();
    }
    for (const b of $$('.has-error', root)) b.classList.remove('has-error');
  }

  function labelOf(id) {
    const lab = document.querySelector(`label[for="${CSS.escape(id)}"]`);
    if (!lab) return id;
    const row = lab.closest('.row');
    const copy = lab.cloneNode(true);
    for (const x of copy.querySelectorAll('.optional')) x.remove();
    const own = copy.textContent.replace(/\s+/g, ' ').trim();
    if (row) {
      const rows = $$('.row', row.parentElement);
      return `${row.dataset.noun} ${rows.indexOf(row) + 1}, ${own.toLowerCase()}`;
    }
    return own;
  }

  /** The top summary: a message, and links to the fields in error. */
  function showSummary(box, title, items) {
    clear(box);
    // In the order of the page, not the order found.
    const pos = (it) => (it.id && document.getElementById(it.id)) || null;
    items = items.slice().sort((x, y) => {
      const a = pos(x);
      const b = pos(y);
      if (!a || !b || a === b) return 0;
      return a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
    });
    box.append(h('p', { class: 'error-title' }, icon('warn', 'icon icon-sm'), h('span', null, title)));
    if (items.length) {
      const ul = h('ul');
      for (const it of items) {
        if (it.id && document.getElementById(it.id)) {
          ul.append(h('li', null, h('a', {
            href: `#${it.id}`,
            onclick: (e) => {
              e.preventDefault();
              const el = document.getElementById(it.id);
              el.focus();
              el.scrollIntoView({ block: 'center' });
            },
          }, `${labelOf(it.id)}: ${it.message}`)));
        } else {
          ul.append(h('li', null, it.message));
        }
      }
      box.append(ul);
    }
    box.hidden = false;
    box.focus();
    box.scrollIntoView({ block: 'start' });
  }

  function hideSummary(box) {
    box.hidden = true;
    clear(box);
  }

  /** The form element for a field named by the server ("results[2].unit", "/results/2/unit"). */
  function idForField(fieldName, map) {
    if (!fieldName) return null;
    let f = String(fieldName).trim();
    if (f.startsWith('/')) {
      f = f.slice(1).split('/').map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : (i ? `.${p}` : p))).join('');
    }
    f = f.replace(/^\$\.?/, '').replace(/^record\./, '');
    while (f) {
      if (map[f]) return map[f];
      const cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
      if (cut <= 0) break;
      f = f.slice(0, cut);
    }
    return null;
  }

  // ------------------------------------------------------------------ the form: the record

  /** Reads a numeric field: a number, or text the engine parses (with the unit appended). */
  function readQuantity(raw, unit) {
    let t = raw.trim();
    if (!t) return null;
    t = t.replace(/(\d)[ \u00a0\u2009\u202f]+(?=\d{3}\b)/g, '$1');
    if (/^\+?\d+(\.\d+)?$/.test(t)) return { value: Number(t), unit };
    if (/^[<>≤≥]?=?\s*[\d.,']+$/.test(t)) return { value: `${t} ${unit}`, unit };
    return { value: t, unit };
  }

  function readPercent(raw) {
    let t = raw.trim().replace(/\s*%$/, '');
    if (!t) return null;
    if (/^\d+,\d+$/.test(t)) t = t.replace(',', '.');
    if (/^\+?\d+(\.\d+)?$/.test(t)) return { value: Number(t), unit: '%' };
    return { value: t, unit: '%' };
  }

  function val(id) {
    const el = document.getElementById(id);
    return el ? el.value.trim() : '';
  }

  function buildRecord() {
    const errors = [];
    const map = {
      asof: 'asof',
      profile: 'profile',
      patient: 'age',
      'patient.age_years': 'age',
      'patient.birth_date': 'birth-date',
      'patient.sex': 'sex',
    };
    const rec = { patient: {}, results: [], conditions: [], medications: [] };

    const asofRaw = val('asof');
    let asof = null;
    if (asofRaw) {
      asof = localToRfc3339(asofRaw);
      if (!asof) errors.push({ id: 'asof', message: 'Enter a date and time, or leave it empty for now.' });
    }
    const limit = asof ? Date.parse(asof) : Date.now();

    // The person.
    const ageRaw = val('age').replace(',', '.');
    const birth = val('birth-date');
    if (birth) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(birth)) errors.push({ id: 'birth-date', message: 'Enter a date as year, month and day.' });
      else if (Date.parse(birth) > limit) errors.push({ id: 'birth-date', message: 'The date of birth is in the future.' });
      else rec.patient.birth_date = birth;
    } else if (ageRaw) {
      const y = Number(ageRaw);
      if (!Number.isFinite(y) || y < 0 || y > 130) errors.push({ id: 'age', message: 'Enter the age in years, a number from 0 to 130 (for example 34, or 0.5 for six months).' });
      else rec.patient.age_years = y;
    }
    if (val('sex')) rec.patient.sex = val('sex');

    // The sample.
    const sampleRaw = val('sample-at');
    const at = localToRfc3339(sampleRaw);
    if (!at) errors.push({ id: 'sample-at', message: 'Enter the date and time the blood was taken.' });
    else if (Date.parse(at) > limit + 60000) {
      errors.push({ id: 'sample-at', message: asof ? 'The sample is later than the “assess as of” time, so it would be ignored.' : 'The sample time is in the future.' });
    }
    const sampleAt = at || new Date(limit).toISOString();

    const addResult = (analyte, inputId, unitId, q, when, whenId) => {
      const i = rec.results.length;
      rec.results.push({ analyte, value: q.value, unit: q.unit, at: when });
      map[`results[${i}]`] = inputId;
      map[`results[${i}].value`] = inputId;
      map[`results[${i}].analyte`] = inputId;
      map[`results[${i}].unit`] = unitId || inputId;
      map[`results[${i}].at`] = whenId;
    };

    const counts = [
      ['wbc', 'wbc', 'wbc-unit'],
      ['anc', 'anc', 'anc-unit'],
      ['alc', 'alc', 'alc-unit'],
      ['plt', 'plt', 'plt-unit'],
      ['hgb', 'hgb', 'hgb-unit'],
    ];
    for (const [analyte, id, unitId] of counts) {
      const q = readQuantity(val(id), val(unitId));
      if (q) addResult(analyte, id, unitId, q, sampleAt, 'sample-at');
    }
    const mcv = readQuantity(val('mcv'), 'fL');
    if (mcv) addResult('mcv', 'mcv', null, mcv, sampleAt, 'sample-at');
    for (const id of ['neut-pct', 'band-pct', 'lymph-pct', 'mono-pct', 'blast-pct']) {
      const q = readPercent(val(id));
      if (!q) continue;
      if (typeof q.value === 'number' && q.value > 100) {
        errors.push({ id, message: 'A percentage of white cells is at most 100.' });
        continue;
      }
      addResult(id, id, null, q, sampleAt, 'sample-at');
    }
    if (!val('wbc') && !val('anc')) {
      errors.push({ id: 'wbc', message: 'Enter the white cell count (WBC), or the neutrophil count (ANC) below.' });
    }

    // Temperature.
    const temp = readQuantity(val('temp').replace(/^(\d+),(\d)$/, '$1.$2'), val('temp-unit'));
    if (temp) {
      let tAt = sampleAt;
      if (val('temp-at')) {
        tAt = localToRfc3339(val('temp-at'));
        if (!tAt) errors.push({ id: 'temp-at', message: 'Enter when the temperature was measured.' });
        else if (Date.parse(tAt) > limit + 60000) errors.push({ id: 'temp-at', message: 'This time is in the future.' });
      }
      if (tAt) addResult('temperature', 'temp', 'temp-unit', temp, tAt, 'temp-at');
    }

    // Earlier counts.
    for (const row of $$('#earlier-rows .row')) {
      const n = row.dataset.index;
      const d = val(`earlier-at-${n}`);
      const w = val(`earlier-wbc-${n}`);
      const a = val(`earlier-anc-${n}`);
      if (!d && !w && !a) continue;
      if (!d) {
        errors.push({ id: `earlier-at-${n}`, message: 'Enter the date of this earlier count, or remove the row.' });
        continue;
      }
      if (!w && !a) {
        errors.push({ id: `earlier-wbc-${n}`, message: 'Enter the WBC or the ANC of this earlier count, or remove the row.' });
        continue;
      }
      if (Date.parse(d) > limit) {
        errors.push({ id: `earlier-at-${n}`, message: 'This date is in the future.' });
        continue;
      }
      const unit = val('earlier-unit');
      const qw = readQuantity(w, unit);
      const qa = readQuantity(a, unit);
      if (qw) addResult('wbc', `earlier-wbc-${n}`, 'earlier-unit', qw, d, `earlier-at-${n}`);
      if (qa) addResult('anc', `earlier-anc-${n}`, 'earlier-unit', qa, d, `earlier-at-${n}`);
    }

    // Symptoms, then free-text conditions.
    const addCondition = (name, id) => {
      const i = rec.conditions.length;
      rec.conditions.push({ name, status: 'active' });
      map[`conditions[${i}]`] = id;
      map[`conditions[${i}].name`] = id;
      map[`conditions[${i}].status`] = id;
    };
    for (const [id, , name] of SYMPTOMS) {
      if ($(`#symptom-${id}`).checked) addCondition(name, `symptom-${id}`);
    }
    for (const row of $$('#cond-rows .row')) {
      const id = `cond-${row.dataset.index}`;
      const name = val(id);
      if (name) addCondition(name, id);
    }

    // Medicines.
    for (const row of $$('#med-rows .row')) {
      const n = row.dataset.index;
      const name = val(`med-name-${n}`);
      const start = val(`med-start-${n}`);
      const end = val(`med-end-${n}`);
      if (!name && !start && !end) continue;
      if (!name) {
        errors.push({ id: `med-name-${n}`, message: 'Enter the medicine’s name, or remove the row.' });
        continue;
      }
      if (start && end && end < start) {
        errors.push({ id: `med-end-${n}`, message: 'The stop date is before the start date.' });
        continue;
      }
      if (start && Date.parse(start) > limit) {
        errors.push({ id: `med-start-${n}`, message: 'The start date is in the future.' });
        continue;
      }
      const i = rec.medications.length;
      const m = { name };
      if (start) m.start = start;
      if (end) m.end = end;
      rec.medications.push(m);
      map[`medications[${i}]`] = `med-name-${n}`;
      map[`medications[${i}].name`] = `med-name-${n}`;
      map[`medications[${i}].rxnorm`] = `med-name-${n}`;
      map[`medications[${i}].start`] = `med-start-${n}`;
      map[`medications[${i}].end`] = `med-end-${n}`;
    }

    if (!Object.keys(rec.patient).length) delete rec.patient;
    for (const k of ['conditions', 'medications']) if (!rec[k].length) delete rec[k];

    const params = new URLSearchParams();
    if (asof) params.set('asof', asof);
    if (val('profile') && val('profile') !== 'international') params.set('profile', val('profile'));
    return { rec, map, errors, query: params.toString() };
  }

  // ------------------------------------------------------------------ HTTP

  class ApiFailure extends Error {
    constructor(message, status, code, fieldName) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = fieldName;
    }
  }

  async function request(method, url, body, headers) {
    let resp;
    try {
      resp = await fetch(url, {
        method,
        headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}), ...(headers || {}) },
        body: body ? JSON.stringify(body) : undefined,
        cache: 'no-store',
        credentials: 'same-origin',
      });
    } catch (_) {
      throw new ApiFailure('The leuko server could not be reached. Check the connection and try again; what you entered is kept.', 0, 'network', null);
    }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      const fallback = {
        400: 'The server could not read the request.',
        401: 'An API key is needed, or the key was not accepted.',
        403: 'This API key is not allowed to do this.',
        404: 'Not found.',
        408: 'The server took too long to answer. Try again.',
        413: 'The request is too large.',
        422: 'The server could not use what was sent.',
      }[resp.status] || `The server answered with an error (${resp.status}). Try again later.`;
      throw new ApiFailure(err.message || fallback, resp.status, err.code || String(resp.status), err.field || null);
    }
    if (!data || typeof data !== 'object') throw new ApiFailure('The server’s answer could not be read.', resp.status, 'format', null);
    return data;
  }

  function looksLikeAssessment(a) {
    return a && typeof a === 'object' && a.triage && typeof a.triage.level === 'string';
  }

  // ------------------------------------------------------------------ the form: submit

  async function submitForm() {
    if (state.busy.form) return;
    const form = $('#assess-form');
    const summary = $('#form-error');
    clearMessages(form);
    hideSummary(summary);
    const { rec, map, errors, query } = buildRecord();
    if (errors.length) {
      for (const e of errors) fieldMessage(e.id, e.message, 'error');
      showSummary(summary, errors.length === 1 ? 'Please check one entry' : `Please check ${errors.length} entries`, errors);
      announce('The form has errors. Nothing was sent.');
      return;
    }
    state.fieldMap = map;
    const button = $('#assess-button');
    state.busy.form = true;
    button.setAttribute('aria-busy', 'true');
    button.textContent = 'Assessing…';
    form.setAttribute('aria-busy', 'true');
    try {
      const a = await request('POST', `/v1/assess${query ? `?${query}` : ''}`, rec);
      if (!looksLikeAssessment(a)) throw new ApiFailure('The server’s answer is not an assessment.', 200, 'format', null);
      for (const n of a.input_notes || []) {
        const id = idForField(n.field, map);
        if (id && !/^patient\./.test(n.field)) fieldMessage(id, n.message, 'note');
      }
      state.results.form = { a, context: 'For the blood count entered in the form.' };
      showResultFor('form');
      if (currentView() === 'form') {
        announceResult(a);
        // Move keyboard focus to the result, so that the next Tab continues from there.
        $('#result-heading').focus({ preventScroll: true });
        $('#triage-banner').scrollIntoView({ block: 'start', behavior: 'smooth' });
      }
    } catch (err) {
      const id = err.field ? idForField(err.field, map) : null;
      if (id && fieldMessage(id, err.message, 'error')) {
        showSummary(summary, 'The server could not use one entry', [{ id, message: err.message }]);
      } else {
        showSummary(summary, 'The assessment could not be made', [{ message: err.message }]);
      }
      announce(`Error: ${err.message}`);
    } finally {
      state.busy.form = false;
      button.removeAttribute('aria-busy');
      button.textContent = 'Assess';
      form.removeAttribute('aria-busy');
    }
  }

  function announceResult(a) {
    const L = LEVELS[a.triage.level] || { label: a.triage.level, meaning: '' };
    const head = a.triage.rules && a.triage.rules[0] ? a.triage.rules[0].plain : L.meaning;
    announce(`Result: ${L.label}. ${head}`);
  }

  // ------------------------------------------------------------------ the result

  function currentView() {
    return $('#tab-patient').getAttribute('aria-selected') === 'true' ? 'patient' : 'form';
  }

  function showResultFor(view) {
    if (view !== currentView()) return;
    const section = $('#result');
    const r = state.results[view];
    if (!r) {
      section.hidden = true;
      clear($('#result-body'));
      return;
    }
    renderAssessment(r.a, r.context);
    section.hidden = false;
  }

  /** Numbered citations in order of first use, like the text rendering. */
  function makeCiter(known) {
    const order = [];
    // `onlyKnown`: cite only the sources the answer describes (it describes those of the
    // first five causes; later causes may name others).
    const cite = (ids, onlyKnown) => {
      if (!ids || !ids.length) return null;
      const nums = [];
      for (const id of ids) {
        if (onlyKnown && !known[id]) continue;
        let n = order.indexOf(id);
        if (n < 0) {
          order.push(id);
          n = order.length - 1;
        }
        if (!nums.includes(n + 1)) nums.push(n + 1);
      }
      if (!nums.length) return null;
      const sup = h('sup', { class: 'cite' }, '[');
      nums.forEach((n, i) => {
        if (i) sup.append(',');
        sup.append(h('a', { href: `#src-${n}`, 'aria-label': `source ${n}` }, String(n)));
      });
      sup.append(']');
      return [' ', sup];
    };
    return { cite, order };
  }

  function section(id, title, ...children) {
    return h('section', { class: 'block', 'aria-labelledby': `${id}-h` }, h('h3', { id: `${id}-h` }, title), children);
  }

  function renderAssessment(a, context) {
    const body = clear($('#result-body'));
    const { cite, order } = makeCiter(a.sources || {});
    const later = [];
    const level = a.triage.level;
    const L = LEVELS[level] || { label: level, meaning: '', icon: 'ok' };
    const rules = a.triage.rules || [];
    const headline = rules[0] ? rules[0].plain : L.meaning;

    $('#result-context').textContent = [
      context,
      a.as_of ? `Assessed as of ${fmtDateTime(a.as_of)}.` : '',
      a.profile ? `Thresholds: ${a.profile}.` : '',
      a.knowledge ? `Knowledge ${a.knowledge.version}.` : '',
    ].filter(Boolean).join(' ');
    $('#print-date').textContent = `Printed ${dateTimeFmt.format(new Date())}.`;

    // Banner.
    const atLevel = rules.filter((r) => r.level === level);
    const others = rules.filter((r) => r.level !== level);
    const banner = h('div', { id: 'triage-banner', class: `banner banner-${level}`, 'data-level': level },
      h('div', { class: 'banner-top' },
        icon(L.icon, 'icon icon-lg'),
        h('p', { class: 'banner-level' }, h('span', { class: 'banner-level-word' }, L.label), h('span', { class: 'banner-meaning' }, L.meaning))),
      h('p', { class: 'banner-headline' }, headline));
    if (atLevel.length) {
      const ul = h('ul', { class: 'reasons' });
      for (const r of atLevel) ul.append(h('li', null, r.text, r.detail ? h('span', { class: 'detail' }, ` [${r.detail}]`) : null, cite(r.sources)));
      banner.append(h('div', { class: 'reasons-box' }, h('p', { class: 'reasons-title' }, 'Why'), ul));
    } else if ((a.triage.reasons || []).length) {
      banner.append(h('ul', { class: 'reasons' }, a.triage.reasons.map((r) => h('li', null, r))));
    }
    body.append(banner);
    if (others.length) {
      const ul = h('ul');
      for (const r of others) {
        ul.append(h('li', null, levelBadge(r.level), ' ', r.text, r.detail ? h('span', { class: 'detail' }, ` [${r.detail}]`) : null, cite(r.sources)));
      }
      body.append(h('details', { class: 'other-rules no-print' }, h('summary', null, `Other findings at a lower level (${others.length})`), ul));
    }

    // Counts and grades.
    body.append(renderCounts(a, cite));

    // Neutropenia, febrile neutropenia, clozapine, patterns, medicines.
    const extra = renderFindings(a, cite);
    if (extra) body.append(extra);

    // Possible causes.
    body.append(renderCauses(a, cite, later));

    // Work-up and actions.
    body.append(renderWorkup(a, cite));
    if ((a.actions || []).length) {
      const ul = h('ul', { class: 'actions' });
      for (const x of a.actions) {
        ul.append(h('li', null,
          h('p', { class: 'plain' }, x.plain || x.text),
          x.plain && x.text && x.plain !== x.text ? h('p', { class: 'clinical' }, h('span', { class: 'tag' }, 'Clinical'), ' ', x.text, cite(x.sources)) : cite(x.sources)));
      }
      body.append(section('actions', 'What to do', ul));
    }

    // Explanation.
    body.append(renderExplanation(a, cite));

    // Missing.
    if ((a.missing || []).length) {
      const ul = h('ul', { class: 'missing' });
      for (const m of a.missing) ul.append(h('li', null, h('strong', null, m.what), ': ', m.would_change));
      body.append(section('missing', 'What is missing, and what it would change', ul));
    }

    // Notes on the input.
    if ((a.input_notes || []).length) {
      const ul = h('ul', { class: 'notes' });
      for (const n of a.input_notes) {
        const id = context.startsWith('For the blood count') ? idForField(n.field, state.fieldMap) : null;
        const where = id ? labelOf(id) : n.field;
        ul.append(h('li', null, h('span', { class: 'note-field' }, where), ': ', n.message));
      }
      body.append(section('notes', 'Notes on what was entered', ul));
    }

    // The less likely causes are built last, so their citations do not push the numbers of
    // everything shown after the first five.
    for (const f of later) f();

    // Sources.
    const ol = h('ol', { class: 'sources' });
    order.forEach((id, i) => {
      const src = (a.sources || {})[id];
      const li = h('li', { id: `src-${i + 1}` });
      if (!src) {
        li.append(h('span', null, id), ' ', h('span', { class: 'conf' }, 'details not included'));
      } else {
        li.append(h('span', { class: 'citation' }, src.citation));
        if (src.confidence && src.confidence !== 'confirmed') {
          li.append(' ', h('span', { class: `conf conf-${src.confidence}` }, CONFIDENCE[src.confidence] || src.confidence));
        }
        // Only web addresses become links (not file paths, not placeholder hosts).
        let host = '';
        try {
          const u = new URL(src.url);
          if ((u.protocol === 'https:' || u.protocol === 'http:') && !/(^|\.)(invalid|example|localhost)(\.[a-z]+)?$/i.test(u.hostname)) {
            host = u.hostname.replace(/^www\./, '');
          }
        } catch (_) { host = ''; }
        if (host) {
          li.append(' ', h('a', { href: src.url, class: 'src-link', rel: 'noopener noreferrer', target: '_blank' },
            h('span', { class: 'src-host' }, host), h('span', { class: 'visually-hidden' }, ' (opens in a new tab)')));
        }
      }
      ol.append(li);
    });
    const srcSection = section('sources', 'Sources', ol);
    srcSection.insertBefore(h('p', { class: 'hint' }, 'Numbers in square brackets point here. Sources marked “secondary source”, “not confirmed” or “expert judgement” are weaker than a confirmed primary source.'), ol);
    body.append(srcSection);

    body.append(h('p', { class: 'disclaimer' }, a.disclaimer || 'Decision support: leuko lists possible causes and what to check next; a clinician decides.',
      a.knowledge ? h('span', { class: 'kb' }, ` (knowledge ${a.knowledge.version}${a.knowledge.digest ? `, ${a.knowledge.digest}` : ''})`) : null));
  }

  function renderCounts(a, cite) {
    const wrap = h('section', { class: 'block', 'aria-labelledby': 'counts-h' }, h('h3', { id: 'counts-h' }, 'The counts'));
    const counts = a.counts || [];
    if (counts.length) {
      const tbody = h('tbody');
      for (const c of counts) {
        let flag;
        if (c.low === 'yes') flag = h('span', { class: 'flag flag-low' }, icon('down', 'icon icon-sm'), 'Low');
        else if (c.low_for_general_population === 'yes') flag = h('span', { class: 'flag flag-pop' }, 'Low only for the general population, not for this person');
        else if (c.low === 'no') flag = h('span', { class: 'flag flag-ok' }, 'Not low');
        else flag = h('span', { class: 'flag flag-unknown' }, 'No limit');
        tbody.append(h('tr', { class: c.low === 'yes' ? 'is-low' : null },
          h('th', { scope: 'row', 'data-label': 'Test' }, ANALYTES[c.analyte] || c.analyte, c.derived ? h('span', { class: 'derived', title: c.source }, ' (computed)') : null),
          h('td', { 'data-label': 'Value', class: 'num' }, `${fmtNum(c.value)} ${unitLabel(c.unit)}`),
          h('td', { 'data-label': 'Lower limit', class: 'num' }, c.lower_limit != null ? `${fmtNum(c.lower_limit)}` : '—',
            c.lower_limit_source ? h('span', { class: 'limit-src' }, ` (${c.lower_limit_source})`) : null),
          h('td', { 'data-label': 'Flag' }, flag),
          h('td', { 'data-label': 'Taken' }, fmtDateTime(c.at))));
      }
      wrap.append(h('div', { class: 'table-wrap' }, h('table', { class: 'stack counts' },
        h('caption', { class: 'visually-hidden' }, 'The counts used, with their lower limits'),
        h('thead', null, h('tr', null, ['Test', 'Value', 'Lower limit', 'Flag', 'Taken'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody)));
    } else {
      wrap.append(h('p', null, 'No counts were read.'));
    }
    if (a.neutropenia && a.neutropenia.severity) {
      const n = a.neutropenia;
      wrap.append(h('p', { class: 'neutropenia' }, h('strong', null, 'Neutropenia: '),
        `${n.severity}${n.profound ? ' (profound)' : ''} — ANC ${fmtNum(n.anc)} ×10⁹/L, below ${fmtNum(n.threshold)}.`));
    }

    // CTCAE v5 grades.
    const g = a.grades || {};
    let detail = g.detail || [];
    if (!detail.length && g.ctcae_v5) {
      detail = Object.entries(g.ctcae_v5).map(([key, grade]) => ({ key, term: GRADE_KEYS[key] || key, grade, value: null, lln: null }));
    }
    const gradeBox = h('div', { class: 'grades', id: 'grades' },
      h('h4', null, `Grades (CTCAE v${g.ctcae_version || '5.0'})`, cite(['ctcae-v5'])));
    if (detail.length) {
      const tbody = h('tbody');
      for (const d of detail) {
        const grade = Number(d.grade);
        tbody.append(h('tr', null,
          h('th', { scope: 'row', 'data-label': 'Count' }, GRADE_KEYS[d.key] || d.key, h('span', { class: 'term' }, d.term ? ` — ${d.term}` : '')),
          h('td', { 'data-label': 'Value', class: 'num' }, d.value != null ? `${fmtNum(d.value)} ${gradeUnit(d.key)}` : '—'),
          h('td', { 'data-label': 'Lower limit', class: 'num' }, d.lln != null ? fmtNum(d.lln) : '—'),
          h('td', { 'data-label': 'Grade' }, h('span', { class: `grade grade-${grade}` }, `Grade ${grade}`), ` ${GRADE_WORDS[grade] || ''}`)));
      }
      gradeBox.append(h('div', { class: 'table-wrap' }, h('table', { class: 'stack grades-table' },
        h('caption', { class: 'visually-hidden' }, 'CTCAE version 5 grades: 0 not low, 1 mild, 2 moderate, 3 severe, 4 life-threatening'),
        h('thead', null, h('tr', null, ['Count', 'Value', 'Lower limit', 'Grade'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody)));
    } else {
      gradeBox.append(h('p', null, 'No count could be graded.'));
    }
    wrap.append(gradeBox);
    return wrap;
  }

  function renderFindings(a, cite) {
    const parts = [];
    const febrile = a.febrile_neutropenia || [];
    if (febrile.length) {
      const ul = h('ul', { class: 'febrile' });
      for (const f of febrile) {
        const word = f.met === 'yes' ? 'Met' : f.met === 'no' ? 'Not met' : 'Cannot tell';
        ul.append(h('li', null, h('strong', null, f.name), ': ', h('span', { class: `met met-${f.met}` }, word), ` — ${f.why}`, cite(f.sources)));
      }
      parts.push(h('div', { class: 'sub' }, h('h4', null, 'Febrile neutropenia (fever with a low neutrophil count)'), ul));
    }
    const cz = a.clozapine;
    if (cz) {
      const dl = h('dl', { class: 'facts' });
      const row = (k, v) => { if (v !== null && v !== undefined && v !== '') dl.append(h('dt', null, k), h('dd', null, v)); };
      row('Category', `${cz.category} (${cz.table} table)`);
      row('ANC', cz.anc != null ? `${fmtNum(cz.anc)} ×10⁹/L` : null);
      row('Action', cz.action);
      row('Interrupt clozapine', cz.interrupt ? 'Yes' : 'No');
      row('Confirm', cz.confirm);
      row('Monitoring', cz.monitoring);
      row('Days on treatment', cz.days_on_treatment != null ? String(cz.days_on_treatment) : null);
      row('Routine schedule', cz.routine_schedule);
      row('Check overdue', cz.overdue == null ? null : cz.overdue ? 'Yes — the routine ANC check is overdue' : 'No');
      const box = h('div', { class: `sub clozapine${cz.interrupt ? ' is-interrupt' : ''}` }, h('h4', null, 'Clozapine', cite(['clozapine-pi'].filter((x) => (a.sources || {})[x]))), dl);
      if (cz.note) box.append(h('p', { class: 'hint' }, cz.note));
      parts.push(box);
    }
    if ((a.patterns || []).length) {
      parts.push(h('div', { class: 'sub' }, h('h4', null, 'Patterns'), h('ul', null, a.patterns.map((p) => h('li', null, p.text)))));
    }
    if ((a.medicines || []).length) {
      const ul = h('ul');
      for (const m of a.medicines) {
        ul.append(h('li', null, h('strong', null, m.name), m.timing ? ` — ${m.timing}` : '',
          m.suspect ? [' ', h('span', { class: 'badge badge-suspect' }, 'possible cause')] : null,
          m.active ? null : h('span', { class: 'muted' }, ' (stopped)')));
      }
      parts.push(h('div', { class: 'sub' }, h('h4', null, 'Medicines and timing'), ul));
    }
    if (!parts.length) return null;
    return h('section', { class: 'block', 'aria-labelledby': 'findings-h' }, h('h3', { id: 'findings-h' }, 'Findings'), parts);
  }

  const SHOWN_CAUSES = 5;

  function renderCauses(a, citeAll, later) {
    const causes = a.differential || [];
    const wrap = h('section', { class: 'block', 'aria-labelledby': 'causes-h' },
      h('h3', { id: 'causes-h' }, 'Possible causes, most likely first'),
      h('p', { class: 'hint' }, 'These are possibilities to discuss and check, weighed by the evidence. Only a clinician can tell which one applies.'));
    const names = Object.fromEntries(causes.map((c) => [c.id, c.name]));
    const ol = h('ol', { id: 'causes', class: 'causes' });
    const build = (c, i, li) => {
      const cite = (ids) => citeAll(ids, i >= SHOWN_CAUSES);
      const pct = Math.max(0, Math.min(1, Number(c.weight) || 0)) * 100;
      const pctText = pct > 0 && pct < 1 ? '<1%' : `${Math.round(pct)}%`;
      const head = h('div', { class: 'cause-head' },
        h('span', { class: 'rank', 'aria-hidden': 'true' }, String(i + 1)),
        h('div', { class: 'cause-title' },
          h('h4', null, h('span', { class: 'visually-hidden' }, `${i + 1}. `), c.name),
          h('p', { class: 'codes' }, c.icd10 && c.icd10.length ? [h('span', { class: 'codes-label' }, 'ICD-10-CM '), c.icd10.join(', ')] : null,
            c.cant_miss ? [' ', h('span', { class: 'badge badge-cantmiss' }, icon('warn', 'icon icon-xs'), 'can’t miss')] : null)),
        h('div', { class: 'weight' },
          h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: 'fill', style: `width:${pct.toFixed(1)}%` })),
          h('span', { class: 'pct' }, h('span', { class: 'visually-hidden' }, 'relative weight '), pctText)));
      li.append(head);
      if (c.plain && i < SHOWN_CAUSES) li.append(h('p', { class: 'cause-plain' }, `In plain words: ${c.plain}.`));
      const ev = h('ul', { class: 'evidence' });
      for (const e of c.evidence_for || []) {
        ev.append(h('li', { class: 'ev-for' }, h('span', { class: 'ev-sign', 'aria-hidden': 'true' }, '+'), h('span', { class: 'visually-hidden' }, 'For: '),
          h('span', null, e.why, e.detail ? h('span', { class: 'detail' }, ` (${e.detail})`) : null, cite(e.sources))));
      }
      for (const e of c.evidence_against || []) {
        ev.append(h('li', { class: 'ev-against' }, h('span', { class: 'ev-sign', 'aria-hidden': 'true' }, '−'), h('span', { class: 'visually-hidden' }, 'Against: '),
          h('span', null, e.why, e.detail ? h('span', { class: 'detail' }, ` (${e.detail})`) : null, cite(e.sources))));
      }
      const nFor = (c.evidence_for || []).length;
      const nAgainst = (c.evidence_against || []).length;
      const det = h('details', { class: 'cause-more' }, h('summary', null,
        nFor + nAgainst ? `Evidence: ${nFor} for, ${nAgainst} against` : 'No findings for or against yet: about this cause'));
      if (nFor + nAgainst) det.append(ev);
      if (c.summary) det.append(h('p', { class: 'cause-summary' }, c.summary, cite(c.sources)));
      if (i < 3) det.open = true;
      li.append(det);
    };
    causes.forEach((c, i) => {
      const li = h('li', { class: `cause${c.cant_miss ? ' cant-miss' : ''}`, 'data-id': c.id });
      if (i >= SHOWN_CAUSES) {
        li.classList.add('cause-extra');
        later.push(() => build(c, i, li));
      } else {
        build(c, i, li);
      }
      ol.append(li);
    });
    wrap.append(ol);
    if (!causes.length) wrap.append(h('p', null, 'No possible causes are listed: nothing is low enough to look for one.'));

    if ((a.cant_miss_open || []).length) {
      wrap.append(h('div', { class: 'cant-miss-open' }, h('h4', null, icon('warn', 'icon icon-sm'), 'Not to be missed, still open'),
        h('ul', null, a.cant_miss_open.map((id) => h('li', null, names[id] || id)))));
    }
    if (a.discriminating_test) {
      const d = a.discriminating_test;
      wrap.append(h('p', { class: 'discriminating' }, h('strong', null, 'The test that best tells the two leading causes apart: '),
        `${d.name}. It separates ${d.between.map((x) => names[x] || x).join(' from ')}.`));
    }
    return wrap;
  }

  function renderWorkup(a, cite) {
    const items = a.workup || [];
    const names = Object.fromEntries((a.differential || []).map((c) => [c.id, c.name]));
    const ol = h('ol', { id: 'workup', class: 'workup' });
    for (const w of items) {
      ol.append(h('li', { 'data-id': w.id },
        h('div', { class: 'wu-head' },
          h('span', { class: `prio prio-${w.priority}` }, PRIORITY[w.priority] || w.priority),
          h('strong', { class: 'wu-name' }, w.name),
          w.loinc ? h('span', { class: 'loinc' }, `LOINC ${w.loinc}`) : null),
        w.plain ? h('p', { class: 'plain' }, w.plain) : null,
        h('p', { class: 'clinical' }, w.reason, cite(w.sources)),
        (w.for_causes || []).length ? h('p', { class: 'for-causes' }, 'Helps with: ', w.for_causes.map((x) => names[x] || x).join('; ')) : null));
    }
    const wrap = section('workup', 'What to check next, in order', ol);
    if (!items.length) wrap.append(h('p', null, 'No tests are suggested.'));
    return wrap;
  }

  function renderExplanation(a, cite) {
    const ex = a.explanation || { plain: [], clinical: [] };
    const box = h('section', { id: 'explanation', class: 'block explanation', 'aria-labelledby': 'explanation-h' },
      h('h3', { id: 'explanation-h' }, 'In plain words'));
    const ul = h('ul', { class: 'statements' });
    for (const st of ex.plain || []) ul.append(h('li', null, st.text, cite(st.sources)));
    box.append(ul);
    if ((ex.clinical || []).length) {
      const cl = h('ul', { class: 'statements' });
      for (const st of ex.clinical) cl.append(h('li', null, st.text, cite(st.sources)));
      box.append(h('details', { class: 'clinical-explanation' }, h('summary', null, 'Clinical explanation (for the clinician)'), cl));
    }
    return box;
  }

  // ------------------------------------------------------------------ printing

  function initPrint() {
    $('#print-button').addEventListener('click', () => window.print());
    let opened = [];
    window.addEventListener('beforeprint', () => {
      $('#print-date').textContent = `Printed ${dateTimeFmt.format(new Date())}.`;
      opened = $$('#result .cause:not(.cause-extra) details.cause-more:not([open])');
      for (const d of opened) d.open = true;
    });
    window.addEventListener('afterprint', () => {
      for (const d of opened) d.open = false;
      opened = [];
    });
  }

  // ------------------------------------------------------------------ stored patient

  const KEY_STORE = 'leuko.apiKey';

  function initPatient() {
    const key = $('#api-key');
    const remember = $('#remember-key');
    const saved = storage.get(KEY_STORE);
    if (saved) {
      key.value = saved;
      state.apiKey = saved;
      remember.checked = true;
    }
    const sync = () => {
      state.apiKey = key.value.trim();
      if (remember.checked && state.apiKey) storage.set(KEY_STORE, state.apiKey);
      else storage.remove(KEY_STORE);
    };
    key.addEventListener('input', sync);
    remember.addEventListener('change', sync);
    $('#patient-form').addEventListener('submit', (e) => {
      e.preventDefault();
      loadPatient(true);
    });
    $('#assess-patient').addEventListener('click', () => assessPatient());
    let timer = 0;
    window.addEventListener('resize', () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => { if (state.timeline && !$('#panel-patient').hidden) drawTrend(); }, 150);
    });
  }

  function patientInputs() {
    const form = $('#patient-form');
    const box = $('#patient-error');
    clearMessages(form);
    hideSummary(box);
    const id = val('patient-id');
    const key = val('api-key');
    state.apiKey = key;
    const errors = [];
    if (!id) errors.push({ id: 'patient-id', message: 'Enter the patient id.' });
    else if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) errors.push({ id: 'patient-id', message: 'An id has 1 to 64 letters, digits, “-”, “_” or “.”.' });
    if (!key) errors.push({ id: 'api-key', message: 'Enter the API key.' });
    if (errors.length) {
      for (const e of errors) fieldMessage(e.id, e.message, 'error');
      showSummary(box, 'Please check', errors);
      return null;
    }
    return { id, key };
  }

  function patientFailure(err) {
    const box = $('#patient-error');
    let id = null;
    if (err.status === 401 || err.status === 403 || err.field === 'Authorization') id = 'api-key';
    else if (err.status === 404 || err.field === 'id' || err.field === 'patient_id') id = 'patient-id';
    else if (err.field === 'asof') id = null;
    const message = err.status === 404 && !/patient/i.test(err.message) ? `No stored patient with this id (${err.message}).` : err.message;
    if (id) fieldMessage(id, message, 'error');
    showSummary(box, err.status === 401 || err.status === 403 ? 'The key was not accepted' : 'The request failed', [{ id, message }]);
    announce(`Error: ${message}`);
  }

  async function loadPatient(userAction) {
    if (state.busy.load) return;
    const inp = patientInputs();
    if (!inp) return;
    state.busy.load = true;
    const button = $('#load-patient');
    button.setAttribute('aria-busy', 'true');
    try {
      const tl = await request('GET', `/v1/patients/${encodeURIComponent(inp.id)}/timeline`, null, { Authorization: `Bearer ${inp.key}` });
      state.timeline = tl;
      state.timelineId = inp.id;
      renderTimeline(tl);
      if (userAction) announce(`Timeline loaded: ${(tl.observations || []).length} results, ${(tl.assessments || []).length} stored assessments.`);
    } catch (err) {
      patientFailure(err);
    } finally {
      state.busy.load = false;
      button.removeAttribute('aria-busy');
    }
  }

  async function assessPatient() {
    if (state.busy.patient) return;
    const inp = patientInputs();
    if (!inp) return;
    state.busy.patient = true;
    const button = $('#assess-patient');
    button.setAttribute('aria-busy', 'true');
    button.textContent = 'Assessing…';
    try {
      const a = await request('POST', `/v1/patients/${encodeURIComponent(inp.id)}/assess`, null, { Authorization: `Bearer ${inp.key}` });
      if (!looksLikeAssessment(a)) throw new ApiFailure('The server’s answer is not an assessment.', 200, 'format', null);
      state.results.patient = { a, context: `For stored patient ${inp.id}${a.assessment_id ? ` (assessment ${a.assessment_id})` : ''}.` };
      showResultFor('patient');
      // The new assessment is now stored: refresh the list quietly.
      state.busy.patient = false;
      await loadPatient(false);
      if (currentView() === 'patient') {
        announceResult(a);
        // Move keyboard focus to the result, so that the next Tab continues from there.
        $('#result-heading').focus({ preventScroll: true });
        $('#triage-banner').scrollIntoView({ block: 'start', behavior: 'smooth' });
      }
    } catch (err) {
      patientFailure(err);
    } finally {
      state.busy.patient = false;
      button.removeAttribute('aria-busy');
      button.textContent = 'Assess now';
    }
  }

  function renderTimeline(tl) {
    const view = $('#patient-view');
    view.hidden = false;
    const p = tl.patient || {};
    $('#patient-title').textContent = `Patient ${p.id || state.timelineId}`;
    const facts = clear($('#patient-facts'));
    const fact = (k, v) => { if (v) facts.append(h('div', null, h('dt', null, k), h('dd', null, v))); };
    fact('Date of birth', p.birth_date ? fmtDate(p.birth_date) : 'not stored');
    fact('Sex', p.sex || 'unknown');
    fact('Stored since', p.created_at ? fmtDate(p.created_at) : null);
    fact('Results', String((tl.observations || []).length));

    drawTrend();
    renderObservationTable(tl);

    const conds = clear($('#patient-conditions'));
    for (const c of tl.conditions || []) {
      const when = [c.onset ? `from ${fmtDate(c.onset)}` : '', c.abatement ? `to ${fmtDate(c.abatement)}` : ''].filter(Boolean).join(' ');
      conds.append(h('li', null, h('strong', null, c.text), c.concept && c.concept !== c.text ? h('span', { class: 'muted' }, ` (${c.concept})`) : null,
        ` — ${c.status}`, when ? `, ${when}` : ''));
    }
    if (!conds.children.length) conds.append(h('li', { class: 'muted' }, 'None stored.'));

    const meds = clear($('#patient-medications'));
    for (const m of tl.medications || []) {
      const span = `${m.start ? fmtDate(m.start) : 'start unknown'} – ${m.active ? 'still taken' : m.end ? fmtDate(m.end) : 'stop unknown'}`;
      meds.append(h('li', null, h('strong', null, m.text), `: ${span}`,
        (m.drugs || []).length ? h('span', { class: 'muted' }, ` (${m.drugs.join(', ')})`) : h('span', { class: 'muted' }, ' (not in leuko’s drug list)')));
    }
    if (!meds.children.length) meds.append(h('li', { class: 'muted' }, 'None stored.'));

    const box = clear($('#patient-assessments'));
    const list = (tl.assessments || []).slice().sort((x, y) => parseTime(y.as_of) - parseTime(x.as_of));
    if (list.length) {
      const tbody = h('tbody');
      for (const r of list) {
        tbody.append(h('tr', null,
          h('td', { 'data-label': 'As of' }, fmtDateTime(r.as_of)),
          h('td', { 'data-label': 'Level' }, levelBadge(r.level)),
          h('td', { 'data-label': 'Made' }, fmtDateTime(r.created_at)),
          h('td', { 'data-label': 'Id', class: 'mono' }, r.id)));
      }
      box.append(h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
        h('caption', { class: 'visually-hidden' }, 'Stored assessments, newest first'),
        h('thead', null, h('tr', null, ['As of', 'Level', 'Made', 'Id'].map((t) => h('th', { scope: 'col' }, t)))), tbody)));
    } else {
      box.append(h('p', { class: 'muted' }, 'No stored assessments yet. “Assess now” makes and stores one.'));
    }
  }

  function renderObservationTable(tl) {
    const box = clear($('#trend-table'));
    const obs = (tl.observations || []).slice().sort((x, y) => parseTime(y.at) - parseTime(x.at));
    if (!obs.length) {
      box.append(h('p', { class: 'muted' }, 'No results stored.'));
      return;
    }
    const tbody = h('tbody');
    for (const o of obs) {
      tbody.append(h('tr', null,
        h('td', { 'data-label': 'Taken' }, fmtDateTime(o.at)),
        h('th', { scope: 'row', 'data-label': 'Test' }, ANALYTES[o.analyte] || o.analyte),
        h('td', { 'data-label': 'Value', class: 'num' }, `${fmtNum(o.value)} ${unitLabel(o.unit)}`)));
    }
    box.append(h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
      h('caption', { class: 'visually-hidden' }, 'Stored results, newest first'),
      h('thead', null, h('tr', null, ['Taken', 'Test', 'Value'].map((t) => h('th', { scope: 'col' }, t)))), tbody)));
  }

  // ------------------------------------------------------------------ the trend chart

  const SERIES = [
    { key: 'wbc', label: 'WBC (white cells)', short: 'WBC', cls: 's-wbc', marker: 'circle' },
    { key: 'anc', label: 'ANC (neutrophils)', short: 'ANC', cls: 's-anc', marker: 'square' },
    { key: 'alc', label: 'Lymphocytes', short: 'Lymphocytes', cls: 's-alc', marker: 'triangle' },
  ];
  const BANDS = [
    { lo: 0, hi: 0.5, cls: 'band-g4', label: 'ANC grade 4: below 0.5', tag: 'G4' },
    { lo: 0.5, hi: 1.0, cls: 'band-g3', label: 'ANC grade 3: 0.5 to 1.0', tag: 'G3' },
    { lo: 1.0, hi: 1.5, cls: 'band-g2', label: 'ANC grade 2: 1.0 to 1.5', tag: 'G2' },
  ];
  const DAY = 86400000;

  function toBillionPerLitre(value, unit) {
    const u = String(unit || '').replace(/\s/g, '').toLowerCase();
    if (u === '/ul' || u === '/µl' || u === '/mm3' || u === 'cells/ul' || u === 'cells/mm3') return value / 1000;
    return value;
  }

  function marker(kind, x, y, cls) {
    if (kind === 'square') return s('rect', { x: x - 4, y: y - 4, width: 8, height: 8, class: `mk ${cls}` });
    if (kind === 'triangle') return s('path', { d: `M${x} ${y - 5} L${x + 5} ${y + 4} L${x - 5} ${y + 4} Z`, class: `mk ${cls}` });
    return s('circle', { cx: x, cy: y, r: 4.2, class: `mk ${cls}` });
  }

  function niceStep(range, target) {
    const raw = range / Math.max(1, target);
    const mag = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
    return 10 * mag;
  }

  /** Date ticks: whole days, weeks, months or years, no more than maxTicks. */
  function timeTicks(t0, t1, maxTicks) {
    const span = t1 - t0;
    const dayOptions = [1, 2, 7, 14];
    for (const d of dayOptions) {
      if (span / (d * DAY) <= maxTicks) {
        const start = new Date(t0);
        start.setHours(0, 0, 0, 0);
        if (d === 7 || d === 14) start.setDate(start.getDate() - ((start.getDay() + 6) % 7)); // Mondays
        const out = [];
        for (let t = start.getTime(); t <= t1; ) {
          if (t >= t0) out.push({ t, kind: 'day' });
          const n = new Date(t);
          n.setDate(n.getDate() + d);
          t = n.getTime();
        }
        return out;
      }
    }
    for (const m of [1, 2, 3, 6, 12, 24, 60]) {
      if (span / (m * 30.44 * DAY) <= maxTicks) {
        const start = new Date(t0);
        start.setDate(1);
        start.setHours(0, 0, 0, 0);
        if (m >= 12) start.setMonth(0);
        else start.setMonth(Math.floor(start.getMonth() / m) * m);
        const out = [];
        for (let i = 0; ; i++) {
          const d = new Date(start);
          d.setMonth(start.getMonth() + i * m);
          const t = d.getTime();
          if (t > t1) break;
          if (t >= t0) out.push({ t, kind: m >= 12 ? 'year' : 'month' });
        }
        return out;
      }
    }
    return [{ t: t0, kind: 'year' }];
  }

  function drawTrend() {
    const tl = state.timeline;
    const svg = $('#trend-chart');
    const legend = clear($('#trend-legend'));
    clear(svg);
    if (!tl) return;
    const wrap = $('#trend-wrap');
    const width = Math.max(280, Math.floor(wrap.clientWidth || 640));
    const narrow = width < 520;
    const now = Date.now();

    const data = {};
    for (const sr of SERIES) data[sr.key] = [];
    for (const o of tl.observations || []) {
      if (!data[o.analyte]) continue;
      const t = parseTime(o.at);
      const v = toBillionPerLitre(Number(o.value), o.unit);
      if (Number.isFinite(t) && Number.isFinite(v)) data[o.analyte].push({ t, v, at: o.at });
    }
    for (const k of Object.keys(data)) data[k].sort((x, y) => x.t - y.t);
    const all = Object.values(data).flat();
    const meds = (tl.medications || []).map((m) => ({
      name: m.text || (m.drugs || []).join(', ') || 'medicine',
      start: parseTime(m.start),
      end: m.active ? NaN : parseTime(m.end),
      active: !!m.active,
    }));

    if (!all.length && !meds.length) {
      svg.setAttribute('viewBox', `0 0 ${width} 60`);
      svg.setAttribute('width', width);
      svg.setAttribute('height', 60);
      svg.append(s('text', { x: 12, y: 34, class: 'chart-empty' }, 'No WBC, ANC or lymphocyte results stored yet.'));
      return;
    }

    // The time axis: the results, and today when a medicine is still taken.
    let t0 = all.length ? Math.min(...all.map((p) => p.t)) : Math.min(...meds.map((m) => m.start).filter(Number.isFinite), now - 90 * DAY);
    let t1 = all.length ? Math.max(...all.map((p) => p.t)) : now;
    if (meds.some((m) => m.active)) t1 = Math.max(t1, now);
    for (const m of meds) if (Number.isFinite(m.end)) t1 = Math.max(t1, Math.min(m.end, now));
    let span = Math.max(t1 - t0, 14 * DAY);
    for (const m of meds) {
      // A start shortly before the first result widens the axis; a much older one is clipped.
      if (Number.isFinite(m.start) && m.start < t0 && t0 - m.start <= span * 0.5) t0 = m.start;
    }
    span = Math.max(t1 - t0, 14 * DAY);
    if (t1 - t0 < 14 * DAY) {
      const mid = (t0 + t1) / 2;
      t0 = mid - 7 * DAY;
      t1 = mid + 7 * DAY;
    }
    const pad = span * 0.03;
    const x0 = t0 - pad;
    const x1 = t1 + pad;

    const maxV = Math.max(2, ...all.map((p) => p.v));
    const step = niceStep(maxV * 1.08, narrow ? 4 : 6);
    const yMax = Math.ceil((maxV * 1.08) / step) * step;

    const ml = 40;
    const mr = 14;
    const mt = 26;
    const plotH = narrow ? 210 : 270;
    const axisH = 40;
    const rowH = 30;
    const medsTop = mt + plotH + axisH;
    const medsH = meds.length ? 22 + meds.length * rowH : 0;
    const height = medsTop + medsH + 6;
    const pw = width - ml - mr;
    const X = (t) => ml + ((t - x0) / (x1 - x0)) * pw;
    const Y = (v) => mt + plotH - (Math.min(v, yMax) / yMax) * plotH;

    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('width', width);
    svg.setAttribute('height', height);

    const desc = [];
    for (const sr of SERIES) {
      const pts = data[sr.key];
      if (pts.length) {
        const last = pts[pts.length - 1];
        desc.push(`${sr.short}: ${pts.length} result${pts.length > 1 ? 's' : ''}, latest ${fmtNum(last.v)} ×10⁹/L on ${fmtDate(last.t)}`);
      }
    }
    svg.append(s('title', { id: 'trend-title' }, 'Trend of WBC, ANC and lymphocytes (×10⁹/L), with the CTCAE ANC grade bands and the medicines'));
    svg.append(s('desc', { id: 'trend-desc' }, `${desc.join('. ')}. ${meds.length} medicine${meds.length === 1 ? '' : 's'} drawn under the chart.`));
    svg.setAttribute('aria-labelledby', 'trend-title');
    svg.setAttribute('aria-describedby', 'trend-desc');

    const defs = s('defs', null, s('clipPath', { id: 'plot-clip' }, s('rect', { x: ml, y: mt - 6, width: pw, height: plotH + 12 })));
    svg.append(defs);

    // Grade bands.
    const bands = s('g', { class: 'bands', 'aria-hidden': 'true' });
    for (const b of BANDS) {
      if (b.lo >= yMax) continue;
      const yTop = Y(Math.min(b.hi, yMax));
      const yBot = Y(b.lo);
      bands.append(s('rect', { x: ml, y: yTop, width: pw, height: yBot - yTop, class: b.cls }));
      if (yBot - yTop >= 11) bands.append(s('text', { x: ml + pw - 4, y: (yTop + yBot) / 2 + 4, class: 'band-tag', 'text-anchor': 'end' }, b.tag));
    }
    svg.append(bands);

    // Y grid and labels.
    const grid = s('g', { class: 'grid', 'aria-hidden': 'true' });
    for (let v = 0; v <= yMax + 1e-9; v += step) {
      const y = Y(v);
      grid.append(s('line', { x1: ml, x2: ml + pw, y1: y, y2: y, class: v === 0 ? 'axis' : 'gridline' }));
      grid.append(s('text', { x: ml - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, fmtNum(Number(v.toFixed(3)))));
    }
    grid.append(s('text', { x: 4, y: 12, class: 'axis-title' }, '×10⁹/L'));
    svg.append(grid);

    // X ticks, shared by the medicine rows.
    const xAxis = s('g', { class: 'x-axis', 'aria-hidden': 'true' });
    const ticks = timeTicks(x0, x1, Math.max(2, Math.floor(pw / (narrow ? 52 : 90))));
    let lastYear = null;
    for (const tk of ticks) {
      const x = X(tk.t);
      const d = new Date(tk.t);
      xAxis.append(s('line', { x1: x, x2: x, y1: mt, y2: mt + plotH, class: 'gridline gridline-x' }));
      xAxis.append(s('line', { x1: x, x2: x, y1: mt + plotH, y2: mt + plotH + 5, class: 'axis' }));
      const l1 = tk.kind === 'day' ? dayMonthFmt.format(d) : tk.kind === 'month' ? monthFmt.format(d) : String(d.getFullYear());
      const year = d.getFullYear();
      const l2 = tk.kind !== 'year' && year !== lastYear ? String(year) : '';
      lastYear = year;
      xAxis.append(s('text', { x, y: mt + plotH + 18, 'text-anchor': 'middle', class: 'tick' }, l1));
      if (l2) xAxis.append(s('text', { x, y: mt + plotH + 32, 'text-anchor': 'middle', class: 'tick tick-year' }, l2));
    }
    svg.append(xAxis);

    // Today.
    if (now >= x0 && now <= x1) {
      const x = X(now);
      svg.append(s('g', { class: 'today', 'aria-hidden': 'true' },
        s('line', { x1: x, x2: x, y1: mt - 8, y2: height - 6 }),
        s('text', { x: x - 4, y: 12, 'text-anchor': 'end' }, 'today')));
    }

    // Series.
    const seriesG = s('g', { class: 'series', 'clip-path': 'url(#plot-clip)' });
    for (const sr of SERIES) {
      const pts = data[sr.key];
      if (!pts.length) continue;
      const g = s('g', { class: `serie ${sr.cls}`, role: 'list', 'aria-label': sr.label });
      if (pts.length > 1) {
        g.append(s('path', { d: pts.map((p, i) => `${i ? 'L' : 'M'}${X(p.t).toFixed(1)} ${Y(p.v).toFixed(1)}`).join(' '), class: 'line', 'aria-hidden': 'true' }));
      }
      for (const p of pts) {
        const label = `${sr.short} ${fmtNum(p.v)} ×10⁹/L on ${fmtDateTime(p.at)}${p.v > yMax ? ' (above the chart)' : ''}`;
        g.append(s('g', { class: 'pt', role: 'listitem' }, s('g', { role: 'img', 'aria-label': label }, s('title', null, label), marker(sr.marker, X(p.t), Y(p.v), sr.cls))));
      }
      seriesG.append(g);
    }
    svg.append(seriesG);

    // Medicines, on the same time axis.
    if (meds.length) {
      const mg = s('g', { class: 'meds', role: 'list', 'aria-label': 'Medicines' });
      mg.append(s('text', { x: 4, y: medsTop + 12, class: 'meds-title', 'aria-hidden': 'true' }, 'Medicines'));
      meds.forEach((m, i) => {
        const yRow = medsTop + 22 + i * rowH;
        const clippedStart = !Number.isFinite(m.start) || m.start < x0;
        const sx = clippedStart ? ml : X(m.start);
        const endT = m.active ? now : Number.isFinite(m.end) ? m.end : now;
        const ex = Math.max(sx + 3, Math.min(ml + pw, X(endT)));
        const startText = Number.isFinite(m.start) ? fmtDate(m.start) : 'start unknown';
        const endText = m.active ? 'still taken' : Number.isFinite(m.end) ? fmtDate(m.end) : 'stop unknown';
        const label = `${m.name}: ${startText} – ${endText}`;
        const item = s('g', { class: `med${m.active ? ' med-active' : ''}`, role: 'listitem' });
        const bar = s('g', { role: 'img', 'aria-label': label }, s('title', null, label));
        bar.append(s('rect', { x: sx, y: yRow + 12, width: ex - sx, height: 10, rx: 2, class: 'med-bar' }));
        if (m.active) bar.append(s('path', { d: `M${ex} ${yRow + 9} L${ex + 8} ${yRow + 17} L${ex} ${yRow + 25} Z`, class: 'med-arrow' }));
        if (clippedStart) bar.append(s('path', { d: `M${ml - 1} ${yRow + 9} L${ml - 8} ${yRow + 17} L${ml - 1} ${yRow + 25} Z`, class: 'med-arrow' }));
        item.append(bar);
        // The label sits above its bar, moved left as far as needed to stay inside the chart.
        let text = `${m.name} · ${m.active ? `since ${startText}` : `${startText} – ${endText}`}`;
        const room = width - mr - 4;
        if (text.length * 6.6 > room) text = m.name;
        const est = text.length * 6.6;
        const tx = Math.max(4, Math.min(sx, width - mr - est));
        item.append(s('text', { x: tx, y: yRow + 8, class: 'med-label', 'aria-hidden': 'true' }, text));
        mg.append(item);
      });
      svg.append(mg);
    }

    // Legend (HTML, wraps on small screens).
    const sw = (child) => s('svg', { class: 'swatch', viewBox: '0 0 30 14', width: 30, height: 14, 'aria-hidden': 'true', focusable: 'false' }, child);
    for (const sr of SERIES) {
      legend.append(h('li', null, sw([s('line', { x1: 1, x2: 29, y1: 7, y2: 7, class: `line ${sr.cls}` }), marker(sr.marker, 15, 7, sr.cls)]), sr.label));
    }
    for (const b of BANDS) {
      legend.append(h('li', null, sw(s('rect', { x: 1, y: 1, width: 28, height: 12, class: `${b.cls} band-swatch` })), `${b.label} ×10⁹/L`));
    }
    if (meds.length) {
      legend.append(h('li', null, sw([s('rect', { x: 1, y: 3, width: 20, height: 8, rx: 2, class: 'med-bar' }), s('path', { d: 'M21 1 L28 7 L21 13 Z', class: 'med-arrow' })]), 'Medicine taken (arrow: still taken)'));
    }
  }

  // ------------------------------------------------------------------ start

  function start() {
    initTabs();
    initForm();
    initPatient();
    initPrint();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
