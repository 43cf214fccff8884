// Browser tests of the leuko web page. Plain Node, no test framework: each test opens a fresh
// page in headless Debian Chromium (driven by playwright-core), acts as a person would, checks
// what the page shows, and saves a screenshot to $SCREENSHOTS/NAME.png (also when it fails).
//
// Started by scripts/browser-tests.sh, which provides the environment:
//   LEUKO_URL    the running `leuko serve` (loopback only)
//   LEUKO_KEY    a write API key for it
//   CHROMIUM     the browser (/usr/bin/chromium); never downloaded through Playwright
//   SCREENSHOTS  the folder for the screenshots
//   SUMMARY      a file that receives "PASSED FAILED" at the end
//   BROWSER_TESTS_ONLY  optional: run only the tests whose name contains this text

import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.LEUKO_URL;
const KEY = process.env.LEUKO_KEY;
const SHOTS = process.env.SCREENSHOTS || 'target/screenshots';
const ONLY = process.env.BROWSER_TESTS_ONLY || '';

if (!BASE || !/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost):\d+$/.test(BASE)) {
  console.error(`LEUKO_URL must be a loopback address, got ${JSON.stringify(BASE)}`);
  process.exit(2);
}

const LAUNCH = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
};

const DAY = 86400000;
const PATIENT_ID = 'demo-patient';

// ------------------------------------------------------------------ tiny harness

const tests = [];
function test(name, fn, opts = {}) {
  tests.push({ name, fn, opts });
}

class CheckFailed extends Error {}

/** Fails the test with `message` unless `cond` holds. */
function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

/** yyyy-mm-dd of now + days, in UTC (the pages run with timezoneId UTC). */
function isoDay(days) {
  return new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
}

function isoTime(days) {
  return new Date(Date.now() + days * DAY).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function text(page, selector) {
  return (await page.locator(selector).first().textContent()) ?? '';
}

/** Waits for a new assessment banner (the old one, if any, is replaced by the renderer). */
async function waitForBanner(page) {
  await page.locator('#triage-banner').waitFor({ state: 'visible' });
  return page.locator('#triage-banner').getAttribute('data-level');
}

async function clickAssess(page) {
  await page.click('#assess-button');
  return waitForBanner(page);
}

/** The febrile chemotherapy case, SI units. */
async function fillSiCase(page) {
  await page.fill('#wbc', '1.1');
  await page.selectOption('#wbc-unit', '10^9/L');
  await page.fill('#anc', '0.4');
  await page.selectOption('#anc-unit', '10^9/L');
  await page.fill('#age', '54');
  await page.selectOption('#sex', 'female');
  await page.fill('#temp', '38.6');
  await page.selectOption('#temp-unit', 'Cel');
  await page.check('#symptom-fever');
  await page.fill('#med-name-0', 'paclitaxel');
  // One infusion ten days ago: started and stopped the same day.
  await page.fill('#med-start-0', isoDay(-10));
  await page.fill('#med-end-0', isoDay(-10));
}

// ------------------------------------------------------------------ the stored patient

/** Month-spaced counts (×10⁹/L) with a dip in the middle, oldest first. */
const HISTORY = [
  { days: -210, wbc: 6.8, anc: 4.1, alc: 1.9 },
  { days: -180, wbc: 6.2, anc: 3.6, alc: 1.8 },
  { days: -150, wbc: 5.1, anc: 2.8, alc: 1.6 },
  { days: -120, wbc: 3.2, anc: 1.1, alc: 1.3 },
  { days: -90, wbc: 3.9, anc: 1.7, alc: 1.4 },
  { days: -60, wbc: 4.6, anc: 2.4, alc: 1.5 },
  { days: -30, wbc: 5.4, anc: 3.0, alc: 1.7 },
];

async function api(method, route, body) {
  const resp = await fetch(`${BASE}${route}`, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await resp.json().catch(() => null);
  if (!resp.ok) throw new Error(`${method} ${route}: ${resp.status} ${JSON.stringify(json)}`);
  return json;
}

async function seedPatient() {
  await api('POST', '/v1/patients', { id: PATIENT_ID, birth_date: '1985-03-14', sex: 'male' });
  const results = [];
  HISTORY.forEach((h, i) => {
    for (const analyte of ['wbc', 'anc', 'alc']) {
      results.push({ id: `${analyte}-${i + 1}`, analyte, value: h[analyte], unit: '10^9/L', at: isoTime(h.days) });
    }
  });
  const medications = [{ id: 'med-clozapine', name: 'clozapine', start: isoDay(-240) }];
  const out = await api('POST', `/v1/patients/${PATIENT_ID}/entries`, { results, medications });
  const want = results.length + medications.length;
  if (out.stored.length !== want) throw new Error(`stored ${out.stored.length} entries, expected ${want}`);
}

// ------------------------------------------------------------------ the tests

test('form-si', async (page) => {
  await fillSiCase(page);
  const level = await clickAssess(page);
  check(level === 'emergency', `banner data-level is ${level}, expected emergency`);
  const first = await page.locator('#causes > li.cause').first().getAttribute('data-id');
  check(first === 'chemotherapy', `first cause is ${first}, expected chemotherapy`);
  const workup = await text(page, '#workup');
  check(/blood cultures/i.test(workup), `the work-up does not mention blood cultures: ${workup.slice(0, 200)}`);
  const banner = await text(page, '#triage-banner');
  check(/emergency/i.test(banner), 'the banner does not say Emergency');
});

test('form-us', async (page) => {
  await page.fill('#wbc', '3100');
  await page.selectOption('#wbc-unit', '/µL');
  await page.fill('#anc', '1200');
  await page.selectOption('#anc-unit', 'cells/mm³');
  await page.fill('#age', '40');
  await page.selectOption('#sex', 'male');
  await page.fill('#temp', '98.6');
  await page.selectOption('#temp-unit', '[degF]');
  const level = await clickAssess(page);
  check(level === 'routine' || level === 'soon', `banner data-level is ${level}, expected routine or soon`);

  // Grades: the counts were converted (3100 /µL = 3.1 ×10⁹/L) and graded.
  const grades = await page.locator('#grades tbody tr').allTextContents();
  check(grades.length >= 2, `expected WBC and ANC grade rows, got ${grades.length}`);
  const wbcRow = grades.find((r) => /White blood cells/.test(r)) || '';
  const ancRow = grades.find((r) => /Neutrophils/.test(r)) || '';
  check(/3\.1\b/.test(wbcRow) && /Grade 1/.test(wbcRow), `WBC grade row: ${wbcRow}`);
  check(/1\.2\b/.test(ancRow) && /Grade 2/.test(ancRow), `ANC grade row: ${ancRow}`);

  // Causes and the explanation, with numbered sources that resolve.
  const causes = await page.locator('#causes > li.cause').count();
  check(causes >= 1, 'no causes listed');
  const statements = page.locator('#explanation > ul.statements > li');
  check((await statements.count()) >= 1, 'the explanation has no statements');
  const cites = await page.locator('#explanation > ul.statements sup.cite a').evaluateAll((as) => as.map((a) => ({
    text: a.textContent,
    target: a.getAttribute('href'),
    resolves: !!document.querySelector(a.getAttribute('href')),
  })));
  check(cites.length >= 1, 'the explanation cites no numbered source');
  for (const c of cites) {
    check(/^\d+$/.test(c.text) && c.target === `#src-${c.text}` && c.resolves, `citation ${JSON.stringify(c)} does not point to its source`);
  }
  const sources = await page.locator('ol.sources > li').count();
  check(sources >= 1, 'the sources list is empty');
  const firstSource = await text(page, '#src-1');
  check(firstSource.trim().length > 5, `source 1 has no citation text: ${firstSource}`);
});

test('input-error', async (page) => {
  await page.fill('#wbc', '4000');
  await page.selectOption('#wbc-unit', '10^9/L');
  await page.click('#assess-button');
  const msg = page.locator('#wbc-error');
  await msg.waitFor({ state: 'visible' });
  const msgText = (await msg.textContent()) ?? '';
  check(/4000/.test(msgText), `the message does not name the value: ${msgText}`);
  check(/implausible/i.test(msgText), `the message does not say why: ${msgText}`);
  check((await page.inputValue('#wbc')) === '4000', 'the typed value is not kept in the field');
  check((await page.getAttribute('#wbc', 'aria-invalid')) === 'true', '#wbc is not aria-invalid');
  const described = (await page.getAttribute('#wbc', 'aria-describedby')) || '';
  check(described.split(/\s+/).includes('wbc-error'), `#wbc is not described by its error (${described})`);
  // Next to the field: inside the same .field box, just below the input.
  const sameField = await page.evaluate(() => document.getElementById('wbc-error').closest('.field') === document.getElementById('wbc').closest('.field'));
  check(sameField, 'the error is not in the WBC field box');
  const input = await page.locator('#wbc').boundingBox();
  const box = await msg.boundingBox();
  check(input && box && box.y >= input.y && box.y - (input.y + input.height) < 120, `the error is not near the field (input ${JSON.stringify(input)}, message ${JSON.stringify(box)})`);
  check(await page.locator('#form-error').isVisible(), 'the error summary is not shown');
  check(await page.locator('#result').isHidden(), 'a result is shown for refused input');
  // Put the field in view for the screenshot.
  await page.locator('#wbc').scrollIntoViewIfNeeded();
});

test('stored-patient', async (page) => {
  await page.click('#tab-patient');
  check(await page.locator('#panel-patient').isVisible(), 'the patient panel did not open');
  await page.fill('#patient-id', PATIENT_ID);
  await page.fill('#api-key', KEY);
  await page.click('#load-patient');
  await page.locator('#patient-view').waitFor({ state: 'visible' });
  const chart = page.locator('#trend-chart');
  await chart.locator('g.serie').first().waitFor();

  // Three series (WBC, ANC, lymphocytes), each a line through one point per stored result.
  for (const cls of ['s-wbc', 's-anc', 's-alc']) {
    const serie = chart.locator(`g.serie.${cls}`);
    check((await serie.count()) === 1, `no ${cls} series in the chart`);
    check((await serie.locator('path.line').count()) === 1, `the ${cls} series has no line`);
    const points = await serie.locator('g.pt').count();
    check(points === HISTORY.length, `${cls}: ${points} points, expected ${HISTORY.length}`);
  }
  check((await chart.locator('path.line').count()) === 3, 'expected exactly 3 series lines');
  // The dip is drawn lower than the first value.
  const ancYs = await chart.locator('g.serie.s-anc .mk').evaluateAll((els) => els.map((e) => Number(e.getAttribute('y')) + Number(e.getAttribute('height')) / 2));
  check(ancYs[3] > ancYs[0], `the ANC dip is not below the first ANC (${ancYs.join(', ')})`);
  // The medicine bar.
  const bars = chart.locator('g.meds rect.med-bar');
  check((await bars.count()) === 1, 'no medicine bar');
  const barWidth = Number(await bars.first().getAttribute('width'));
  check(barWidth > 20, `the medicine bar is only ${barWidth} wide`);
  const medLabel = await chart.locator('g.meds g[role="img"]').first().getAttribute('aria-label');
  check(/clozapine/i.test(medLabel || ''), `the medicine bar is not labelled clozapine: ${medLabel}`);
  check(/clozapine/i.test(await text(page, '#patient-medications')), 'clozapine missing from the medicines list');

  // Assess now: a banner appears, and the stored assessment is listed.
  await page.click('#assess-patient');
  const level = await waitForBanner(page);
  check(['emergency', 'urgent', 'soon', 'routine', 'none'].includes(level), `unexpected level ${level}`);
  await page.locator('#patient-assessments tbody tr').first().waitFor();
  check((await page.locator('#patient-assessments tbody tr').count()) === 1, 'the stored assessment is not listed');
  check(/clozapine/i.test(await text(page, '#result-body')), 'the result does not mention clozapine');
});

test('print-view', async (page) => {
  await fillSiCase(page);
  await clickAssess(page);
  await page.emulateMedia({ media: 'print' });
  for (const sel of ['#assess-form', '#panel-form', '.tabs', '#print-button', '.site-footer']) {
    check(await page.locator(sel).first().isHidden(), `${sel} is visible in print`);
  }
  for (const sel of ['#triage-banner', '#causes', '#workup', '.print-head']) {
    check(await page.locator(sel).first().isVisible(), `${sel} is hidden in print`);
  }
  const firstCause = await page.locator('#causes > li.cause').first().getAttribute('data-id');
  check(firstCause === 'chemotherapy', `first cause in print is ${firstCause}`);
  // emulateMedia does not fire beforeprint; a real print does, and the page then opens the
  // evidence of the causes it describes in full (the first five).
  await page.evaluate(() => window.dispatchEvent(new Event('beforeprint')));
  const open = await page.locator('#causes > li.cause:not(.cause-extra) details.cause-more').evaluateAll((ds) => ds.map((d) => d.open));
  check(open.length === 5 && open.every(Boolean), `evidence open in print: ${JSON.stringify(open)}`);
  check(/Printed /.test(await text(page, '#print-date')), 'no print date');
}, { fullPage: true });

test('keyboard', async (page) => {
  await page.fill('#wbc', '1.1');
  await page.fill('#anc', '0.4');
  await page.fill('#temp', '38.6');
  await page.check('#symptom-fever');
  await page.focus('#wbc');
  let presses = 0;
  while (presses < 200) {
    const id = await page.evaluate(() => document.activeElement && document.activeElement.id);
    if (id === 'assess-button') break;
    await page.keyboard.press('Tab');
    presses += 1;
  }
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  check(focused === 'assess-button', `Tab did not reach the assess button (focus on ${focused} after ${presses} presses)`);
  await page.keyboard.press('Enter');
  const level = await waitForBanner(page);
  check(level === 'emergency', `level ${level}, expected emergency`);
  // The aria-live region announces the level (the page keeps focus where it was).
  await page.waitForFunction(() => /^Result: /.test(document.getElementById('live').textContent));
  const live = await text(page, '#live');
  const role = await page.getAttribute('#live', 'role');
  const ariaLive = await page.getAttribute('#live', 'aria-live');
  check(/Result: Emergency/.test(live), `the live region says: ${live}`);
  check(role === 'status' && ariaLive === 'polite', `the live region is role=${role} aria-live=${ariaLive}`);
  const focusInfo = await page.evaluate(() => ({
    id: document.activeElement && document.activeElement.id,
    inResult: !!(document.activeElement && document.activeElement.closest('#result')),
  }));
  console.log(`    (${presses} Tab presses from #wbc; after submit focus is on #${focusInfo.id}${focusInfo.inResult ? ', inside the result' : ''}; live: "${live}")`);
  // A visible focus indicator on the button, for the screenshot.
  await page.focus('#assess-button');
  const outline = await page.evaluate(() => {
    const cs = getComputedStyle(document.getElementById('assess-button'));
    return `${cs.outlineStyle} ${cs.outlineWidth}|${cs.boxShadow}`;
  });
  check(!/^none 0px\|none$/.test(outline), `the focused assess button has no visible focus style (${outline})`);
}, { fullPage: false });

test('phone-width', async (page) => {
  await fillSiCase(page);
  await clickAssess(page);
  await page.waitForTimeout(400); // the smooth scroll to the banner
  const m = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    wide: Array.from(document.querySelectorAll('#result *'))
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className && e.className.baseVal === undefined ? e.className : ''}`),
  }));
  check(m.innerWidth === 390, `viewport is ${m.innerWidth}`);
  check(m.scrollWidth <= m.innerWidth, `horizontal scroll: scrollWidth ${m.scrollWidth} > ${m.innerWidth}; wide: ${m.wide.join(', ')}`);
}, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, fullPage: true });

test('phone-width-patient', async (page) => {
  await page.click('#tab-patient');
  await page.fill('#patient-id', PATIENT_ID);
  await page.fill('#api-key', KEY);
  await page.click('#load-patient');
  await page.locator('#trend-chart g.serie').first().waitFor();
  await page.click('#assess-patient');
  await waitForBanner(page);
  await page.waitForTimeout(400);
  const m = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    chart: document.getElementById('trend-chart').getBoundingClientRect().right,
  }));
  check(m.scrollWidth <= m.innerWidth, `horizontal scroll: scrollWidth ${m.scrollWidth} > ${m.innerWidth}`);
  check(m.chart <= m.innerWidth, `the chart overflows: right edge ${m.chart} > ${m.innerWidth}`);
}, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, fullPage: true });

// ------------------------------------------------------------------ run

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  let passed = 0;
  let failed = 0;
  const writeSummary = () => {
    if (process.env.SUMMARY) fs.writeFileSync(process.env.SUMMARY, `${passed} ${failed}\n`);
  };

  try {
    await seedPatient();
  } catch (err) {
    console.error(`seeding the stored patient failed: ${err.message}`);
    failed += 1;
  }

  const browser = await chromium.launch(LAUNCH);
  console.log(`chromium ${browser.version()}, ${BASE}`);
  try {
    for (const t of tests) {
      if (ONLY && !t.name.includes(ONLY)) continue;
      const context = await browser.newContext({
        viewport: t.opts.viewport || { width: 1280, height: 900 },
        isMobile: t.opts.isMobile || false,
        hasTouch: t.opts.hasTouch || false,
        locale: 'en-GB',
        timezoneId: 'UTC',
        reducedMotion: 'reduce',
      });
      const page = await context.newPage();
      page.setDefaultTimeout(10000);
      const pageErrors = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      const started = Date.now();
      let error = null;
      try {
        await page.goto(`${BASE}/`, { waitUntil: 'load' });
        await page.locator('#wbc-unit option').first().waitFor({ state: 'attached' }); // app.js ran
        await t.fn(page);
        check(pageErrors.length === 0, `uncaught errors in the page: ${pageErrors.join('; ')}`);
      } catch (err) {
        error = err;
      }
      const shot = path.join(SHOTS, `${t.name}.png`);
      try {
        await page.screenshot({ path: shot, fullPage: t.opts.fullPage ?? true });
      } catch (err) {
        console.log(`    (screenshot failed: ${err.message})`);
      }
      await context.close();
      const ms = Date.now() - started;
      if (error) {
        failed += 1;
        console.log(`not ok - ${t.name} (${ms} ms) ${shot}`);
        console.log(`    ${error instanceof CheckFailed ? error.message : (error.stack || String(error)).split('\n').slice(0, 6).join('\n    ')}`);
      } else {
        passed += 1;
        console.log(`ok - ${t.name} (${ms} ms) ${shot}`);
      }
      writeSummary();
    }
    if (passed + failed === 0) {
      failed += 1;
      console.log(`not ok - no test matches ${JSON.stringify(ONLY)}`);
    }
  } finally {
    await browser.close();
    writeSummary();
  }
  return failed === 0 ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (err) => {
  console.error(err.stack || String(err));
  process.exitCode = 1;
});
