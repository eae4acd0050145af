// memplay's end-to-end tests: playwright-core drives Debian's Chromium (/usr/bin/chromium;
// never `npx playwright install`) against the release site served on 127.0.0.1.
//
//   BASE_URL=http://127.0.0.1:8000/ node e2e/run.mjs
//
// `cargo xtask test` builds the site (`dist/`), serves it with python3 -m http.server and
// runs this. Screenshots and the measured figures go to artifacts/ (gitignored). The last
// line is "N passed, N failed, N skipped"; the exit status is 1 when a check failed.

import { chromium } from 'playwright-core';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BASE = process.env.BASE_URL || 'http://127.0.0.1:8000/';
const ARTIFACTS = process.env.ARTIFACTS || join(here, '..', 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(ARTIFACTS, { recursive: true });
for (const f of readdirSync(ARTIFACTS)) {
  if (f.endsWith('.png')) rmSync(join(ARTIFACTS, f));
}

const results = [];
const metrics = {};

async function test(name, fn) {
  const started = Date.now();
  try {
    const outcome = await fn();
    if (outcome && outcome.skipped) {
      results.push({ name, status: 'skipped', why: outcome.skipped });
      console.log(`SKIP  ${name}: ${outcome.skipped}`);
    } else {
      results.push({ name, status: 'passed' });
      console.log(`ok    ${name} (${Date.now() - started} ms)`);
    }
  } catch (e) {
    results.push({ name, status: 'failed', error: String(e && e.stack || e) });
    console.log(`FAIL  ${name}\n${String(e && e.stack || e).split('\n').slice(0, 6).join('\n')}`);
    if (page) {
      await page.screenshot({ path: join(ARTIFACTS, `failed-${slug(name)}.png`), fullPage: true }).catch(() => {});
    }
  }
}

function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(name) {
  await page.waitForTimeout(150); // let the step's animation settle a little
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const stepNumber = async () => Number(await page.locator('[data-testid=step-number]').textContent());
const editorText = async () => page.locator('[data-testid=editor]').inputValue();

async function waitStep(n) {
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid=step-number]')?.textContent === String(n),
    n,
    { timeout: 5000 },
  );
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run',
  ],
});
const context = await browser.newContext({ viewport: { width: 1480, height: 1000 }, locale: 'en-US' });
let page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

// Load to the first interactive step, measured in the page from navigation start: as soon
// as the Step button can be pressed it is pressed, and the time is taken when the counter
// shows step 1 (no test-driver latency in the figure).
await page.addInitScript(() => {
  if (sessionStorage.getItem('memplay-measured')) return;
  sessionStorage.setItem('memplay-measured', '1');
  const watch = new MutationObserver(() => {
    const step = document.querySelector('[data-testid=step]');
    const number = document.querySelector('[data-testid=step-number]');
    if (!window.__pressed && step && !step.disabled) {
      window.__pressed = performance.now();
      step.click();
    }
    if (window.__pressed && number && number.textContent === '1') {
      window.__firstStep = performance.now();
      watch.disconnect();
    }
  });
  watch.observe(document, { childList: true, subtree: true, characterData: true });
});

await test('load: the page renders and the first step runs', async () => {
  const t0 = Date.now();
  await page.goto(BASE, { waitUntil: 'commit' });
  await page.waitForFunction(() => window.__firstStep, null, { timeout: 10000 });
  metrics.first_interactive_step_ms = await page.evaluate(() => Math.round(window.__firstStep));
  metrics.step_button_ready_ms = await page.evaluate(() => Math.round(window.__pressed));
  const step = page.locator('[data-testid=step]');
  await step.waitFor({ state: 'visible', timeout: 10000 });
  await page.waitForFunction(() => !document.querySelector('[data-testid=step]').disabled);
  await waitStep(1);
  metrics.load_to_first_step_by_driver_ms = Date.now() - t0;
  metrics.first_render_ms = Number(await page.locator('body').getAttribute('data-ready-ms'));
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return n ? { dom_content_loaded_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd } : {};
  });
  Object.assign(metrics, nav);
  check(await page.locator('[data-testid=lesson-text]').count() === 1, 'the first lesson is open');
  // The lesson's text is a page of its own, fetched when the lesson opens.
  await page.locator('[data-testid=prose] pre code.language-mem').first().waitFor({ timeout: 5000 });
  await shot('01-load');
});

await test('open a lesson: its text and its script in one click', async () => {
  const second = page.locator('[data-testid^=lesson-]').nth(1);
  await second.click();
  const first = page.locator('[data-testid^=lesson-]').first();
  await first.click();
  await waitStep(0);
  const text = await editorText();
  check(/\bram\b/.test(text), `the lesson's script is in the editor: ${text.slice(0, 80)}`);
  check(await page.locator('[data-testid=lesson-title]').count() === 1, 'lesson title shown');
  await page.locator('[data-testid=prose] pre code.language-mem').first().waitFor({ timeout: 5000 });
  const prompts = await page.locator('[data-testid^=exercise-] .prose').count();
  check(prompts === await page.locator('[data-testid^=exercise-]').count() && prompts > 0,
    `every exercise shows its prompt (${prompts})`);
  // A script block in the text opens in the editor.
  await page.locator('[data-testid=prose] pre code.language-mem').first().click();
  check(/\bram\b/.test(await editorText()), 'a script block opens in the editor');
  if (await page.locator('[data-testid=reset-script]').isEnabled()) {
    await page.locator('[data-testid=reset-script]').click();
  }
  await shot('02-lesson');
});

await test('lesson pages: fetched in the background, there offline, a failure can be retried', async () => {
  const lessons = await page.locator('.lesson-list [data-testid^=lesson-]').count();
  // Once the page has settled, the other lessons of the language are fetched.
  await page.waitForFunction((n) => performance.getEntriesByType('resource')
    .filter((e) => /\/lessons\/[^/]+\.en\.html/.test(e.name)).length >= n, lessons, { timeout: 15000 });
  const last = page.locator('.lesson-list [data-testid^=lesson-]').last();
  await context.setOffline(true);
  try {
    await last.click();
    await page.locator('[data-testid=prose] pre code.language-mem').first().waitFor({ timeout: 5000 });
  } finally {
    await context.setOffline(false);
  }
  // A page that cannot be fetched says so, the playground keeps working, and Retry fetches
  // it again (a fresh tab: nothing cached).
  const other = await context.newPage();
  other.on('pageerror', (e) => pageErrors.push(String(e)));
  await other.route('**/lessons/**', (route) => route.abort());
  await other.goto(BASE);
  await other.locator('[data-testid=prose-failed]').waitFor({ timeout: 10000 });
  await other.locator('[data-testid=step]').click();
  await other.waitForFunction(() => document.querySelector('[data-testid=step-number]')?.textContent === '1');
  await other.unroute('**/lessons/**');
  await other.locator('[data-testid=prose-failed] button').click();
  await other.locator('[data-testid=prose] pre code.language-mem').first().waitFor({ timeout: 5000 });
  await other.close();
  await page.locator('.lesson-list [data-testid^=lesson-]').first().click();
});

await test('step forward 5 and back 2: the map and the event log follow', async () => {
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
  await waitStep(5);
  await page.locator('[data-testid=back]').click();
  await page.locator('[data-testid=back]').click();
  await waitStep(3);
  const rects = await page.locator('[data-testid=memmap] rect.span[data-pool]').count();
  check(rects > 0, 'the map shows the pools after step 3');
  const current = page.locator('[data-testid=event-log] li.logstep.current');
  check(await current.getAttribute('data-step') === '3', 'the log marks step 3');
  check((await page.locator('[data-testid=event-log] li.logstep').first().getAttribute('data-step')) === '3',
    'the newest logged step is 3 (nothing of steps 4 and 5 stays)');
  const line = await page.locator('[data-testid=statement] code').textContent();
  check(line.trim().startsWith('sys'), `step 3 ran the sys line, got ${line}`);
  // Forward to an allocation: the new block grows in and the inspector reads it.
  for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowRight');
  await waitStep(5);
  const grown = page.locator('[data-testid=memmap] rect.anim-grow[data-kind=payload]');
  check(await grown.count() > 0, 'the allocated block is animated');
  await grown.first().click({ force: true });
  await page.locator('[data-testid=hex] .byte').first().waitFor();
  // A header: its words are named from the trace's meta events.
  await page.locator('[data-testid=memmap] rect.span[data-kind=header]').first().click({ force: true });
  await page.locator('[data-testid=inspector] .fields tr').first().waitFor();
  check(await page.locator('[data-testid=hex] .byte.named').count() > 0, 'header bytes are named');
  // The log jumps: a click on step 2 shows step 2.
  await page.locator('[data-testid=event-log] li.logstep[data-step="2"] .stephead').click();
  await waitStep(2);
  await page.locator('[data-testid=event-log] li.logstep[data-step="2"]').waitFor();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await waitStep(5);
  await shot('03-stepped');
  // Shortcuts do not fire while typing.
  await page.locator('[data-testid=editor]').focus();
  await page.keyboard.press('ArrowRight');
  check(await stepNumber() === 5, 'ArrowRight in the editor moves the caret, not the machine');
  await page.keyboard.press('End');
  check(await stepNumber() === 5, 'End in the editor stays in the editor');
});

await test('the inspector: header fields named, corrupted bytes in red', async () => {
  const script = [
    'ram ram0 0x20000000 2K',
    'part msgs 32x8',
    'a = msgs.alloc 32 owner 1',
    'b = msgs.alloc 32 owner 2',
    'poke a+32 0x00              # one byte past the end of a',
    'check                       # the integrity check reads every header',
  ].join('\n') + '\n';
  await page.locator('[data-testid=scratch]').click();
  await page.fill('[data-testid=editor]', script);
  await page.locator('[data-testid=end]').click();
  await waitStep(6);
  // The poked byte is b's magic word: msgs's walk stops there, and the map marks it.
  const broken = page.locator('[data-testid=memmap] rect.span.broken[data-pool=msgs]');
  check(await broken.count() === 1, 'the map marks where the walk stops');
  await broken.click({ force: true });
  await page.locator('[data-testid=hex] .byte.corrupt').waitFor();
  check(await page.locator('[data-testid=hex] .byte.corrupt').count() === 1, 'one corrupted byte in red');
  const field = page.locator('[data-testid=inspector] .fields tr.corrupt');
  check(await field.count() === 1 && (await field.textContent()).includes('magic'), 'the magic word is marked');
  await shot('04-corrupted');
});

await test('the out-of-memory dialog: stop an app', async () => {
  // MTK's app-shared memory: camera asks for more than is free, the phone prompts, the
  // learner (playing the user) stops music, which frees its memory over two ticks.
  const script = [
    'ram extsram 0x08000000 256K',
    'asm pool 100K on extsram apps camera:"Camera" music:"Music"',
    'asm.plan music frees 1 ticks 2 ok',
    'm1 = asm.alloc music 40K',
    'm2 = asm.alloc music 40K',
    'c = asm.alloc_or_prompt camera 50K',
    'note "camera got its memory"',
  ].join('\n') + '\n';
  await page.locator('[data-testid=scratch]').click();
  await page.fill('[data-testid=editor]', script);
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowRight');
  await waitStep(6);
  const dialog = page.locator('[data-testid=oom-dialog]');
  await dialog.waitFor();
  check((await dialog.textContent()).includes('Music'), 'music is listed');
  await shot('04-oom-dialog');
  await page.locator('[data-testid=oom-stop-music]').click();
  await waitStep(7);
  await page.locator('[data-testid=oom-confirm]').click();
  await waitStep(8);
  await page.locator('[data-testid=oom-tick]').waitFor();
  await shot('04-oom-stopping');
  await page.locator('[data-testid=oom-tick]').click();
  await waitStep(9);
  await page.locator('[data-testid=oom-tick]').click();
  await waitStep(10);
  check(await dialog.count() === 0, 'the prompt closed: the request was retried');
  const text = await editorText();
  check(/asm\.choose music\nasm\.confirm\ntick 1\ntick 1\n/.test(text), `the key presses are in the script: ${text}`);
  check(await page.locator('[data-testid=script-error]').count() === 0, 'no error');
});

await test('share: a link opens the script; a hostile link shows an error and the page works', async () => {
  const first = page.locator('[data-testid^=lesson-]').first();
  await first.click();
  const original = await editorText();
  const shared = original + 'tick 7\n';
  await page.fill('[data-testid=editor]', shared);
  await page.locator('[data-testid=share]').click();
  const url = await page.locator('[data-testid=share-url]').inputValue();
  check(url.includes('#s='), `share url: ${url}`);
  await shot('05-share');
  // Opened in a new tab, as a learner would.
  const other = await context.newPage();
  await other.goto(url);
  await other.locator('[data-testid=editor]').waitFor();
  const opened = await other.locator('[data-testid=editor]').inputValue();
  check(opened === shared, 'the shared script opens');
  check(!(await other.url()).includes('#s='), 'the link is taken out of the address bar');
  await other.close();
  // Hostile links.
  // The first loads the page; the others change only the fragment of the open page.
  for (const bad of ['#s=%%%<script>alert(1)</script>', '#s=AAAAAAAA', '#s=' + 'A'.repeat(200000)]) {
    await page.goto(BASE + bad);
    await page.locator('[data-testid=notice]').waitFor({ timeout: 5000 });
    check(await page.locator('script:has-text("alert")').count() === 0, 'nothing injected');
    const before = await stepNumber();
    await page.locator('[data-testid=step]').click();
    await waitStep(before + 1);
    await page.locator('[data-testid=notice] button').click();
  }
  await shot('05-bad-link');
  // A link pasted while the page is open (only the fragment changes).
  await page.goto(BASE);
  await page.locator('[data-testid=editor]').waitFor();
  await page.evaluate((hash) => { location.hash = hash; }, new URL(url).hash);
  await page.waitForFunction((s) => document.querySelector('[data-testid=editor]').value === s, shared);
});

await test('switch language: the interface and the lesson change', async () => {
  await page.locator('[data-testid^=lesson-]').first().click();
  await page.locator('[data-testid=reset-script]').click().catch(() => {});
  await page.locator('[data-testid=lang-zh]').click();
  await page.waitForFunction(() => document.documentElement.lang === 'zh-Hans');
  const step = await page.locator('[data-testid=step]').textContent();
  check(step.includes('单步'), `step button in Chinese: ${step}`);
  const title = await page.locator('[data-testid=lesson-title]').textContent();
  check(/[\u4e00-\u9fff]/.test(title), `lesson title in Chinese: ${title}`);
  await page.keyboard.press('End');
  await shot('06-chinese');
  await page.locator('[data-testid=lang-en]').click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
});

await test('reload: the edited script and the progress marks are restored', async () => {
  const lesson = page.locator('[data-testid^=lesson-]').nth(1);
  const id = await lesson.getAttribute('data-testid');
  await lesson.click();
  const edited = (await editorText()) + 'tick 3   # my edit\n';
  await page.fill('[data-testid=editor]', edited);
  await page.locator('[data-testid=end]').click();
  await page.reload();
  await page.locator('[data-testid=editor]').waitFor();
  check(await editorText() === edited, 'the edit is back after a reload');
  check(await page.locator(`[data-testid=${id}]`).getAttribute('aria-current') === 'true', 'the same lesson is open');
  check(await page.locator('.lesson-list li.done').count() >= 1, 'a finished lesson is marked done');
  check(await page.locator('[data-testid=reset-script]').isEnabled(), 'the lesson can be reset');
  await page.locator('[data-testid=reset-script]').click();
  check(!(await editorText()).includes('# my edit'), "reset puts the lesson's script back");
  // An error keeps the learner's text and place.
  await page.locator('[data-testid=end]').click();
  const at = await stepNumber();
  const broken = (await editorText()).replace(/\n$/, '') + '\nthis is no statement\n';
  await page.fill('[data-testid=editor]', broken);
  await page.locator('[data-testid=script-error]').waitFor();
  check(await stepNumber() === at, 'the step stays while the script has an error');
  check(await editorText() === broken, 'the text stays');
  check(await page.locator('.gutter .ln.error').count() === 1, 'the error line is marked');
  await shot('07-error');
});

await test('back-step at step 100,000 in the browser (figure)', async () => {
  const churn = [
    'ram r 0x10000000 64K',
    'lab heap 32K policy best order size_asc',
    'seed 1',
    'repeat 50000 {',
    '  x = heap.alloc rand(16, 256)',
    '  heap.free any',
    '}',
  ].join('\n') + '\n';
  await page.locator('[data-testid=scratch]').click();
  const t0 = Date.now();
  await page.fill('[data-testid=editor]', churn);
  await page.waitForFunction(() => document.querySelector('[data-testid=counter]').textContent.includes('100004'),
    null, { timeout: 60000 });
  metrics.run_100004_steps_with_snapshots_ms = Date.now() - t0;
  await page.locator('[data-testid=end]').click();
  await waitStep(100004);
  for (let i = 0; i < 4; i++) await page.locator('[data-testid=back]').click();
  await waitStep(100000);
  const times = [];
  for (let i = 0; i < 15; i++) {
    times.push(await page.evaluate(() => new Promise((resolve) => {
      const el = document.querySelector('[data-testid=step-number]');
      const before = el.textContent;
      let t0 = 0;
      const obs = new MutationObserver(() => {
        if (el.textContent !== before) { obs.disconnect(); resolve(performance.now() - t0); }
      });
      obs.observe(el, { childList: true, characterData: true, subtree: true });
      t0 = performance.now();
      document.querySelector('[data-testid=back]').click();
    })));
  }
  await waitStep(99985);
  times.sort((a, b) => a - b);
  metrics.browser_back_step_at_100000_median_ms = Math.round(times[7] * 10) / 10;
  metrics.browser_back_step_at_100000_max_ms = Math.round(times[14] * 10) / 10;
  await shot('08-churn');
});

await test('no errors in the console', async () => {
  const real = pageErrors.filter((e) => !/favicon/.test(e));
  check(real.length === 0, `console errors: ${real.join('\n')}`);
});

await browser.close();

writeFileSync(join(ARTIFACTS, 'e2e-metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
console.log(`\nmetrics: ${JSON.stringify(metrics)}`);
const count = (s) => results.filter((r) => r.status === s).length;
console.log(`\n${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`);
process.exit(count('failed') > 0 ? 1 : 0);
