// Archive checks for the plugin zip, run when @grafana/plugin-validator cannot be: its npm
// package downloads its binary from GitHub releases and its Go module is refused by the proxy on
// this machine. Checks a subset of what the validator checks (archive layout, plugin.json
// metadata, backend executable, module.js, docs), from the validator's rules as published.
// Usage: node scripts/validate.mjs <plugin.zip>
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const zip = process.argv[2];
if (!zip) {
  console.error('usage: node scripts/validate.mjs <plugin.zip>');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'spacepulse-validate-'));
execFileSync('unzip', ['-q', zip, '-d', dir]);
const problems = [];
const check = (ok, msg) => ok || problems.push(msg);

const top = readdirSync(dir);
check(top.length === 1, `archive: want one top-level folder (the plugin id), got ${top.join(', ')}`);
const root = join(dir, top[0]);
const meta = JSON.parse(readFileSync(join(root, 'plugin.json'), 'utf8'));
check(top[0] === meta.id, `archive: top folder ${top[0]} is not the plugin id ${meta.id}`);
check(/^[a-z0-9]+-[a-z0-9]+-(datasource|panel|app)$/.test(meta.id), `plugin.json: id ${meta.id} is not <org>-<name>-<type>`);
check(meta.type === 'datasource' && meta.id.endsWith('-datasource'), 'plugin.json: type and id suffix must agree');
check(/^\d+\.\d+\.\d+/.test(meta.info?.version ?? ''), `plugin.json: version ${meta.info?.version} is not semver`);
check(/^\d{4}-\d{2}-\d{2}$/.test(meta.info?.updated ?? ''), `plugin.json: updated ${meta.info?.updated} is not a date`);
check(!JSON.stringify(meta).includes('%'), 'plugin.json: unreplaced %PLACEHOLDER%');
check(meta.info?.description && meta.info?.author?.name, 'plugin.json: description and author are required');
check(meta.dependencies?.grafanaDependency?.startsWith('>='), 'plugin.json: grafanaDependency must be a >= range');
for (const logo of [meta.info?.logos?.small, meta.info?.logos?.large]) {
  check(logo && existsSync(join(root, logo)), `plugin.json: logo ${logo} is missing from the archive`);
}
check(existsSync(join(root, 'module.js')), 'module.js is missing');
const mod = existsSync(join(root, 'module.js')) ? readFileSync(join(root, 'module.js'), 'utf8') : '';
check(mod.startsWith('define('), 'module.js is not an AMD module');
check(!/sourceMappingURL=(?!data:)/.test(mod) || existsSync(join(root, 'module.js.map')), 'module.js points at a missing source map');
for (const doc of ['README.md', 'CHANGELOG.md', 'LICENSE']) {
  check(existsSync(join(root, doc)) && statSync(join(root, doc)).size > 0, `${doc} is missing or empty`);
}
if (meta.backend) {
  check(!!meta.executable, 'plugin.json: backend plugins need executable');
  const bin = join(root, `${meta.executable}_linux_amd64`);
  check(existsSync(bin), `backend: ${meta.executable}_linux_amd64 is missing`);
  if (existsSync(bin)) {
    check((statSync(bin).mode & 0o111) !== 0, 'backend: the executable is not executable');
  }
}
check(meta.alerting === true && meta.streaming === true && meta.backend === true, 'plugin.json: backend, alerting and streaming must be true');
if (problems.length) {
  console.error('validate: ' + problems.length + ' problem(s):\n  ' + problems.join('\n  '));
  process.exit(1);
}
console.log(`validate: ${zip} ok (${meta.id} ${meta.info.version})`);
