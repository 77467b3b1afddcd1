// The tutorial's own page, unchanged, with its socket.io-client 2.x, against signalroom; and
// next to signalroom's page in one room.
import { test, expect, type Browser, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';

const fixture = (path: string) => readFileSync(new URL(`../fixtures/tutorial/${path}`, import.meta.url));
const socketIo2 = readFileSync(
  new URL('../node_modules/socket.io-client-v2/dist/socket.io.js', import.meta.url),
);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Opens the tutorial's page as if served from signalroom's origin. */
async function openTutorial(browser: Browser, room: string): Promise<Page> {
  const context = await browser.newContext();
  await context.route(/.*/, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname.endsWith('/socket.io/2.0.3/socket.io.js')) {
      return route.fulfill({ body: socketIo2, contentType: 'application/javascript' });
    }
    if (!LOOPBACK.has(url.hostname)) return route.abort();
    if (url.pathname === '/tutorial/') return route.fulfill({ body: fixture('index.html'), contentType: 'text/html' });
    if (url.pathname === '/tutorial/js/client.js') {
      return route.fulfill({ body: fixture('js/client.js'), contentType: 'application/javascript' });
    }
    if (url.pathname === '/tutorial/css/main.css') return route.fulfill({ body: '', contentType: 'text/css' });
    return route.continue();
  });
  const page = await context.newPage();
  await page.goto('/tutorial/');
  await page.fill('#room', room);
  return page;
}

async function openSignalroom(browser: Browser, room: string, name: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto('/');
  await expect(page.locator('.chat[data-hydrated="true"]')).toBeVisible();
  await page.fill('#username', name);
  await page.fill('#room', room);
  return page;
}

// The tutorial appends `data + "\n\r"`; signalroom's page appends `data + "\n"`.
const lines = async (page: Page) =>
  (await page.locator('#output').inputValue()).split(/[\r\n]+/).filter((line) => line !== '');

async function connect(page: Page) {
  await page.click('#connect');
  await expect(page.locator('#leave')).toBeEnabled();
}

const freshRoom = () => `tutorial-${Date.now()}-${Math.random().toString(36).slice(2)}`;

test("two copies of the tutorial's page chat through signalroom", async ({ browser }) => {
  const room = freshRoom();
  const first = await openTutorial(browser, room);
  const second = await openTutorial(browser, room);
  await first.fill('#username', 'Chrome');
  await second.fill('#username', 'Safari');
  await connect(first);
  await connect(second);

  await first.fill('#input', 'hello from 2.x');
  await first.click('#send');
  // An answer: sent once the first line is there. Two senders' lines have no order between
  // them until then (socket.io 2.x may still be sending the first over a polling request).
  await expect.poll(() => lines(second)).toEqual(['Chrome:hello from 2.x']);
  await second.fill('#input', 'and back, with Enter');
  await second.press('#input', 'Enter');
  for (const page of [first, second]) {
    await expect.poll(() => lines(page)).toEqual(['Chrome:hello from 2.x', 'Safari:and back, with Enter']);
  }

  await first.click('#leave');
  await expect(first.locator('#connect')).toBeEnabled();
  await expect(first.locator('#send')).toBeDisabled();
});

test("the tutorial's page and signalroom's page share a room", async ({ browser }) => {
  const room = freshRoom();
  const tutorial = await openTutorial(browser, room);
  const modern = await openSignalroom(browser, room, 'Leptos');
  await connect(tutorial);
  await connect(modern);

  await tutorial.fill('#input', 'old client');
  await tutorial.click('#send');
  await expect.poll(() => lines(modern)).toEqual(['Chrome:old client']);
  await modern.fill('#input', 'new client');
  await modern.click('#send');
  for (const page of [tutorial, modern]) {
    await expect.poll(() => lines(page)).toEqual(['Chrome:old client', 'Leptos:new client']);
  }
});
