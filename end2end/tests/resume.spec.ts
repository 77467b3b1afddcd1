import { test, expect, freshRoom, join, lines, say, startCall, expectRemoteVideos, remoteTiles } from './fixtures';

// Resuming a dropped connection in the page: the test cuts a page's WebSocket (as a network that
// drops would) and keeps the browser offline for a moment, so the page has to try again; it
// comes back as the same peer with every chat line once, in order.

/** Keeps every WebSocket the page opens, so the test can cut one. */
const keepSockets = () => {
  const Native = window.WebSocket;
  const sockets: WebSocket[] = [];
  (window as unknown as { __sockets: WebSocket[] }).__sockets = sockets;
  window.WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  } as typeof WebSocket;
};

/** While offline, the browser logs each attempt to reconnect: that is the point. */
const expectedErrors = /ERR_INTERNET_DISCONNECTED/;

/** Closes the page's newest WebSocket and keeps its browser offline for `ms`. */
async function cut(page: import('@playwright/test').Page, ms: number) {
  await page.context().setOffline(true);
  await page.evaluate(() => (window as unknown as { __sockets: WebSocket[] }).__sockets.at(-1)?.close());
  await page.waitForTimeout(ms);
  await page.context().setOffline(false);
}

test('a page whose connection drops shows it, comes back and has every line once, in order', async ({ open }) => {
  const room = freshRoom();
  const ada = await open({ name: 'Ada', room, init: keepSockets, expectedErrors });
  const bob = await open({ name: 'Bob', room });
  await join(ada);
  await join(bob);
  await say(ada, 'a1');
  await expect.poll(() => lines(bob)).toEqual(['Ada:a1']);

  const outage = cut(ada, 2000);
  await expect(ada.locator('#status')).toContainText('Reconnecting', { timeout: 5000 });
  await expect(bob.locator('#status')).toContainText('is reconnecting');
  // Bob goes on; Ada writes meanwhile too (sent once she is back).
  for (const line of ['b1', 'b2', 'b3']) await say(bob, line);
  await say(ada, 'a2');
  await outage;
  await expect(ada.locator('#status')).toContainText(`Reconnected: back in room ${room}`, { timeout: 15_000 });
  await expect(bob.locator('#status')).toContainText('is back');
  await say(bob, 'b4');
  const all = ['Ada:a1', 'Bob:b1', 'Bob:b2', 'Bob:b3', 'Ada:a2', 'Bob:b4'];
  await expect.poll(() => lines(ada)).toEqual(all);
  await expect.poll(() => lines(bob)).toEqual(all);
  // Still in the room, as the same peer: Leave works and Bob hears it.
  await ada.click('#leave');
  await expect(bob.locator('#status')).toContainText('left the room');
});

test('in a call, a peer that resumes keeps its tile and the video keeps playing', async ({ open }) => {
  const room = freshRoom();
  const ada = await open({ name: 'Ada', room, init: keepSockets, expectedErrors });
  const bob = await open({ name: 'Bob', room });
  await join(ada);
  await join(bob);
  await startCall(ada);
  await startCall(bob);
  await expectRemoteVideos(ada, 1);
  await expectRemoteVideos(bob, 1);

  const outage = cut(ada, 2000);
  // Bob's tile for Ada is marked, not removed.
  await expect(remoteTiles(bob)).toHaveAttribute('data-away', 'true');
  await outage;
  await expect(ada.locator('#status')).toContainText('Reconnected', { timeout: 15_000 });
  await expect(remoteTiles(bob)).toHaveAttribute('data-away', 'false');
  await expect(remoteTiles(bob)).toHaveCount(1);
  await expectRemoteVideos(ada, 1);
  await expectRemoteVideos(bob, 1);
  // Signaling works after the resume: hanging up reaches Bob.
  await ada.click('#hang-up');
  await expect(remoteTiles(bob)).toHaveCount(0);
});
