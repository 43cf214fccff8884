// End-to-end CDS Hooks 2.0 test of a running `leuko serve` (started by scripts/cds-interop.sh
// in strict JWT mode) with npm @medplum/core as the CDS client:
//
// - MedplumClient.getCdsServices() does discovery against leuko's /cds-services;
// - buildCdsRequest() builds each hook request, filling every prefetch template from a small
//   FHIR server run here (it reads `Patient/{id}` and searches through the MedplumClient);
// - MedplumClient.callCdsService() calls both services;
// - feedback is POSTed with fetch (MedplumClient has no feedback helper);
// - every request to leuko carries an ES384 JWT signed here (node:crypto), with a fresh jti.
//
// Environment: LEUKO_BASE (leuko's URL), CDS_KEY (PKCS#8 PEM path), CDS_ISS, CDS_KID,
// FHIR_PORT (the port for the FHIR server), OUT (a directory for the answers, checked against
// the JSON Schema afterwards). Prints one line per check and `cds-interop: N passed, M failed`.

import { buildCdsRequest, MedplumClient } from '@medplum/core';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';

const base = process.env.LEUKO_BASE;
const key = createPrivateKey(readFileSync(process.env.CDS_KEY));
const iss = process.env.CDS_ISS;
const kid = process.env.CDS_KID;
const out = process.env.OUT;
const fhirPort = Number(process.env.FHIR_PORT);
const FHIR_TOKEN = 'fhir-access-token-for-leuko';

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail).slice(0, 600)}`}`);
  }
}

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** A CDS client JWT for the endpoint `path` (CDS Hooks 2.0 "Trusting CDS Clients"). */
function jwt(path, claims = {}) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: 'ES384', typ: 'JWT', kid });
  const body = b64({ iss, aud: `${base}${path}`, exp: now + 300, iat: now, jti: randomUUID(), ...claims });
  const sig = sign('sha384', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${head}.${body}.${sig.toString('base64url')}`;
}
const auth = (path, claims) => ({ headers: { Authorization: `Bearer ${jwt(path, claims)}` } });

// ------------------------------------------------------------------ the FHIR server
const hoursAgo = (h) => new Date(Date.now() - h * 3600e3).toISOString();
const PATIENT = { resourceType: 'Patient', id: 'pv-1', gender: 'female', birthDate: '1970-05-01' };
const obs = (id, loinc, value, unit, h) => ({
  resourceType: 'Observation', id, status: 'final', subject: { reference: 'Patient/pv-1' },
  code: { coding: [{ system: 'http://loinc.org', code: loinc }] }, effectiveDateTime: hoursAgo(h),
  valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
});
const searchset = (resources) => ({
  resourceType: 'Bundle', type: 'searchset', total: resources.length,
  entry: resources.map((r) => ({ fullUrl: `http://127.0.0.1:${fhirPort}/fhir/R4/${r.resourceType}/${r.id}`, resource: r })),
});
const COUNTS = [obs('wbc', '6690-2', 1.9, '10*9/L', 2), obs('anc', '751-8', 0.3, '10*9/L', 2)];
const TEMPERATURE = [obs('temp', '8310-5', 38.9, 'Cel', 1)];
const fhirSeen = [];
const fhir = http.createServer((req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${fhirPort}`);
  fhirSeen.push({ path: url.pathname, auth: req.headers.authorization ?? '' });
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify(body));
  };
  const codes = url.searchParams.get('code') ?? '';
  if (url.pathname === '/fhir/R4/Patient/pv-1') return send(200, PATIENT);
  if (url.pathname === '/fhir/R4/Observation' && url.searchParams.get('patient') === 'pv-1') {
    return send(200, searchset(codes.includes('8310-5') ? TEMPERATURE : COUNTS));
  }
  if (url.pathname === '/fhir/R4/MedicationRequest' || url.pathname === '/fhir/R4/Condition') {
    return send(200, searchset([]));
  }
  return send(404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
});
await new Promise((ok) => fhir.listen(fhirPort, '127.0.0.1', ok));

const medplum = new MedplumClient({
  baseUrl: `http://127.0.0.1:${fhirPort}/`,
  cdsServicesUrl: `${base}/cds-services`,
  fetch: globalThis.fetch,
  cacheTime: 0,
  maxRetries: 0,
});
const user = { resourceType: 'Practitioner', id: 'dr-1' };
const save = (name, value) => writeFileSync(`${out}/${name}.json`, JSON.stringify(value, null, 2));

try {
  // ---------------------------------------------------------------- discovery
  const discovery = await medplum.getCdsServices(auth('/cds-services'));
  save('discovery', discovery);
  const services = discovery.services ?? [];
  check('discovery lists patient-view and order-select', services.map((s) => s.hook).join(',') === 'patient-view,order-select', discovery);
  const pv = services.find((s) => s.hook === 'patient-view');
  const os = services.find((s) => s.hook === 'order-select');

  // ---------------------------------------------------------------- patient-view
  const pvRequest = await buildCdsRequest(medplum, user, pv, { patientId: 'pv-1', userId: 'Practitioner/dr-1' });
  check('buildCdsRequest filled every prefetch key from the FHIR server',
    Object.keys(pv.prefetch).every((k) => k in pvRequest.prefetch) && pvRequest.prefetch.patient?.id === 'pv-1'
      && pvRequest.prefetch.counts?.entry?.length === 2, pvRequest.prefetch);
  const pvResponse = await medplum.callCdsService(pv.id, pvRequest, auth(`/cds-services/${pv.id}`));
  save('patient-view', pvResponse);
  const card = pvResponse.cards?.[0];
  check('patient-view: fever with ANC 0.3 is one critical card', pvResponse.cards?.length === 1 && card?.indicator === 'critical', pvResponse);
  check('patient-view: summary under 140 characters', typeof card?.summary === 'string' && [...card.summary].length < 140, card?.summary);
  check('patient-view: blood cultures suggested', (card?.suggestions ?? []).some((s) => s.label === 'Order blood cultures'), card?.suggestions);

  // The same hook without patient and counts in the prefetch: leuko reads them from the
  // FHIR server with the fhirAuthorization bearer token.
  const before = fhirSeen.length;
  const partial = {
    ...pvRequest,
    hookInstance: randomUUID(),
    fhirServer: `http://127.0.0.1:${fhirPort}/fhir/R4`,
    fhirAuthorization: { access_token: FHIR_TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'user/Patient.read user/Observation.read', subject: 'leuko' },
    prefetch: { temperature: pvRequest.prefetch.temperature, medications: null, conditions: null },
  };
  const fetched = await medplum.callCdsService(pv.id, partial, auth(`/cds-services/${pv.id}`));
  save('patient-view-fetched', fetched);
  const leukoReads = fhirSeen.slice(before);
  check('missing prefetch read from fhirServer with the bearer token',
    leukoReads.length === 2 && leukoReads.every((r) => r.auth === `Bearer ${FHIR_TOKEN}`), leukoReads);
  check('the cards from fetched data are the same', fetched.cards?.[0]?.indicator === 'critical' && fetched.cards?.[0]?.summary === card?.summary, fetched);

  // ---------------------------------------------------------------- order-select
  const draftOrders = {
    resourceType: 'Bundle', type: 'collection',
    entry: [{ resource: {
      resourceType: 'MedicationRequest', id: 'mr-1', status: 'draft', intent: 'order',
      subject: { reference: 'Patient/pv-1' },
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '2626', display: 'clozapine' }], text: 'clozapine' },
    } }],
  };
  const osRequest = await buildCdsRequest(medplum, user, os, {
    patientId: 'pv-1', userId: 'Practitioner/dr-1', selections: ['MedicationRequest/mr-1'], draftOrders,
  });
  const osResponse = await medplum.callCdsService(os.id, osRequest, auth(`/cds-services/${os.id}`));
  save('order-select', osResponse);
  const orderCard = (osResponse.cards ?? []).find((c) => c.summary.startsWith('clozapine ordered'));
  check('order-select: a clozapine card with the last ANC', orderCard !== undefined && orderCard.summary.includes('ANC 0.3'), osResponse);
  check('order-select: clozapine ANC category in the detail', orderCard?.detail?.includes('Clozapine ANC category'), orderCard?.detail);

  // ---------------------------------------------------------------- feedback
  const feedbackUrl = `${base}/cds-services/${pv.id}/feedback`;
  const suggestion = card?.suggestions?.[0]?.uuid;
  const feedback = { feedback: [{ card: card?.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: suggestion }], outcomeTimestamp: new Date().toISOString() }] };
  const post = (body, path = `/cds-services/${pv.id}/feedback`, headers = auth(path).headers) =>
    fetch(feedbackUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  let r = await post(feedback);
  check('feedback accepted: 200', r.status === 200, `${r.status} ${await r.text()}`);
  r = await post(feedback);
  check('the same feedback again: 200 (stored once)', r.status === 200, `${r.status}`);
  r = await post({ feedback: [{ card: card?.uuid, outcome: 'overridden', overrideReason: { reason: card?.overrideReasons?.[1], userComment: 'spoke to haematology' }, outcomeTimestamp: new Date().toISOString() }] });
  check('feedback overridden with a reason: 200', r.status === 200, `${r.status} ${await r.text()}`);

  // ---------------------------------------------------------------- strict mode
  const call = (headers) => fetch(`${base}/cds-services/${pv.id}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(pvRequest) });
  const refused = async (name, headers, claim) => {
    const res = await call(headers);
    const doc = await res.json().catch(() => null);
    check(`strict: ${name} is 401 naming ${claim}`, res.status === 401 && doc?.error?.field === claim, `${res.status} ${JSON.stringify(doc)}`);
  };
  await refused('no token', {}, 'Authorization');
  await refused('a token for another endpoint', auth(`/cds-services/${os.id}`).headers, 'aud');
  await refused('an expired token', auth(`/cds-services/${pv.id}`, { exp: Math.floor(Date.now() / 1000) - 600 }).headers, 'exp');
  await refused('an unknown issuer', auth(`/cds-services/${pv.id}`, { iss: 'https://intruder.example.org' }).headers, 'iss');
  const once = auth(`/cds-services/${pv.id}`).headers;
  const first = await call(once);
  check('strict: a good token is served', first.status === 200, `${first.status}`);
  await refused('the same token again', once, 'jti');
  const unsigned = `${b64({ alg: 'none', typ: 'JWT', kid })}.${b64({ iss, aud: `${base}/cds-services/${pv.id}` })}.`;
  await refused('alg none', { Authorization: `Bearer ${unsigned}` }, 'alg');
  const metrics = await (await fetch(`${base}/metrics`)).text();
  check('rejections are counted in /metrics', /leuko_cds_auth_total\{result="rejected",claim="jti"\} 1/.test(metrics), metrics.split('\n').filter((l) => l.includes('cds_auth')).join('\n'));
} catch (e) {
  check('no exception', false, e?.stack ?? String(e));
} finally {
  fhir.close();
}
console.log(`cds-interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
