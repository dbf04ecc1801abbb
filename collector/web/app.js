// WIM review workbench: one page, views by URL hash, all data from /api (docs/workbench-api.md).
// No inline script (the CSP forbids it), no framework, no network beyond the collector.
'use strict';
const $ = (sel, root = document) => root.querySelector(sel);
let me = null; // {user, role, csrf}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k ?? ''));
  return e;
}

function show(text, info = false) {
  const m = $('#msg');
  m.textContent = text;
  m.className = info ? 'info' : '';
  m.hidden = !text;
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') {
    opt.headers['Content-Type'] = 'application/json';
    if (me) opt.headers['X-CSRF-Token'] = me.csrf;
    opt.body = JSON.stringify(body ?? {});
  }
  const r = await fetch(path, opt);
  const type = r.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await r.json() : await r.text();
  if (!r.ok) {
    const err = new Error(data.detail ? `${data.error}: ${data.detail}` : `HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return data;
}

const kNav = {
  transport_reviewer: [['#/queue/transport', 'Transport queue']],
  police_reviewer: [['#/queue/police', 'Police queue']],
  supervisor: [['#/queue/transport', 'Transport queue'], ['#/queue/police', 'Police queue'],
    ['#/stations', 'Stations'], ['#/stats', 'Statistics']],
  operator: [['#/stations', 'Stations'], ['#/stats', 'Statistics']],
  admin: [['#/users', 'Users']],
};

function header() {
  const nav = $('#nav');
  nav.replaceChildren(...(me ? kNav[me.role] || [] : []).map(([h, t]) => el('a', { href: h }, t)));
  $('#who').textContent = me ? `${me.user} (${me.role})` : '';
  $('#logout').hidden = !me;
}

function loginView(view) {
  view.replaceChildren($('#t-login').content.cloneNode(true));
  const f = $('#login-form');
  f.user.focus();
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      me = await api('POST', '/api/login', { user: f.user.value, password: f.password.value });
      show('');
      header();
      location.hash = (kNav[me.role] || [['#/']])[0][0];
    } catch (e) {
      show(e.message);
    }
  });
}

// ---- queue -----------------------------------------------------------------------------
let queueIds = [];
async function queueView(view, which) {
  const data = await api('GET', `/api/cases?queue=${which}`);
  queueIds = data.cases.map((c) => c.case_id);
  const rows = data.cases.map((c, i) => el('tr', { 'data-id': c.case_id, class: i === 0 ? 'sel' : '' },
    el('td', {}, el('a', { href: `#/case/${c.case_id}` }, c.case_id)),
    el('td', {}, c.state), el('td', {}, c.plate ?? '—'),
    el('td', {}, fmtKg(c.excess_kg)),
    el('td', { class: c.overdue ? 'overdue' : '' }, c.stage_deadline_utc + (c.overdue ? ' OVERDUE' : ''))));
  view.replaceChildren(el('h1', {}, `${which === 'transport' ? 'Transport' : 'Police'} queue (${rows.length})`),
    el('p', { class: 'muted' }, 'Sorted by deadline. ', el('kbd', {}, 'j'), '/', el('kbd', {}, 'k'),
      ' move, ', el('kbd', {}, 'Enter'), ' open.'),
    el('table', { id: 'queue' }, el('tr', {}, ...['Case', 'State', 'Plate', 'Excess', 'Deadline (UTC)']
      .map((h) => el('th', {}, h))), ...rows));
  if (!rows.length) view.append(el('p', {}, 'No case waits in this queue.'));
}

function moveSel(step) {
  const rows = [...document.querySelectorAll('#queue tr[data-id]')];
  if (!rows.length) return;
  let i = rows.findIndex((r) => r.classList.contains('sel'));
  rows.forEach((r) => r.classList.remove('sel'));
  i = Math.max(0, Math.min(rows.length - 1, i + step));
  rows[i].classList.add('sel');
  rows[i].scrollIntoView({ block: 'nearest' });
}

// ---- case ------------------------------------------------------------------------------
const fmtKg = (x) => (typeof x === 'number' ? `${Math.round(x).toLocaleString('en')} kg` : '—');

function axleTable(m) {
  const x = m && m.measurement;
  if (!x) return el('p', {}, 'No measurement in the record.');
  const t = el('table', { id: 'axles' }, el('tr', {}, ...['Axle', 'Load', 'Spacing to next']
    .map((h) => el('th', {}, h))));
  (x.axle_loads_kg || []).forEach((kg, i) => t.append(el('tr', {}, el('td', {}, String(i + 1)),
    el('td', {}, fmtKg(kg)),
    el('td', {}, x.axle_spacings_m && i < x.axle_spacings_m.length ? `${x.axle_spacings_m[i]} m` : ''))));
  const l = m.legal || {};
  return el('div', {}, t, el('p', {},
    `Groups ${x.axle_config || '?'}, class ${x.vehicle_class || '?'}, ${x.speed_kmh ?? '?'} km/h. `,
    `Gross ${fmtKg(x.gross_kg)} against limit ${fmtKg(l.limit_kg)}: excess ${fmtKg(l.excess_kg)}.`),
  el('p', {}, 'Legal basis: ', el('strong', {}, l.rule || '—')));
}

function drawWaveform(canvas, csv) {
  const lines = csv.trim().split('\n');
  const head = lines.shift().split(',');
  const rows = lines.map((l) => l.split(',').map(Number)).filter((r) => r.every(Number.isFinite));
  const w = (canvas.width = canvas.clientWidth || 600);
  const h = (canvas.height = 180);
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, w, h);
  if (rows.length < 2) { g.fillText('no samples', 10, 20); return; }
  const t0 = rows[0][0], t1 = rows[rows.length - 1][0] || 1;
  let lo = Infinity, hi = -Infinity;
  rows.forEach((r) => r.slice(1).forEach((v) => { lo = Math.min(lo, v); hi = Math.max(hi, v); }));
  if (hi === lo) hi = lo + 1;
  const colors = ['#1d3557', '#e63946', '#2a9d8f', '#f4a261', '#6a4c93', '#8d99ae'];
  for (let c = 1; c < head.length; ++c) {
    g.strokeStyle = colors[(c - 1) % colors.length];
    g.beginPath();
    rows.forEach((r, i) => {
      const px = ((r[0] - t0) / (t1 - t0 || 1)) * (w - 20) + 10;
      const py = h - 20 - ((r[c] - lo) / (hi - lo)) * (h - 40);
      if (i) g.lineTo(px, py); else g.moveTo(px, py);
    });
    g.stroke();
    g.fillStyle = g.strokeStyle;
    g.fillText(head[c], 10 + 70 * (c - 1), 12);
  }
  g.fillStyle = '#333';
  g.fillText(`${((t1 - t0) / 1000).toFixed(1)} ms`, w - 60, h - 5);
}

function verification(v) {
  const s = (x) => el('span', { class: x === 'ok' ? 'ok' : 'bad' }, x);
  const ul = el('ul', {}, el('li', {}, 'Signature: ', s(v.signature)), el('li', {}, 'Chain link: ', s(v.chain)));
  for (const a of v.attachments || []) {
    ul.append(el('li', {}, `${a.name}: `, a.removed_by_retention
      ? el('span', {}, 'removed by retention (audit entry retention_purge; the signed manifest keeps its SHA-256)')
      : s(a.ok ? 'ok' : 'bad')));
  }
  if (v.matches_case === false) ul.append(el('li', { class: 'bad' }, 'manifest differs from the case'));
  return ul;
}

function decisionForm(c) {
  const f = el('form', { id: 'decide', class: 'card' });
  const reason = el('textarea', { name: 'reason', rows: '2', placeholder: 'reason (required to reject, return, no penalty)' });
  const act = (action, body) => async () => {
    try {
      const r = await api('POST', `/api/cases/${c.case_id}/${action}`, { reason: reason.value, ...body });
      show(`${c.case_id}: ${r.case.state}`, true);
      // A case that left this reviewer's hands: back to the queue, the next case on top
      // (the role may no longer read it: transport after confirm, police after return).
      const queue = me.role === 'transport_reviewer' ? 'transport' : 'police';
      if (['confirm', 'reject', 'return', 'close'].includes(action) && location.hash !== `#/queue/${queue}`) location.hash = `#/queue/${queue}`;
      else route();
    } catch (e) { show(e.message); }
  };
  const buttons = [];
  const add = (key, label, fn) => { buttons.push([key, fn]); f.append(el('button', { type: 'button', 'data-key': key, onclick: fn }, label, ' ', el('kbd', {}, key))); };
  f.append(el('h2', {}, 'Decision'), reason);
  if (me.role === 'transport_reviewer' && ['awaiting_transport_review', 'returned_to_transport'].includes(c.state)) {
    const plate = el('input', { name: 'plate', value: c.plate ?? '', placeholder: 'plate as read by you' });
    f.append(el('label', {}, 'Plate ', plate));
    add('p', 'Save plate', async () => {
      try { await api('POST', `/api/cases/${c.case_id}/plate`, { plate: plate.value }); show('plate saved', true); route(); } catch (e) { show(e.message); }
    });
    add('c', 'Confirm', act('confirm'));
    add('r', 'Reject', act('reject'));
  } else if (me.role === 'police_reviewer' && c.state === 'awaiting_police_review') {
    add('f', 'Fine', act('decide', { kind: 'fine' }));
    add('w', 'Warning', act('decide', { kind: 'warning' }));
    add('n', 'No penalty', act('decide', { kind: 'no_penalty' }));
    add('t', 'Return to transport', act('return'));
  } else if (me.role === 'police_reviewer' && c.state === 'penalty_decided') {
    add('x', 'Close', act('close'));
  } else {
    reason.remove(); // nothing to give a reason for (read-only role, or not this stage)
    f.append(el('p', { class: 'muted' }, 'No action of yours applies to this case now.'));
  }
  f.shortcuts = buttons;
  return f;
}

// Working time [s] as a person reads it: "9 h 30 min", "45 min", "20 s".
function fmtWorking(s) {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  if (!h && !m) return `${s} s`;
  return [h ? `${h} h` : '', m ? `${m} min` : ''].filter(Boolean).join(' ');
}

// Was this transition taken within its stage's deadline (the audit entry's "deadline")?
function deadlineText(e) {
  if (e.deadline === 'met') return 'met';
  if (e.deadline === 'overdue') {
    return e.overdue_working_s ? `overdue by ${fmtWorking(e.overdue_working_s)} of working time`
      : 'overdue (after the deadline, outside working hours)';
  }
  if (e.deadline === 'none') return 'no deadline';
  return 'not recorded'; // an entry written before deadlines were recorded
}

let caseForm = null;
async function caseView(view, id) {
  const d = await api('GET', `/api/cases/${encodeURIComponent(id)}`);
  const c = d.case;
  const photo = (d.attachments || []).find((a) => (a.type || '').startsWith('image/'));
  const wave = (d.attachments || []).find((a) => a.name.startsWith('waveform'));
  const canvas = el('canvas', { id: 'waveform' });
  caseForm = decisionForm(c);
  const dec = c.decision ? `${c.decision.kind}${c.decision.amount_yuan ? ` ${c.decision.amount_yuan} yuan` : ''} ${c.decision.reason || ''}` : '—';
  view.replaceChildren(
    el('h1', {}, `Case ${c.case_id}`),
    el('div', { class: 'grid' },
      el('div', { class: 'card' },
        photo && photo.url ? el('img', { class: 'photo', src: photo.url, alt: 'plate photo' })
          : el('p', {}, photo ? 'Photo removed by the retention rule.' : 'No photo.'),
        el('p', {}, 'Plate: ', el('strong', { id: 'plate' }, c.plate ?? '—'),
          ` (confidence ${c.plate_confidence ?? '?'}${c.plate_needs_human ? ', a human must read it' : ''}${c.plate_read_by ? `, read by ${c.plate_read_by}` : ''})`),
        el('p', {}, `Station ${c.station_id} lane ${c.lane}, ${c.time_utc}`),
        el('p', {}, 'State: ', el('strong', { id: 'state' }, c.state),
          ...(['rejected', 'closed'].includes(c.state) ? [] : [' — deadline ',
            el('span', { id: 'deadline', class: c.overdue ? 'overdue' : '' }, `${c.stage_deadline_utc || '—'}${c.overdue ? ' OVERDUE' : ''}`)])),
        el('p', {}, `Decision: ${dec}`),
        el('h2', {}, 'Verification'), verification(d.verification || {})),
      el('div', {}, el('div', { class: 'card' }, el('h2', {}, 'Axles'), axleTable(d.manifest)), caseForm)),
    el('div', { class: 'card' }, el('h2', {}, 'Waveform'), canvas),
    el('div', { class: 'card' }, el('h2', {}, 'History'), el('table', { id: 'history' },
      el('tr', {}, ...['Time (UTC)', 'User', 'Action', 'From', 'To', 'Reason', 'Stage deadline (UTC)', 'Deadline']
        .map((h) => el('th', {}, h))),
      ...(d.history || []).map((e) => el('tr', { 'data-seq': String(e.seq) },
        ...[e.time_utc, `${e.user} (${e.role})`, e.action, e.from, e.to, e.reason, e.stage_deadline_utc || '—']
          .map((x) => el('td', {}, x)),
        el('td', { class: e.deadline === 'overdue' ? 'overdue' : e.deadline === 'met' ? 'ok' : '' }, deadlineText(e)))))));
  if (wave) {
    const r = await fetch(wave.url, { credentials: 'same-origin' });
    if (r.ok) drawWaveform(canvas, await r.text());
  }
}

// ---- stations, stats, users -----------------------------------------------------------
function cell(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${typeof x === 'object' ? JSON.stringify(x) : x}`).join(', ');
  return String(v);
}

// The collector's own deliveries and image retention (operator, supervisor): counts,
// errors and times only, no case data.
function deliveriesCard(d) {
  const stateCell = (x) => el('td', { class: x === 'failing' ? 'bad' : x === 'delivered' ? 'ok' : '' }, x);
  const cols = ['Sink', 'State', 'Backlog', 'Pending', 'Retrying', 'Delivered', 'Oldest waiting (UTC)', 'Last error', 'Next try (UTC)'];
  const rows = d.case_sinks.map((s) => el('tr', { 'data-sink': s.sink }, el('td', {}, s.sink), stateCell(s.state),
    ...[s.backlog, s.pending, s.retrying, s.delivered, s.oldest_waiting_utc, s.last_error || '', s.next_attempt_utc]
      .map((x) => el('td', {}, x === null ? '—' : String(x)))));
  const t = d.transition_webhook;
  const tw = t.enabled
    ? el('p', { id: 'transitions' }, 'Review transitions webhook: ', el('strong', { class: t.state === 'failing' ? 'bad' : t.state === 'delivered' ? 'ok' : '' }, t.state),
      ` — ${t.backlog} audit entr${t.backlog === 1 ? 'y' : 'ies'} waiting (delivered up to seq ${t.delivered_seq} of ${t.latest_seq})`,
      t.attempts ? `, ${t.attempts} failed tr${t.attempts === 1 ? 'y' : 'ies'}, last error: ${t.last_error}, next try ${t.next_attempt_utc}` : '')
    : el('p', { id: 'transitions' }, 'Review transitions webhook: not configured (forward.transition_webhook_url).');
  return el('div', { class: 'card', id: 'delivery-status' }, el('h2', {}, 'Case deliveries'),
    rows.length ? el('table', { id: 'deliveries' }, el('tr', {}, ...cols.map((h) => el('th', {}, h))), ...rows)
      : el('p', {}, 'No case sink configured (forward.spool_dir, forward.webhook_url).'), tw);
}

function retentionCard(r) {
  const card = el('div', { class: 'card', id: 'retention-status' }, el('h2', {}, 'Image retention'));
  if (!r.enabled) { card.append(el('p', { id: 'retention-off' }, r.detail)); return card; }
  const row = (k, label, v) => el('tr', { 'data-k': k }, el('th', {}, label), el('td', {}, v === null ? '—' : String(v)));
  const l = r.last_run, a = r.all_time, s = r.since_start;
  card.append(el('table', { id: 'retention' },
    row('days', 'Images kept after a case ends', `${r.violation_images_days} days`),
    row('last_run', 'Last purge run (UTC)', r.last_run_utc),
    row('result', 'Result', r.last_run_utc === null ? 'not run yet' : r.last_ok ? 'ok' : `failed: ${r.last_error}`),
    row('last_success', 'Last completed run (UTC)', r.last_success_utc),
    row('next_run', 'Next run (UTC)', r.next_run_utc),
    row('last_counts', 'Last run', `${l.cases_purged} cases, ${l.files_removed} files / ${l.bytes_removed} bytes removed`),
    row('since_start', 'Since start', `${s.runs_ok} runs ok, ${s.runs_failed} failed; ${s.cases_purged} cases, ${s.files_removed} files / ${s.bytes_removed} bytes removed`),
    row('all_time', 'All time', `${a.cases} cases, ${a.images_marked} images / ${a.bytes_marked} bytes removed`),
    row('spool', 'Spool tars', `${a.spool_tars} rewritten without images all time; last run ${l.spool_rewritten}` +
      (l.spool_problems.length ? `, ${l.spool_problems.length} could not be rewritten: ${l.spool_problems.join('; ')}` : ''))));
  return card;
}

async function stationsView(view) {
  const [st, deliveries, retention] = await Promise.all([api('GET', '/api/stations'),
    api('GET', '/api/deliveries'), api('GET', '/api/retention')]);
  const map = el('canvas', { id: 'map' });
  const cols = ['id', 'name', 'last_record_utc', 'records_per_hour', 'outbox', 'clock', 'faults', 'alerts'];
  view.replaceChildren(el('h1', {}, `Stations (${st.length})`), el('div', { class: 'card' }, map),
    el('table', { id: 'stations' }, el('tr', {}, ...cols.map((h) => el('th', {}, h))),
      ...st.map((s) => el('tr', {}, ...cols.map((k) => el('td', {}, cell(s[k] ?? s[k.replace('id', 'station_id')])))))),
    el('div', { class: 'status' }, deliveriesCard(deliveries), retentionCard(retention)));
  const w = (map.width = map.clientWidth || 600), h = (map.height = 180), g = map.getContext('2d');
  const pts = st.filter((s) => s.location);
  const lat = pts.map((s) => s.location.lat), lon = pts.map((s) => s.location.lon);
  const [a0, a1, o0, o1] = [Math.min(...lat), Math.max(...lat), Math.min(...lon), Math.max(...lon)];
  for (const s of pts) {
    const x = 20 + ((s.location.lon - o0) / (o1 - o0 || 1)) * (w - 80);
    const y = h - 20 - ((s.location.lat - a0) / (a1 - a0 || 1)) * (h - 40);
    const alert = Array.isArray(s.alerts) && s.alerts.length;
    g.fillStyle = alert ? '#e63946' : '#2a9d8f';
    g.beginPath(); g.arc(x, y, 6, 0, 7); g.fill();
    g.fillStyle = '#111'; g.fillText(s.id || s.station_id, x + 8, y + 4);
  }
}

async function statsView(view) {
  const today = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 6 * 86400e3).toISOString().slice(0, 10);
  const s = await api('GET', `/api/stats?from=${from}&to=${today}`);
  const chart = el('canvas', { id: 'rate' });
  view.replaceChildren(el('h1', {}, `Statistics ${from} to ${today}`),
    el('p', {}, el('a', { id: 'csv', href: `/api/stats.csv?from=${from}&to=${today}`, download: '' }, 'Download CSV')),
    el('div', { class: 'card' }, el('h2', {}, 'City overload rate per day'), chart),
    el('table', { id: 'by-state' }, el('tr', {}, el('th', {}, 'State'), el('th', {}, 'Cases')),
      ...Object.entries(s.cases_by_state).map(([k, n]) => el('tr', {}, el('td', {}, k), el('td', { 'data-state': k }, String(n))))),
    el('p', {}, `Handled within deadline: ${(100 * s.within_deadline_share).toFixed(1)} %. Closure rate: ${(100 * s.closure_rate).toFixed(1)} %.`),
    el('table', { id: 'per-point' }, el('tr', {}, ...['Day', 'Point', 'Vehicles', 'Overloads', 'Rate'].map((h) => el('th', {}, h))),
      ...s.days.flatMap((d) => [...d.stations, { station_id: 'city', ...d.city }].map((p) => el('tr', {},
        ...[d.day, p.station_id, p.vehicles, p.overloads, `${(100 * p.overload_rate).toFixed(2)} %`].map((x) => el('td', {}, String(x))))))));
  const w = (chart.width = chart.clientWidth || 600), h = (chart.height = 180), g = chart.getContext('2d');
  const rates = s.days.map((d) => d.city.overload_rate), top = Math.max(0.01, ...rates);
  const bw = (w - 20) / Math.max(1, rates.length);
  rates.forEach((r, i) => {
    const bh = (r / top) * (h - 40);
    g.fillStyle = '#1d3557'; g.fillRect(10 + i * bw + 4, h - 20 - bh, bw - 8, bh);
    g.fillStyle = '#111'; g.fillText(`${s.days[i].day.slice(5)} ${(100 * r).toFixed(1)}%`, 10 + i * bw + 4, h - 6);
  });
}

async function usersView(view) {
  const u = await api('GET', '/api/users');
  const f = el('form', { class: 'card', id: 'add-user' }, el('h2', {}, 'Add a user'),
    el('label', {}, 'User ', el('input', { name: 'user', required: '' })),
    el('label', {}, 'Role ', el('select', { name: 'role' }, ...Object.keys(kNav).map((r) => el('option', {}, r)))),
    el('label', {}, 'Password (12+ characters) ', el('input', { name: 'password', type: 'password', required: '' })),
    el('button', {}, 'Add'));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await api('POST', '/api/users', { user: f.user.value, role: f.role.value, password: f.password.value }); show('user added', true); route(); } catch (e) { show(e.message); }
  });
  view.replaceChildren(el('h1', {}, 'Users'), el('table', {}, el('tr', {}, el('th', {}, 'User'), el('th', {}, 'Role'), el('th', {}, 'Disabled')),
    ...u.users.map((x) => el('tr', {}, el('td', {}, x.user), el('td', {}, x.role), el('td', {}, x.disabled ? 'yes' : '')))), f);
}

// ---- routing and keys -------------------------------------------------------------------
async function route() {
  const view = $('#view');
  caseForm = null;
  const [, page, arg] = location.hash.split('/');
  if (!me) {
    try { me = await api('GET', '/api/me'); } catch (e) { me = null; }
  }
  header();
  if (!me) return loginView(view);
  try {
    if (page === 'queue') await queueView(view, arg);
    else if (page === 'case') await caseView(view, decodeURIComponent(arg));
    else if (page === 'stations') await stationsView(view);
    else if (page === 'stats') await statsView(view);
    else if (page === 'users') await usersView(view);
    else location.hash = (kNav[me.role] || [['#/queue/transport']])[0][0];
  } catch (e) {
    if (e.status === 401) { me = null; header(); return loginView(view); }
    view.replaceChildren(el('p', { class: 'bad', id: 'error' }, e.message));
  }
}

document.addEventListener('keydown', (ev) => {
  if (ev.target.matches('input, textarea, select') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === 'j') moveSel(1);
  else if (ev.key === 'k') moveSel(-1);
  else if (ev.key === 'Enter') { const s = $('#queue tr.sel'); if (s) location.hash = `#/case/${s.dataset.id}`; }
  else if (caseForm) { const hit = caseForm.shortcuts.find(([k]) => k === ev.key); if (hit) { ev.preventDefault(); hit[1](); } }
});

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  $('#logout').addEventListener('click', async () => {
    try { await api('POST', '/api/logout'); } catch (e) { /* session already gone */ }
    me = null; location.hash = '#/'; route();
  });
  route();
});
