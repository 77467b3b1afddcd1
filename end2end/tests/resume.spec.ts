import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { test, expect, freshRoom, join, lines, say, startCall, expectRemoteVideos, remoteTiles } from './fixtures';

// Resuming a dropped connection in the page: the test takes a page's browser offline for a
// moment (as a laptop whose Wi-Fi goes), so the page gives its connection up and has to try
// again, or cuts its WebSocket with the browser online (as a proxy that resets it); the page
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

/** Takes the page's browser offline: the page gives its connection up at once. (Chromium keeps
 * a WebSocket open through an offline spell, and may hold its closing handshake until online.) */
async function drop(page: Page) {
  await page.context().setOffline(true);
}

/** Drops the page's connection and keeps its browser offline for `ms`. */
async function cut(page: Page, ms: number) {
  await drop(page);
  await page.waitForTimeout(ms);
  await page.context().setOffline(false);
}

test('a page whose connection drops shows it, comes back and has every line once, in order', async ({ open }) => {
  const room = freshRoom();
  const ada = await open({ name: 'Ada', room, expectedErrors });
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
  // Ada's line from the outage is sent as she comes back: Bob answers once it is there.
  await expect.poll(() => lines(bob)).toContain('Ada:a2');
  await say(bob, 'b4');
  const all = ['Ada:a1', 'Bob:b1', 'Bob:b2', 'Bob:b3', 'Ada:a2', 'Bob:b4'];
  await expect.poll(() => lines(ada)).toEqual(all);
  await expect.poll(() => lines(bob)).toEqual(all);
  // Still in the room, as the same peer: Leave works and Bob hears it.
  await ada.click('#leave');
  await expect(bob.locator('#status')).toContainText('left the room');
});

test('a WebSocket cut with the browser online is resumed at once, every line once', async ({ open }) => {
  const room = freshRoom();
  const ada = await open({ name: 'Ada', room, init: keepSockets });
  const bob = await open({ name: 'Bob', room });
  await join(ada);
  await join(bob);
  await say(bob, 'b1');
  await expect.poll(() => lines(ada)).toEqual(['Bob:b1']);

  await ada.evaluate(() => (window as unknown as { __sockets: WebSocket[] }).__sockets.at(-1)?.close());
  await say(bob, 'b2');
  await say(bob, 'b3');
  await expect(ada.locator('#status')).toContainText(`Reconnected: back in room ${room}`);
  await say(ada, 'a1');
  const all = ['Bob:b1', 'Bob:b2', 'Bob:b3', 'Ada:a1'];
  await expect.poll(() => lines(ada)).toEqual(all);
  await expect.poll(() => lines(bob)).toEqual(all);
});

test('a page back online reconnects at once, not when its backoff ends', async ({ open }) => {
  const room = freshRoom();
  const ada = await open({ name: 'Ada', room, expectedErrors });
  await join(ada);
  // Long enough offline for the waits between attempts to reach their longest (4 s).
  await drop(ada);
  await expect(ada.locator('#status')).toContainText('Reconnecting');
  await ada.waitForTimeout(8000);
  const online = Date.now();
  await ada.context().setOffline(false);
  await expect(ada.locator('#status')).toContainText('Reconnected', { timeout: 10_000 });
  expect(Date.now() - online).toBeLessThan(1500);
});

/** Ada and Bob join their room and start a call; both see the other's video. */
async function inCall(ada: Page, bob: Page) {
  await join(ada);
  await join(bob);
  await startCall(ada);
  await startCall(bob);
  await expectRemoteVideos(ada, 1);
  await expectRemoteVideos(bob, 1);
}

test('in a call, a peer that resumes keeps its tile and the video keeps playing', async ({ open }) => {
  const room = freshRoom();
  const ada = await open({ name: 'Ada', room, expectedErrors });
  const bob = await open({ name: 'Bob', room });
  await inCall(ada, bob);

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

// A network path that changes under a call: both pages may only relay through one TURN server of
// this test's own (scripts/test.sh gives it a port), and it dies while one page is offline, so the
// call's only path is gone. The relay comes back empty (no allocation survives), so the call
// recovers only if the page that resumed restarts ICE: new candidates, a new ICE username.
const RELAY_PORT = Number(process.env.SIGNALROOM_TEST_RELAY_PORT);
const RELAY_SECRET = "resume.spec's relay secret";

const TURN_SH = fileURLToPath(new URL('../../scripts/turn.sh', import.meta.url));

/** coturn on 127.0.0.1:`port` (scripts/turn.sh, as scripts/test.sh runs its own), once it
 * answers STUN. */
async function startRelay(port: number): Promise<ChildProcess> {
  const dir = mkdtempSync(joinPath(tmpdir(), 'signalroom-relay-'));
  const args = [port, RELAY_SECRET, port + 100, `${dir}/relay`].map(String);
  const relay = spawn(TURN_SH, args, { stdio: 'ignore' });
  relay.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  // A STUN binding request (RFC 5389): type 1, no attributes, the magic cookie, an id.
  const request = Buffer.alloc(20);
  request.writeUInt16BE(1, 0);
  request.writeUInt32BE(0x2112a442, 4);
  const probe = createSocket('udp4');
  const answered = once(probe, 'message');
  try {
    for (let i = 0; i < 50; i++) {
      probe.send(request, port, '127.0.0.1');
      const tick = new Promise((resolve) => setTimeout(resolve, 100, 'waiting'));
      if ((await Promise.race([answered, tick])) !== 'waiting') return relay;
      if (relay.exitCode !== null) break;
    }
  } finally {
    probe.close();
  }
  relay.kill();
  throw new Error(`coturn did not answer on 127.0.0.1:${port}`);
}

/** The relay as an ICE server, with credentials made as coturn's --use-auth-secret checks them. */
function relayServer(port: number) {
  const username = `${Math.floor(Date.now() / 1000) + 3600}:resume-spec`;
  const credential = createHmac('sha1', RELAY_SECRET).update(username).digest('base64');
  return { urls: `turn:127.0.0.1:${port}?transport=udp`, username, credential };
}

/** The page's peer connections as `relayOnly` keeps them, with the states each went through. */
type Kept = { __pcs: { pc: RTCPeerConnection; states: string[] }[] };

/** In the page: every RTCPeerConnection relays through `server` only, and is kept for the test
 * with the connection states it went through. */
const relayOnly = (server: RTCIceServer) => {
  const Native = window.RTCPeerConnection;
  const kept: Kept['__pcs'] = [];
  (window as unknown as Kept).__pcs = kept;
  window.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super({ ...config, iceServers: [server], iceTransportPolicy: 'relay' });
      const entry = { pc: this as RTCPeerConnection, states: [] as string[] };
      kept.push(entry);
      this.addEventListener('connectionstatechange', () => entry.states.push(this.connectionState));
    }
  } as typeof RTCPeerConnection;
};

/** The ICE username of the page's newest peer connection, and the states it went through. */
const newestLink = (page: Page) =>
  page.evaluate(() => {
    const entry = (window as unknown as Kept).__pcs.at(-1);
    const ufrag = entry?.pc.localDescription?.sdp.match(/a=ice-ufrag:(\S+)/)?.[1];
    return { ufrag, states: entry?.states ?? [] };
  });

/** Ada and Bob in a call relayed through the test's relay only. */
type Open = (o: { name: string; room: string; init: string; expectedErrors?: RegExp }) => Promise<Page>;
async function relayedCall(open: Open) {
  const room = freshRoom();
  const pinned = `(${relayOnly})(${JSON.stringify(relayServer(RELAY_PORT))});`;
  const ada = await open({ name: 'Ada', room, init: pinned, expectedErrors });
  const bob = await open({ name: 'Bob', room, init: pinned });
  await inCall(ada, bob);
  const before = (await newestLink(ada)).ufrag;
  expect(before).toBeTruthy();
  return { ada, bob, before };
}

test.describe('when the network path under a call breaks', () => {
  test.skip(!RELAY_PORT, 'SIGNALROOM_TEST_RELAY_PORT is not set (scripts/test.sh sets it)');
  let relay: ChildProcess;
  test.beforeEach(async () => {
    relay = await startRelay(RELAY_PORT);
  });
  test.afterEach(() => {
    relay.kill('SIGKILL');
  });
  const killRelay = async () => {
    relay.kill('SIGKILL');
    await once(relay, 'exit');
  };

  test('a page that resumes restarts ICE at once and the video plays again', async ({ open }) => {
    const { ada, bob, before } = await relayedCall(open);
    // Ada drops; meanwhile the relay dies, and her call sees its path gone.
    await drop(ada);
    await killRelay();
    await expect(remoteTiles(ada)).toHaveAttribute('data-state', 'disconnected', { timeout: 30_000 });
    await expect(remoteTiles(bob)).toHaveAttribute('data-away', 'true');
    relay = await startRelay(RELAY_PORT);
    await ada.context().setOffline(false);

    await expect(ada.locator('#status')).toContainText('Reconnected', { timeout: 15_000 });
    await expect(remoteTiles(bob)).toHaveAttribute('data-away', 'false');
    await expectRemoteVideos(ada, 1);
    await expectRemoteVideos(bob, 1);
    const after = await newestLink(ada);
    expect(after.ufrag).not.toEqual(before);
    // Restarted on the resume, not later when the browser gave the path up.
    expect(after.states).not.toContain('failed');
  });

  test('with signaling up all along, a call whose path failed restarts ICE by itself', async ({ open }) => {
    test.setTimeout(120_000);
    const { ada, bob, before } = await relayedCall(open);
    await killRelay();
    await expect(remoteTiles(ada)).toHaveAttribute('data-state', 'disconnected', { timeout: 30_000 });
    relay = await startRelay(RELAY_PORT);
    // The browser gives the old path up ("failed", some seconds on) and the pages restart ICE.
    await expect(remoteTiles(ada)).toHaveAttribute('data-state', 'connected', { timeout: 60_000 });
    await expectRemoteVideos(ada, 1);
    await expectRemoteVideos(bob, 1);
    const [after, bobs] = [await newestLink(ada), await newestLink(bob)];
    // The browser gave the old path up on one side at least, which restarted ICE; the other
    // side's may be restarted by that offer before its own path fails (then it goes from
    // "disconnected" back to "connected").
    expect([...after.states, ...bobs.states]).toContain('failed');
    expect(after.ufrag).not.toEqual(before);
  });
});
