'use strict';
// types.test.js: the shipped TypeScript declarations: a typed usage
// example (test/types) compiles with tsc --noEmit, including lines that
// must not; the declared library options are exactly the library's
// option table (pp_options_json): names, scopes and types; and the tests'
// Python reader passes mypy --strict.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const native = require('../lib/native');
const { PACKAGE_DIR } = require('./helpers');

test('tsc --noEmit over the typed usage example', { timeout: 120000 }, () => {
  const tsc = require.resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '-p', path.join(__dirname, 'types')],
      { cwd: PACKAGE_DIR, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

test('the declared options are the library option table, with their scopes and types', () => {
  const table = native.optionTable();
  assert.ok(table.length > 10);
  const dts = fs.readFileSync(path.join(PACKAGE_DIR, 'index.d.ts'), 'utf8');
  const aliases = new Map([...dts.matchAll(/^export type (\w+) = (.*);$/gm)].map((m) => [m[1], m[2]]));
  const tsType = {
    string: () => 'string',
    integer: () => 'Int',
    milliseconds: () => 'Int',
    boolean: () => 'boolean',
    object: () => 'Record<string, string>',
    enum: (o) => o.values.map((v) => `'${v}'`).join(' | '),
    schema: () => 'SchemaType | SchemaObject',
  };
  for (const [scope, name] of [['client', 'ClientLibraryOptions'], ['producer', 'ProducerLibraryOptions']]) {
    const body = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`).exec(dts)[1];
    const declared = new Map([...body.matchAll(/^\s+(\w+)\?: (.*);$/gm)].map((m) => [m[1], m[2]]));
    const rows = table.filter((o) => o.scope === scope);
    assert.deepEqual([...declared.keys()].sort(), rows.map((o) => o.name).sort(), name);
    for (const o of rows) {
      const d = declared.get(o.name);
      assert.equal(d === 'Int' ? d : aliases.get(d) || d, tsType[o.type](o), `the declared type of ${o.name} (${o.type})`);
    }
  }
});

test('the Python reader of the tests (test/pyconsume.py) passes mypy --strict', { timeout: 120000 }, (t) => {
  const mypy = path.join(PACKAGE_DIR, '..', '..', 'build', 'pyenv', 'bin', 'mypy');
  if (!fs.existsSync(mypy)) {
    t.skip(`no ${mypy} (tests/run.sh installs mypy into build/pyenv)`);
    return;
  }
  const cache = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'pp-mypy-'));
  t.after(() => fs.rmSync(cache, { recursive: true, force: true }));
  try {
    execFileSync(mypy, ['--strict', '--cache-dir', cache, path.join(__dirname, 'pyconsume.py')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail(`mypy failed:\n${e.stdout}${e.stderr}`);
  }
});
