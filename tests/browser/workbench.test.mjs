// SPDX-License-Identifier: Apache-2.0
// The review workbench in a real browser (issue 18): Debian's chromium driven by npm
// playwright-core, against a real wim-collector on loopback (HTTPS workbench, mutual-TLS
// station port) fed two simulated stations' signed chains (wim_workbench_records). Logs in
// as transport reviewer, police reviewer, operator and supervisor; takes cases from the
// transport queue to a police decision and closed; checks that each role lacks the
// buttons and is refused by the API for what it may not do; checks the deadlines shown;
// screenshots into --out. Exit 0 pass, 1 fail, 77 skipped (what is missing is printed).
//   node workbench.test.mjs --collector BIN --records BIN --source DIR --out DIR
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || !process.argv[i + 1]) { console.error(`usage: --${name} missing`); process.exit(2); }
  return process.argv[i + 1];
};
const collectorBin = arg('collector'), recordsBin = arg('records'), source = arg('source'), out = arg('out');
const chromiumPath = process.env.WIM_CHROMIUM || '/usr/bin/chromium';
const pwDir = process.env.WIM_PLAYWRIGHT_DIR || '/opt/wim-deps/playwright/node_modules/playwright-core';
const skip = (why) => { console.log(`workbench_browser: SKIPPED: ${why}`); process.exit(77); };
if (!fs.existsSync(chromiumPath)) skip(`no ${chromiumPath} (apt-get install chromium; scripts/install-deps.sh)`);
if (!fs.existsSync(path.join(pwDir, 'package.json'))) skip(`no playwright-core in ${pwDir} (scripts/install-deps.sh)`);
const { chromium } = createRequire(import.meta.url)(pwDir);

let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
};
const t0 = Date.now();
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wim-browser-'));
const run = (cmd, args, input) => {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
};

// ---- the site: PKI, two stations' chains, registry, config, users -----------------------
const pki = path.join(dir, 'pki');
run(path.join(source, 'scripts/make-ca.sh'), [pki, 'G001', 'G002']);
const nowS = Math.floor(Date.now() / 1000);
const cases = run(recordsBin, [dir, String(nowS)]).trim().split('\n').map((l) => JSON.parse(l));
const byPlate = Object.fromEntries(cases.map((c) => [c.plate, c]));
const station = (id, lat, lon) => ({ id, location: { lat, lon }, lanes: 2,
  tls_cert_sha256_file: path.join(pki, 'stations', `${id}.sha256`), signing_key_file: `keys/${id}.pub.pem` });
fs.writeFileSync(path.join(dir, 'registry.json'), JSON.stringify({ stations: [
  station('G001', 31.98, 118.76), station('G002', 32.06, 118.91)] }));
const transportH = 8, policeH = 16;
// The case webhook points at a port nobody listens on (it must show as failing); the
// transition webhook at a receiver here that accepts everything (delivered).
const freePort = () => new Promise((resolve) => {
  const srv = net.createServer().listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
});
const deadPort = await freePort();
const transitionsIn = [];
const receiver = http.createServer((req, res) => {
  let b = ''; req.on('data', (d) => { b += d; });
  req.on('end', () => { transitionsIn.push(JSON.parse(b)); res.writeHead(200); res.end('{}'); });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
const retentionDays = 30;
fs.writeFileSync(path.join(dir, 'collector.json'), JSON.stringify({
  registry: 'registry.json', data_dir: 'data', threads: 2,
  tls: { cert: path.join(pki, 'collector.cert.pem'), key: path.join(pki, 'collector.key.pem'), ca: path.join(pki, 'ca.cert.pem') },
  listen: { port: 0 }, operator_listen: { port: 0 }, workbench_listen: '127.0.0.1:0',
  forward: { spool_dir: 'spool', webhook_url: `http://127.0.0.1:${deadPort}/cases`, tick_ms: 100,
    transition_webhook_url: `http://127.0.0.1:${receiver.address().port}/transitions`,
    retry_initial_ms: 60000, retry_max_ms: 60000 },
  retention: { violation_images_days: retentionDays },
  // Every day, all day: a stage deadline is then the case's start + the working hours.
  review: { transport_working_h: transportH, police_working_h: policeH,
    calendar: { weekdays: [1, 2, 3, 4, 5, 6, 7], day_start_s: 0, day_end_s: 86400 } },
}));
const password = 'correct horse battery';
const users = { tr1: 'transport_reviewer', po1: 'police_reviewer', op1: 'operator', su1: 'supervisor' };
for (const [u, role] of Object.entries(users))
  run(collectorBin, ['add-user', '--config', path.join(dir, 'collector.json'), '--user', u, '--role', role], `${password}\n`);

// ---- the collector ------------------------------------------------------------------------
const logPath = path.join(out, 'collector.log');
const logFd = fs.openSync(logPath, 'w');
const collector = spawn(collectorBin, ['--config', path.join(dir, 'collector.json')], { stdio: ['ignore', logFd, logFd] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let ports = null;
for (let i = 0; i < 200 && !ports; ++i) {
  await sleep(50);
  const text = fs.readFileSync(logPath, 'utf8');
  const s = text.match(/stations: https:\/\/127\.0\.0\.1:(\d+)/), o = text.match(/operators: http:\/\/127\.0\.0\.1:(\d+)/),
    w = text.match(/workbench: https:\/\/127\.0\.0\.1:(\d+)/);
  if (s && o && w) ports = { station: +s[1], operator: +o[1], workbench: +w[1] };
}
let browser = null;
try {
  if (!ports) throw new Error(`wim-collector did not start:\n${fs.readFileSync(logPath, 'utf8')}`);
  const base = `https://127.0.0.1:${ports.workbench}`;
  // The stations upload their chains over mutual TLS, as wim-edge's uplink does.
  for (const id of ['G001', 'G002']) {
    const body = fs.readFileSync(path.join(dir, `${id}.tar`));
    const status = await new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: ports.station, path: '/v1/records', method: 'POST',
        ca: fs.readFileSync(path.join(pki, 'ca.cert.pem')), cert: fs.readFileSync(path.join(pki, 'stations', `${id}.cert.pem`)),
        key: fs.readFileSync(path.join(pki, 'stations', `${id}.key.pem`)), servername: 'localhost',
        headers: { 'Content-Type': 'application/x-tar', 'Content-Length': body.length } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
      req.on('error', reject);
      req.end(body);
    });
    check(status === 200, `station ${id} uploaded its chain (HTTP ${status})`);
  }
  const opCases = () => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: ports.operator, path: '/v1/cases' }, (res) => {
      let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(JSON.parse(b)));
    }).on('error', reject);
  });
  let stored = [];
  for (let i = 0; i < 100 && stored.length < cases.length; ++i) { stored = await opCases(); if (stored.length < cases.length) await sleep(100); }
  check(stored.length === cases.length, `${cases.length} cases stored (${stored.length})`);

  browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  // A fresh profile per role (a new context has its own cookies and storage).
  const asRole = async (user, fn) => {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    const consoleErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(`${base}/`);
    await page.fill('#login-form input[name=user]', user);
    await page.fill('#login-form input[name=password]', password);
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction((u) => document.querySelector('#who').textContent.startsWith(u), user);
    check(true, `${user} (${users[user]}) logged in`);
    try {
      await fn(page);
    } catch (e) {
      await page.screenshot({ path: path.join(out, `failed-${user}.png`), fullPage: true });
      throw e;
    }
    // 4xx answers the test provoked on purpose appear as console errors of the fetch: only
    // script errors count.
    const scriptErrors = consoleErrors.filter((e) => !/status of 4\d\d/.test(e));
    check(scriptErrors.length === 0, `${user}: no script error in the page ${JSON.stringify(scriptErrors)}`);
    await ctx.close();
  };
  const shot = (page, name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
  // A call the page's own code could make, with the session's CSRF token: the API must refuse.
  const apiAs = (page, method, url, body) => page.evaluate(async ([m, u, b]) => {
    const me = await (await fetch('/api/me')).json();
    const r = await fetch(u, { method: m, headers: m === 'GET' ? {} : { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf },
      body: m === 'GET' ? undefined : JSON.stringify(b || {}) });
    let j = null; try { j = await r.json(); } catch (e) { /* not JSON */ }
    return { status: r.status, body: j };
  }, [method, url, body]);
  const buttons = async (page) => page.$$eval('#decide button', (bs) => bs.map((b) => b.dataset.key));
  // Waits for this case's page: from another case's page the hash route keeps the old
  // #state / #history until the new case has loaded (the ASan build's slower collector
  // showed the fined case's history as the rejected one's).
  const openCase = async (page, id) => {
    await page.goto(`${base}/#/case/${id}`);
    await page.waitForFunction((i) => document.querySelector('h1')?.textContent === `Case ${i}`
      && document.querySelector('#state') && document.querySelector('#history'), id);
  };
  const stateOf = (page) => page.textContent('#state');
  // After confirm / reject / return / close the page goes back to the queue and says where
  // the case went.
  const backInQueue = async (page, id, state) => {
    await page.waitForFunction(([i, st]) => document.querySelector('#queue')
      && document.querySelector('#msg').textContent === `${i}: ${st}`, [id, state]);
    check(!(await page.$$eval('#queue tr[data-id]', (t) => t.map((r) => r.dataset.id))).includes(id),
      `${id} ${state}: back in the queue, the case no longer in it`);
  };

  let otherDeadlineUs = 0;
  const deadlines = {}; // case id -> the deadline text the transport / police queue showed
  const fine = byPlate['青S38938'], human = byPlate['川X2M3B7'], warn = byPlate['新Z57A58'], other = byPlate['渝XF77615'];

  // ---- transport reviewer ------------------------------------------------------------------
  await asRole('tr1', async (page) => {
    await page.waitForSelector('#queue');
    const rows = await page.$$eval('#queue tr[data-id]', (trs) => trs.map((tr) => ({ id: tr.dataset.id,
      deadline: tr.cells[4].textContent })));
    check(rows.length === 4, `transport queue lists the 4 cases (${rows.length})`);
    const dl = rows.map((r) => Date.parse(r.deadline.replace(' OVERDUE', '')));
    check(dl.every((d, i) => i === 0 || dl[i - 1] <= d), 'transport queue sorted by deadline');
    const hours = dl.map((d) => (d - nowS * 1000) / 3600e3);
    check(hours.every((h) => h > transportH - 0.25 && h < transportH + 0.25),
      `deadlines shown are ${transportH} working hours after the case came (24/7 calendar): ${hours.map((h) => h.toFixed(2))}`);
    for (const r of rows) deadlines[`transport ${r.id}`] = r.deadline;
    const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.textContent));
    check(JSON.stringify(nav) === JSON.stringify(['Transport queue']), `transport nav ${JSON.stringify(nav)}`);
    await shot(page, '01-transport-queue');

    // The plate a human must read: confirm refused until it is read.
    await openCase(page, human.case_id);
    const keys = await buttons(page);
    check(['p', 'c', 'r'].every((k) => keys.includes(k)) && !['f', 'w', 'n', 't', 'x'].some((k) => keys.includes(k)),
      `transport case page: plate/confirm/reject buttons only (${keys})`);
    check((await page.textContent('#view')).includes('a human must read it'), 'case page says a human must read the plate');
    check((await page.textContent('#deadline')) === rows.find((r) => r.id === human.case_id).deadline, 'case page shows the queue\'s deadline');
    // the photo loads after the page is drawn (slower under ASan): wait for it, up to 10 s
    const photo = await page.waitForFunction(() => {
      const i = document.querySelector('img.photo');
      return i && i.complete && i.naturalWidth > 0;
    }, null, { timeout: 10000 }).then(() => true, () => false);
    check(photo, 'plate photo shown');
    check(await page.$$eval('#axles tr', (t) => t.length) === 6, 'axle table: 5 axles');
    const inked = await page.$eval('#waveform', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
      return n;
    });
    check(inked > 500, `waveform plotted (${inked} pixels drawn)`);
    await shot(page, '02-transport-case-needs-human');
    await page.click('#decide button[data-key=c]');
    await page.waitForSelector('#msg:not([hidden])');
    check(/wrong_state|plate/.test(await page.textContent('#msg')), `confirm without the plate read refused: ${await page.textContent('#msg')}`);
    check((await stateOf(page)) === 'awaiting_transport_review', 'state unchanged after the refusal');
    await page.fill('#decide input[name=plate]', human.true_plate);
    const before = await page.textContent('#msg');
    await page.click('#decide button[data-key=p]');
    await page.waitForFunction((b) => document.querySelector('#msg').textContent !== b, before);
    check((await page.textContent('#msg')) === 'plate saved', `plate saved: ${await page.textContent('#msg')}`);
    await page.waitForSelector('#state');
    await page.click('#decide button[data-key=c]');
    await backInQueue(page, human.case_id, 'awaiting_police_review');
    await shot(page, '03-transport-queue-after-confirm');

    // Keyboard: confirm with "c" on the two other G001 cases.
    for (const c of [fine, warn]) {
      await openCase(page, c.case_id);
      await page.keyboard.press('c');
      await backInQueue(page, c.case_id, 'awaiting_police_review');
    }
    check(true, 'two cases confirmed with the c key');
    // Overdue: the stage deadline of this case set 2 h back in cases.db (the collector has
    // no clock control; Review reads the stored deadline at each action).
    otherDeadlineUs = (nowS - 7200) * 1e6;
    run('sqlite3', ['-cmd', '.timeout 5000', path.join(dir, 'data', 'cases.db'),
      `UPDATE review_queue SET stage_deadline_unix_us=${otherDeadlineUs} WHERE case_id='${other.case_id}'`]);
    // Reject needs a reason.
    await openCase(page, other.case_id);
    await page.click('#decide button[data-key=r]');
    await page.waitForSelector('#msg:not([hidden])');
    check((await stateOf(page)) === 'awaiting_transport_review', `reject without a reason refused: ${await page.textContent('#msg')}`);
    await page.fill('#decide textarea[name=reason]', 'vehicle is a permitted abnormal load (permit 2026-118)');
    await page.click('#decide button[data-key=r]');
    await backInQueue(page, other.case_id, 'rejected');
    check(await page.textContent('#view').then((t) => t.includes('No case waits')), 'transport queue empty');

    // What a transport reviewer may not do: the API refuses.
    const d = await apiAs(page, 'POST', `/api/cases/${fine.case_id}/decide`, { kind: 'fine' });
    check(d.status === 403 && d.body?.error === 'forbidden', `transport may not decide a penalty (${d.status} ${d.body?.error})`);
    const u = await apiAs(page, 'GET', '/api/users');
    check(u.status === 403, `transport may not list users (${u.status})`);
    const q = await apiAs(page, 'GET', '/api/cases?queue=police');
    check(q.status === 403, `transport may not read the police queue (${q.status})`);
    for (const [u, what] of [['/api/deliveries', 'delivery'], ['/api/retention', 'retention']]) {
      const x = await apiAs(page, 'GET', u);
      check(x.status === 403 && x.body?.detail === `transport_reviewer may not read the ${what} status (needs supervisor or operator)`,
        `transport may not read ${u} (${x.status} ${x.body?.detail})`);
    }
  });

  // ---- police reviewer ---------------------------------------------------------------------
  await asRole('po1', async (page) => {
    await page.waitForSelector('#queue');
    const ids = await page.$$eval('#queue tr[data-id]', (trs) => trs.map((tr) => tr.dataset.id));
    check(ids.length === 3 && !ids.includes(other.case_id), `police queue: the 3 confirmed cases, not the rejected one (${ids})`);
    const dl = await page.$$eval('#queue tr[data-id] td:nth-child(5)', (tds) => tds.map((t) => t.textContent));
    ids.forEach((id, i) => { deadlines[`police ${id}`] = dl[i]; });
    const hours = dl.map((d) => (Date.parse(d.replace(' OVERDUE', '')) - nowS * 1000) / 3600e3);
    check(hours.every((h) => h > policeH - 0.25 && h < policeH + 0.25), `police deadlines ${policeH} h after confirmation: ${hours.map((h) => h.toFixed(2))}`);
    await shot(page, '04-police-queue');

    await openCase(page, fine.case_id);
    const keys = await buttons(page);
    check(['f', 'w', 'n', 't'].every((k) => keys.includes(k)) && !['c', 'r', 'p'].some((k) => keys.includes(k)),
      `police case page: decision buttons only (${keys})`);
    check(await page.$('#decide input[name=plate]') === null, 'police has no plate field');
    // A warning is refused above 1 000 kg of excess.
    await page.click('#decide button[data-key=w]');
    await page.waitForSelector('#msg:not([hidden])');
    check((await stateOf(page)) === 'awaiting_police_review', `warning for ${fine.excess_kg} kg over refused: ${await page.textContent('#msg')}`);
    await page.click('#decide button[data-key=f]');
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'penalty_decided');
    const expectYuan = Math.min(30000, Math.floor(fine.excess_kg / 1000) * 500);
    check((await page.textContent('#view')).includes(`fine ${expectYuan} yuan`), `fine of ${expectYuan} yuan shown (${fine.excess_kg} kg over)`);
    await shot(page, '05-police-decided');
    await page.click('#decide button[data-key=x]');
    await backInQueue(page, fine.case_id, 'closed');

    // Keyboard: a warning (800 kg over) with "w", closed with "x".
    await openCase(page, warn.case_id);
    await page.keyboard.press('w');
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'penalty_decided');
    await page.keyboard.press('x');
    await backInQueue(page, warn.case_id, 'closed');
    check(true, `warning (${warn.excess_kg} kg over) decided and closed by keyboard`);
    // Return the human-read case with a reason.
    await openCase(page, human.case_id);
    await page.fill('#decide textarea[name=reason]', 'plate photo unreadable in glare: check against the overview frame');
    await page.click('#decide button[data-key=t]');
    await backInQueue(page, human.case_id, 'returned_to_transport');

    const c = await apiAs(page, 'POST', `/api/cases/${other.case_id}/confirm`, {});
    check(c.status === 403 && c.body?.error === 'forbidden', `police may not confirm (transport's stage) (${c.status})`);
    const p = await apiAs(page, 'POST', `/api/cases/${human.case_id}/plate`, { plate: '苏A00000' });
    check(p.status === 403, `police may not change a plate (${p.status})`);
    const s = await apiAs(page, 'GET', '/api/stations');
    check(s.status === 403, `police may not read stations (${s.status})`);
  });

  // ---- operator: stations and statistics, no case and no plate ------------------------------
  await asRole('op1', async (page) => {
    await page.waitForSelector('#stations');
    const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.textContent));
    check(JSON.stringify(nav) === JSON.stringify(['Stations', 'Statistics']), `operator nav ${JSON.stringify(nav)}`);
    const ids = await page.$$eval('#stations tr td:first-child', (tds) => tds.map((t) => t.textContent));
    check(ids.includes('G001') && ids.includes('G002'), `stations table ${ids}`);
    // Deliveries: wait until the transition webhook took all 10 entries (plate read, 3
    // confirms, reject; 2 decides, 2 closes, return), then reload the page.
    let del = null;
    for (let i = 0; i < 100; ++i) {
      del = (await apiAs(page, 'GET', '/api/deliveries')).body;
      if (del?.transition_webhook?.backlog === 0 && del.case_sinks.every((x) => x.pending === 0)) break;
      await sleep(100);
    }
    check(transitionsIn.length === 10 && transitionsIn.map((e) => e.seq).join() === '1,2,3,4,5,6,7,8,9,10',
      `the transition receiver got seq 1..10 in order (${transitionsIn.map((e) => e.seq)})`);
    await page.reload();
    await page.waitForSelector('#deliveries');
    const sinkRow = (name) => page.$$eval(`#deliveries tr[data-sink=${name}] td`, (tds) => tds.map((t) => t.textContent));
    const spool = await sinkRow('spool'), hook = await sinkRow('webhook');
    // Sink, State, Backlog, Pending, Retrying, Delivered, Oldest waiting, Last error, Next try
    check(JSON.stringify(spool) === JSON.stringify(['spool', 'delivered', '0', '0', '0', '4', '—', '', '—']),
      `spool sink row: ${JSON.stringify(spool)}`);
    check(hook.slice(0, 6).join() === 'webhook,failing,4,0,4,0' && hook[7] === `connect to 127.0.0.1:${deadPort}/cases: Connection refused`,
      `webhook sink row (dead port ${deadPort}): ${JSON.stringify(hook)}`);
    const oldest = del.case_sinks.find((x) => x.sink === 'webhook').oldest_waiting_utc;
    check(hook[6] === oldest && Math.abs(Date.parse(oldest) / 1000 - nowS) < 300 && Date.parse(hook[8]) > Date.parse(oldest),
      `webhook: oldest waiting ${hook[6]} (the cases came at the start), next try ${hook[8]}`);
    check(await page.$eval('#deliveries tr[data-sink=webhook] td:nth-child(2)', (t) => t.className) === 'bad', 'failing sink in red');
    const tw = await page.textContent('#transitions');
    check(tw === 'Review transitions webhook: delivered — 0 audit entries waiting (delivered up to seq 10 of 10)',
      `transitions line: ${tw}`);
    const ret = Object.fromEntries(await page.$$eval('#retention tr', (trs) => trs.map((tr) => [tr.dataset.k, tr.cells[1].textContent])));
    const r = (await apiAs(page, 'GET', '/api/retention')).body;
    check(ret.days === `${retentionDays} days` && ret.result === 'ok' && ret.last_run === r.last_run_utc
      && Math.abs(Date.parse(r.last_run_utc) / 1000 - nowS) < 300
      && Date.parse(r.next_run_utc) - Date.parse(r.last_run_utc) === 3600e3 && ret.next_run === r.next_run_utc,
      `retention: ${JSON.stringify(ret)}`);
    check(ret.last_counts === '0 cases, 0 files / 0 bytes removed' && ret.all_time === '0 cases, 0 images / 0 bytes removed',
      'retention: nothing removed (every case ended today)');
    check(ret.spool === '0 rewritten without images all time; last run 0', `retention spool line: ${ret.spool}`);
    const stationsHtml = await page.content();
    check(cases.every((c) => !stationsHtml.includes(c.plate) && !stationsHtml.includes(c.true_plate) && !stationsHtml.includes(c.case_id)),
      'no plate and no case id in the operator\'s stations page');
    await shot(page, '06-operator-stations');
    await page.goto(`${base}/#/stats`);
    await page.waitForSelector('#by-state');
    const closed = await page.textContent('#by-state td[data-state=closed]').catch(() => null);
    check(closed === '2', `statistics count the 2 closed cases (${closed})`);
    const today = new Date(nowS * 1000).toISOString().slice(0, 10);
    const city = await page.$$eval('#per-point tr', (trs, d) => trs.filter((tr) => tr.cells[0].textContent === d && tr.cells[1].textContent === 'city')
      .map((tr) => [...tr.cells].map((c) => c.textContent)), today);
    // 12 vehicles (4 violations + 8 passes).
    check(city.length === 1 && city[0][2] === '12' && city[0][3] === '4', `today's city line: ${JSON.stringify(city)}`);
    const html = await page.content();
    check(cases.every((c) => !html.includes(c.plate) && !html.includes(c.true_plate)), 'no plate anywhere in the operator pages');
    await shot(page, '07-operator-stats');
    const q = await apiAs(page, 'GET', '/api/cases?queue=transport');
    check(q.status === 403, `operator may not read a queue (${q.status})`);
    const one = await apiAs(page, 'GET', `/api/cases/${fine.case_id}`);
    check(one.status === 403, `operator may not open a case (${one.status})`);
    await page.goto(`${base}/#/case/${fine.case_id}`);
    await page.waitForSelector('#error');
    check(await page.$('#decide') === null, 'operator: the case page shows the refusal, no decision form');
  });

  // ---- supervisor: the trail and the returned case in the transport queue -------------------
  await asRole('su1', async (page) => {
    await openCase(page, fine.case_id);
    const history = async () => page.$$eval('#history tr[data-seq]', (trs) => trs.map((tr) => {
      const td = [...tr.cells].map((c) => c.textContent);
      return { action: td[2], deadline_utc: td[6], deadline: td[7] };
    }));
    const h = await history();
    const tdl = deadlines[`transport ${fine.case_id}`], pdl = deadlines[`police ${fine.case_id}`];
    check(JSON.stringify(h) === JSON.stringify([{ action: 'confirm', deadline_utc: tdl, deadline: 'met' },
      { action: 'decide:fine', deadline_utc: pdl, deadline: 'met' }, { action: 'close', deadline_utc: pdl, deadline: 'met' }]),
    `history of the fined case, each stage's deadline as its queue showed it: ${JSON.stringify(h)}`);
    await openCase(page, other.case_id);
    const ho = await history();
    const e = (await apiAs(page, 'GET', `/api/cases/${other.case_id}`)).body.history[0];
    const late = Math.ceil((e.time_unix_us - otherDeadlineUs) / 1e6);
    const fmt = (x) => [Math.floor(x / 3600) ? `${Math.floor(x / 3600)} h` : '', Math.floor((x % 3600) / 60) ? `${Math.floor((x % 3600) / 60)} min` : '']
      .filter(Boolean).join(' ') || `${x} s`;
    check(e.stage_deadline_unix_us === otherDeadlineUs && e.overdue_working_s === late && late >= 7200 && late < 7500,
      `rejected case: the API's deadline ${e.stage_deadline_utc}, overdue by ${e.overdue_working_s} s (expected ${late})`);
    check(JSON.stringify(ho) === JSON.stringify([{ action: 'reject', deadline_utc: e.stage_deadline_utc,
      deadline: `overdue by ${fmt(late)} of working time` }]), `history of the rejected case: ${JSON.stringify(ho)}`);
    check(await page.$eval('#history tr[data-seq] td:nth-child(8)', (t) => t.className) === 'overdue', 'overdue in red');
    await shot(page, '09-supervisor-overdue-history');
    await openCase(page, fine.case_id);
    check((await buttons(page)).length === 0 && (await page.$('#decide textarea')) === null, 'supervisor: no decision button, no reason field');
    check((await page.$('#deadline')) === null, 'a closed case shows no deadline');
    await shot(page, '08-supervisor-case-history');
    await page.goto(`${base}/#/queue/transport`);
    await page.waitForSelector('#queue');
    const states = await page.$$eval('#queue tr[data-id] td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
    check(JSON.stringify(states) === JSON.stringify(['returned_to_transport']), `transport queue now: ${states}`);
    const d = await apiAs(page, 'POST', `/api/cases/${human.case_id}/reject`, { reason: 'x' });
    check(d.status === 403, `supervisor is read-only (${d.status})`);
    await page.goto(`${base}/#/stations`);
    await page.waitForSelector('#retention');
    check((await page.$$eval('#deliveries tr[data-sink]', (t) => t.map((r) => r.dataset.sink))).join() === 'spool,webhook',
      'supervisor sees the delivery status too');
  });
} catch (e) {
  check(false, `exception: ${e.stack || e}`);
} finally {
  if (browser) await browser.close();
  collector.kill('SIGTERM');
  receiver.close();
  await new Promise((r) => (collector.exitCode !== null ? r() : collector.on('exit', r)));
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`workbench_browser: ${failures ? `${failures} FAILED` : 'all passed'} in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${out}`);
process.exit(failures ? 1 : 0);
