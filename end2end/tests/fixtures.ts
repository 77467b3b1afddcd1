import { test as base, expect, type Browser, type Page } from '@playwright/test';

// Every page opened through `open` fails its test on a console error or an uncaught exception.
type OpenOptions = {
  name?: string;
  room?: string;
  /** Runs in the page before any of its own scripts. */
  init?: () => void;
};

export const test = base.extend<{ open: (opts?: OpenOptions) => Promise<Page> }>({
  open: async ({ browser }, use) => {
    const problems: string[] = [];
    const contexts: Awaited<ReturnType<Browser['newContext']>>[] = [];
    await use(async ({ name, room, init } = {}) => {
      const context = await browser.newContext();
      contexts.push(context);
      if (init) await context.addInitScript(init);
      const page = await context.newPage();
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      await page.goto('/');
      await expect(page.locator('.chat[data-hydrated="true"]')).toBeVisible();
      if (name !== undefined) await page.fill('#username', name);
      if (room !== undefined) await page.fill('#room', room);
      return page;
    });
    for (const context of contexts) await context.close();
    expect(problems, 'no console errors').toEqual([]);
  },
});

let seq = 0;
export const freshRoom = () => `e2e-${Date.now()}-${seq++}`;

export async function join(page: Page) {
  await page.click('#connect');
  await expect(page.locator('#leave')).toBeEnabled();
}

export { expect };
