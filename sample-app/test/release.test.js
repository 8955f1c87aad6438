'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { resolveRelease, APP_ROOT } = require('../src/app');

function appDir({ pkg, release } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sample-app-release-'));
  if (pkg !== undefined) {
    fs.writeFileSync(path.join(dir, 'package.json'), typeof pkg === 'string' ? pkg : JSON.stringify(pkg));
  }
  if (release !== undefined) {
    fs.writeFileSync(path.join(dir, 'release.json'), typeof release === 'string' ? release : JSON.stringify(release));
  }
  return dir;
}

const dirs = [];
function makeDir(spec) {
  const dir = appDir(spec);
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('resolveRelease', () => {
  test('APP_VERSION wins over release.json and package.json', () => {
    const appRoot = makeDir({ pkg: { version: '1.0.0' }, release: { version: '1.0.0+abc', commit: 'abcdef' } });
    const r = resolveRelease({ env: { APP_VERSION: '9.9.9' }, appRoot });
    expect(r).toEqual({ version: '9.9.9', commit: 'abcdef', source: 'env', warnings: [] });
  });

  test('release.json is used when APP_VERSION is unset or blank', () => {
    const appRoot = makeDir({ pkg: { version: '1.0.0' }, release: { version: '1.0.0+abc1234', commit: 'abc1234ffff' } });
    expect(resolveRelease({ env: {}, appRoot })).toEqual({
      version: '1.0.0+abc1234', commit: 'abc1234ffff', source: 'release.json', warnings: [],
    });
    expect(resolveRelease({ env: { APP_VERSION: '  ' }, appRoot }).version).toBe('1.0.0+abc1234');
  });

  test('release.json commit wins over APP_COMMIT', () => {
    const appRoot = makeDir({ pkg: { version: '1.0.0' }, release: { version: '1.0.0+a', commit: 'from-file' } });
    expect(resolveRelease({ env: { APP_COMMIT: 'from-env' }, appRoot }).commit).toBe('from-file');
  });

  test('package.json version and APP_COMMIT without release.json', () => {
    const appRoot = makeDir({ pkg: { version: '2.3.4' } });
    expect(resolveRelease({ env: { APP_COMMIT: 'deadbeef' }, appRoot })).toEqual({
      version: '2.3.4', commit: 'deadbeef', source: 'package.json', warnings: [],
    });
  });

  test('commit is "unknown" when nobody says', () => {
    const appRoot = makeDir({ pkg: { version: '2.3.4' } });
    expect(resolveRelease({ env: {}, appRoot }).commit).toBe('unknown');
  });

  test('release.json without a version falls back to package.json but keeps its commit', () => {
    const appRoot = makeDir({ pkg: { version: '3.0.0' }, release: { commit: 'c0ffee' } });
    expect(resolveRelease({ env: {}, appRoot })).toMatchObject({ version: '3.0.0', commit: 'c0ffee', source: 'package.json' });
  });

  test('a malformed release.json is ignored with a warning', () => {
    const appRoot = makeDir({ pkg: { version: '4.0.0' }, release: '{not json' });
    const r = resolveRelease({ env: {}, appRoot });
    expect(r.version).toBe('4.0.0');
    expect(r.source).toBe('package.json');
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain('release.json');
  });

  test('a release.json that is not an object is ignored with a warning', () => {
    const appRoot = makeDir({ pkg: { version: '4.0.0' }, release: '["1.0.0"]' });
    const r = resolveRelease({ env: {}, appRoot });
    expect(r.version).toBe('4.0.0');
    expect(r.warnings[0]).toContain('expected a JSON object');
  });

  test('no usable metadata at all gives 0.0.0 and a warning', () => {
    const appRoot = makeDir({});
    const r = resolveRelease({ env: {}, appRoot });
    expect(r).toMatchObject({ version: '0.0.0', commit: 'unknown', source: 'default' });
    expect(r.warnings[0]).toContain('package.json');
  });

  test('defaults read the real app directory', () => {
    expect(APP_ROOT).toBe(path.resolve(__dirname, '..'));
    const pkg = JSON.parse(fs.readFileSync(path.join(APP_ROOT, 'package.json'), 'utf8'));
    const r = resolveRelease({ env: {} });
    if (!fs.existsSync(path.join(APP_ROOT, 'release.json'))) {
      expect(r.version).toBe(pkg.version);
    }
    expect(resolveRelease().version.length).toBeGreaterThan(0);
  });
});
