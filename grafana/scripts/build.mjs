// Builds the front end into dist/: module.js (an AMD module, the form Grafana's loader expects,
// with React and @grafana/* left to Grafana), plugin.json, img/, README and CHANGELOG.
// Usage: node scripts/build.mjs [--testpage]  (--testpage also bundles test/page for screenshots)
import { build } from 'esbuild';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const externals = ['react', 'react-dom', '@grafana/data', '@grafana/ui', '@grafana/runtime', '@grafana/schema', 'rxjs', 'lodash', '@emotion/css', '@emotion/react'];

mkdirSync(dist, { recursive: true });
const out = await build({
  entryPoints: [join(root, 'src/module.ts')],
  bundle: true,
  format: 'cjs',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  external: externals,
  write: false,
  jsx: 'automatic',
  logLevel: 'warning',
  legalComments: 'none',
});
// Wrap the CommonJS bundle as an AMD module whose dependencies Grafana provides.
const deps = JSON.stringify(externals);
const amd = `define(${deps}, function () {
var __deps = {}; var __args = arguments; ${deps}.forEach(function (n, i) { __deps[n] = __args[i]; });
var require = function (n) { if (n in __deps) { return __deps[n]; } throw new Error('module ' + n + ' is not provided by Grafana'); };
var module = { exports: {} }; var exports = module.exports;
${out.outputFiles[0].text}
return module.exports;
});
`;
writeFileSync(join(dist, 'module.js'), amd);

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pluginJSON = readFileSync(join(root, 'src/plugin.json'), 'utf8')
  .replace('%VERSION%', pkg.version)
  .replace('%TODAY%', new Date().toISOString().slice(0, 10));
writeFileSync(join(dist, 'plugin.json'), pluginJSON);
cpSync(join(root, 'src/img'), join(dist, 'img'), { recursive: true });
cpSync(join(root, 'README.md'), join(dist, 'README.md'));
cpSync(join(root, 'CHANGELOG.md'), join(dist, 'CHANGELOG.md'));
cpSync(join(root, '..', 'LICENSE'), join(dist, 'LICENSE')); // the repository's Apache-2.0

if (process.argv.includes('--testpage')) {
  // The screenshot page bundles everything (no Grafana to provide React or @grafana/ui).
  await build({
    entryPoints: [join(root, 'test/page/page.tsx')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    outfile: join(root, 'test/page/out/page.js'),
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
    loader: { '.svg': 'text', '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.png': 'dataurl' },
    logLevel: 'warning',
  });
  cpSync(join(root, 'test/page/index.html'), join(root, 'test/page/out/index.html'));
}
console.log('built', dist);
