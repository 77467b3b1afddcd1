// A benchmark, not a test: how long after navigation the page is hydrated and interactive, in
// headless Chromium on loopback. Run by scripts/bench.sh (`npx playwright test -c
// bench/playwright.bench.config.ts`); prints one JSON line, asserts nothing about the numbers.
import { test } from '@playwright/test';

const RUNS = Number(process.env.HYDRATION_RUNS ?? 20);

test('time to interactive', async ({ browser }) => {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    // Record the moment hydration flips `data-hydrated`, on the page's own clock (0 is the
    // start of navigation).
    await page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        const chat = document.querySelector('.chat[data-hydrated="true"]');
        if (chat) {
          (window as any).__hydratedAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
    });
    await page.goto('/');
    await page.waitForFunction(() => (window as any).__hydratedAt !== undefined);
    // Interactive: the Connect button reacts (its click handler is attached).
    await page.click('#connect');
    await page.waitForSelector('#leave:enabled');
    times.push(await page.evaluate(() => (window as any).__hydratedAt as number));
    await context.close();
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.round((times.length - 1) * q)];
  console.log(
    JSON.stringify({
      scenario: 'hydration',
      runs: times.length,
      p50_ms: +at(0.5).toFixed(1),
      p90_ms: +at(0.9).toFixed(1),
      max_ms: +at(1).toFixed(1),
    }),
  );
});
