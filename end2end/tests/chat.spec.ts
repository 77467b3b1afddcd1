import { type Page } from '@playwright/test';
import { test, expect, freshRoom, join, lines, say } from './fixtures';

async function expectButtons(page: Page, state: 'idle' | 'joined') {
  const joined = state === 'joined';
  await expect(page.locator('#connect')).toBeEnabled({ enabled: !joined });
  await expect(page.locator('#leave')).toBeEnabled({ enabled: joined });
  await expect(page.locator('#input')).toBeEnabled({ enabled: joined });
  await expect(page.locator('#send')).toBeEnabled({ enabled: joined });
}

// The server-rendered HTML itself is checked in tests/http.rs; this is the hydrated page.
test('the hydrated page has the tutorial\'s fields and defaults', async ({ open }) => {
  const page = await open();
  await expect(page.locator('input#username')).toHaveValue('Chrome');
  await expect(page.locator('input#room')).toHaveValue('112222');
  await expect(page.locator('textarea#output')).toHaveValue('');
  await expectButtons(page, 'idle');
});

test('two people chat in one room; a third room sees nothing', async ({ open }) => {
  const room = freshRoom();
  const alice = await open({ name: 'Alice', room });
  const bob = await open({ name: 'Bob', room });
  const carol = await open({ name: 'Carol', room: freshRoom() });
  for (const page of [alice, bob, carol]) await join(page);

  await say(alice, 'hello Bob');
  // An answer, once the first line is there: two senders' lines have no order until then.
  await expect.poll(() => lines(bob)).toEqual(['Alice:hello Bob']);
  await say(bob, 'hi Alice');
  for (const page of [alice, bob]) {
    await expect.poll(() => lines(page)).toEqual(['Alice:hello Bob', 'Bob:hi Alice']);
  }
  await say(carol, 'anyone?');
  await expect.poll(() => lines(carol)).toEqual(['Carol:anyone?']);
  expect(await lines(alice)).toEqual(['Alice:hello Bob', 'Bob:hi Alice']);
});

test('buttons follow the connection at every step', async ({ open }) => {
  const page = await open({ room: freshRoom() });
  await expectButtons(page, 'idle');
  await join(page);
  await expectButtons(page, 'joined');
  await page.click('#leave');
  await expectButtons(page, 'idle');
  await join(page);
  await expectButtons(page, 'joined');
});

test('Enter sends and clears the input; Send with the button does too', async ({ open }) => {
  const page = await open({ name: 'Kim', room: freshRoom() });
  await join(page);
  await page.fill('#input', 'sent with Enter');
  await page.press('#input', 'Enter');
  await expect(page.locator('#input')).toHaveValue('');
  await say(page, 'sent with the button');
  await expect(page.locator('#input')).toHaveValue('');
  await expect.poll(() => lines(page)).toEqual(['Kim:sent with Enter', 'Kim:sent with the button']);
});

test('leave, then rejoin another room', async ({ open }) => {
  const [first, second] = [freshRoom(), freshRoom()];
  const mover = await open({ name: 'Mover', room: first });
  const stayer = await open({ name: 'Stayer', room: first });
  const other = await open({ name: 'Other', room: second });
  for (const page of [mover, stayer, other]) await join(page);

  // Leave leaves the room that was joined, whatever the field says by then.
  await mover.fill('#room', second);
  await mover.click('#leave');
  await expectButtons(mover, 'idle');
  await say(stayer, 'after you left');
  await expect.poll(() => lines(stayer)).toEqual(['Stayer:after you left']);

  await join(mover);
  await say(mover, 'new room');
  await expect.poll(() => lines(other)).toEqual(['Mover:new room']);
  await expect.poll(() => lines(mover)).toEqual(['Mover:new room']);
  expect(await lines(stayer)).toEqual(['Stayer:after you left']);
});

test('HTML in a username or message is shown as text', async ({ open }) => {
  const room = freshRoom();
  const name = '<img src=x onerror=alert(1)>';
  const text = '<b>bold</b><script>alert(2)</script>';
  const sender = await open({ name, room });
  const reader = await open({ room });
  let dialogs = 0;
  for (const page of [sender, reader]) page.on('dialog', (d) => { dialogs++; void d.dismiss(); });
  await join(sender);
  await join(reader);
  await say(sender, text);
  await expect.poll(() => lines(reader)).toEqual([`${name}:${text}`]);
  await expect(reader.locator('img, b, .chat script')).toHaveCount(0);
  expect(dialogs).toBe(0);
});

test('10 KB and unicode messages arrive intact', async ({ open }) => {
  const room = freshRoom();
  const sender = await open({ name: '发送者', room });
  const reader = await open({ room });
  await join(sender);
  await join(reader);
  const big = 'x'.repeat(10 * 1024);
  const unicode = '中文消息 🎉👩‍💻 emoji and ünïcödé';
  await say(sender, big);
  await say(sender, unicode);
  await expect.poll(() => lines(reader)).toEqual([`发送者:${big}`, `发送者:${unicode}`]);
});

test('50 rapid messages arrive complete and in order', async ({ open }) => {
  const room = freshRoom();
  const sender = await open({ name: 'R', room });
  const reader = await open({ room });
  await join(sender);
  await join(reader);
  for (let i = 0; i < 50; i++) {
    await sender.fill('#input', `m${i}`);
    await sender.press('#input', 'Enter');
  }
  const expected = Array.from({ length: 50 }, (_, i) => `R:m${i}`);
  await expect.poll(() => lines(reader)).toEqual(expected);
  await expect.poll(() => lines(sender)).toEqual(expected);
  // The output keeps the newest line in view.
  const output = reader.locator('#output');
  await expect
    .poll(() => output.evaluate((el) => el.scrollHeight - el.clientHeight - el.scrollTop))
    .toBeLessThanOrEqual(2);
  expect(await output.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);
});

test('double-clicking Connect joins once', async ({ open }) => {
  const room = freshRoom();
  const page = await open({ room });
  const other = await open({ name: 'Other', room });
  await page.dblclick('#connect');
  await expect(page.locator('#leave')).toBeEnabled();
  await join(other);
  await say(other, 'once');
  await expect.poll(() => lines(page)).toEqual(['Other:once']);
  await page.waitForTimeout(300);
  expect(await lines(page)).toEqual(['Other:once']);
});

test('the Content Security Policy is in force and the page still hydrates under it', async ({ page }) => {
  const response = await page.goto('/');
  expect(response?.headers()['content-security-policy']).toContain("'wasm-unsafe-eval'");
  await expect(page.locator('.chat[data-hydrated="true"]')).toBeVisible();
  // Script not carrying the response's nonce is refused.
  const inline = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__injected = true';
    document.head.appendChild(script);
    return (window as unknown as { __injected?: boolean }).__injected === true;
  });
  expect(inline).toBe(false);
});
