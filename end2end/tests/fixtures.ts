import { test as base, expect, type Browser, type Page } from '@playwright/test';

// Every page opened through `open` fails its test on a console error or an uncaught exception.
type OpenOptions = {
  name?: string;
  room?: string;
  /** Where the page comes from (it connects to that server); the configured base URL if unset. */
  url?: string;
  /** Runs in the page before any of its own scripts: a function, or a script's source (to pass
   * it values, as a function's closure is not sent). */
  init?: (() => void) | string;
  /** What shows the page is hydrated; the chat's by default. */
  ready?: string;
  /** Accept the server's certificate whatever signed it (the TLS tests' self-signed one). */
  insecure?: boolean;
  /** Console errors the test expects (e.g. a request it makes the server refuse). */
  expectedErrors?: RegExp;
};

export const test = base.extend<{ open: (opts?: OpenOptions) => Promise<Page> }>({
  open: async ({ browser }, use) => {
    const problems: string[] = [];
    const contexts: Awaited<ReturnType<Browser['newContext']>>[] = [];
    await use(async ({ name, room, url, init, ready, insecure, expectedErrors } = {}) => {
      const context = await browser.newContext({ ignoreHTTPSErrors: insecure ?? false });
      contexts.push(context);
      if (init) await context.addInitScript(init);
      const page = await context.newPage();
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !expectedErrors?.test(msg.text())) {
          problems.push(`console: ${msg.text()}`);
        }
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      await page.goto(url ?? '/');
      await expect(page.locator(ready ?? '.chat[data-hydrated="true"]')).toBeVisible();
      if (name !== undefined) await page.fill('#username', name);
      if (room !== undefined) await page.fill('#room', room);
      return page;
    });
    for (const context of contexts) await context.close();
    expect(problems, 'no console errors').toEqual([]);
  },
});

// Unique across the parallel workers too (each is a process with its own `seq`), which share
// the servers.
let seq = 0;
export const freshRoom = () => `e2e-${Date.now()}-${process.pid}-${seq++}`;

export async function join(page: Page) {
  await page.click('#connect');
  await expect(page.locator('#leave')).toBeEnabled();
}

export async function say(page: Page, text: string) {
  await page.fill('#input', text);
  await page.click('#send');
}

/** The chat output's lines. */
export const lines = async (page: Page) =>
  (await page.locator('#output').inputValue()).split('\n').filter((line) => line !== '');

export const remoteTiles = (page: Page) => page.locator('#videos .tile:not([data-peer="local"])');

/** `page` shows `count` remote videos, each connected and playing (frames arrive, time runs). */
export async function expectRemoteVideos(page: Page, count: number) {
  const tiles = remoteTiles(page);
  await expect(tiles).toHaveCount(count, { timeout: 30_000 });
  for (let i = 0; i < count; i++) {
    const tile = tiles.nth(i);
    await expect(tile).toHaveAttribute('data-state', 'connected', { timeout: 30_000 });
    const video = tile.locator('video');
    await expect
      .poll(() => video.evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 30_000 })
      .toBeGreaterThan(0);
    const start = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
    await expect
      .poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 10_000 })
      .toBeGreaterThan(start);
  }
}

export async function startCall(page: Page) {
  await page.click('#start-call');
  await expect(page.locator('#videos .tile[data-peer="local"]')).toBeVisible();
  await expect(page.locator('#hang-up')).toBeEnabled();
}

export { expect };
