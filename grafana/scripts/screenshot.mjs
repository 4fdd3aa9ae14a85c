// Screenshot test: renders test/page (the QueryEditor with a fake datasource) in Debian's
// headless Chromium through playwright-core (no downloaded browser), checks the editor rendered
// and reacts to a click, and writes test/page/out/query-editor.png.
// Needs `node scripts/build.mjs --testpage` first. CHROMIUM overrides `command -v chromium`.
import { chromium } from 'playwright-core';
import { execSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { statSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const executablePath = process.env.CHROMIUM || execSync('command -v chromium', { shell: '/bin/bash' }).toString().trim();
const page_url = pathToFileURL(join(root, 'test/page/out/index.html')).href;
const png = join(root, 'test/page/out/query-editor.png');

const fail = (msg) => {
  console.error('screenshot test: ' + msg);
  process.exitCode = 1;
};
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(page_url);
  await page.waitForSelector('[data-testid="spacepulse-query-editor"]', { timeout: 20000 });
  const editors = await page.locator('[data-testid="spacepulse-query-editor"]').count();
  if (editors !== 3) fail(`${editors} editors rendered, want 3`);
  for (const text of ['Query type', 'Rooms', 'Group by', 'Rate', 'SQL', 'Format']) {
    if ((await page.getByText(text, { exact: true }).count()) === 0) fail(`"${text}" is not on the page`);
  }
  // Interaction: group editor A by country and see the model change.
  await page.locator('section').first().getByText('country', { exact: true }).click({ force: true });
  const model = await page.getByTestId('model-A').textContent();
  if (!model.includes('"groupBy":"country"')) fail(`clicking "country" left the model at ${model}`);
  await page.waitForTimeout(300);
  await page.screenshot({ path: png, fullPage: true });
  if (statSync(png).size < 10000) fail('the screenshot is suspiciously small');
  if (errors.length) fail('page errors: ' + errors.join('; '));
  console.log('screenshot test: ok,', png);
} finally {
  await browser.close();
}
