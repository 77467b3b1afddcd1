// deploy/compose.yaml, brought up by scripts/compose-check.sh: clients through the load balancer
// land on both instances and still share one room; sticky sessions keep polling sessions and
// resumes on their instance, and a resume that reaches the other instance is carried to the
// one holding the session. SIGNALROOM_PROXY_URL says where.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, freshRoom, once, resumingClient } from '../compat/client.mjs';

const URL = process.env.SIGNALROOM_PROXY_URL;
const skip = URL ? false : 'SIGNALROOM_PROXY_URL is not set (scripts/compose-check.sh sets it)';

test('eight WebSocket clients through the proxy share a room across both instances', { skip }, async () => {
  const room = freshRoom();
  // Without cookies each new connection is balanced anew (least connections): both instances
  // get some, so every message below must cross between them to reach everyone.
  const clients = [];
  for (let i = 0; i < 8; i++) clients.push(await client('socket.io-client 4.x, websocket', URL));
  const ids = [];
  for (const c of clients) ids.push(await c.join(room));
  for (const [i, c] of clients.entries()) c.emit('message', room, `from ${i}`);
  for (const c of clients) {
    const seen = new Set();
    for (let i = 0; i < clients.length; i++) {
      const [r, from, text] = await c.expect('message');
      assert.equal(r, room);
      assert.equal(from, ids[Number(text.split(' ')[1])]);
      seen.add(text);
    }
    assert.equal(seen.size, clients.length);
  }
  clients[0].close();
  for (const c of clients.slice(1)) assert.deepEqual(await c.expect('bye'), [room, ids[0]]);
  for (const c of clients.slice(1)) c.close();
});

test('a polling client that keeps the proxy\'s cookie, as browsers do, keeps its session', { skip }, async () => {
  // socket.io-client in Node has no cookie jar, so the polling requests are made by hand.
  const base = `${URL}/socket.io/?EIO=4&transport=polling`;
  const open = await fetch(base);
  const cookie = open.headers.get('set-cookie')?.split(';')[0];
  assert.ok(cookie?.startsWith('SIGNALROOM_SERVER='), `no stickiness cookie: ${cookie}`);
  const { sid } = JSON.parse((await open.text()).slice(1));
  const headers = { cookie, 'content-type': 'text/plain;charset=UTF-8' };
  const room = freshRoom();
  // Each step is one POST and one poll; any that reached the other instance would fail there
  // (the session does not exist on it).
  const steps = [
    ['40', '40{"sid"'],
    [`42${JSON.stringify(['join', room])}`, `42["joined","${room}"`],
    ...Array.from({ length: 8 }, (_, i) => [`42${JSON.stringify(['message', room, `m${i}`])}`, `"m${i}"]`]),
  ];
  for (const [i, [sent, expected]] of steps.entries()) {
    const post = await fetch(`${base}&sid=${sid}`, { method: 'POST', headers, body: sent });
    assert.equal(post.status, 200, `step ${i}: the POST reached another instance`);
    const poll = await fetch(`${base}&sid=${sid}`, { headers });
    assert.equal(poll.status, 200, `step ${i}: the poll reached another instance`);
    const body = await poll.text();
    assert.ok(body.includes(expected), `step ${i}: ${body}`);
  }
});

/** Waits until `condition()` holds, for at most 10 s. */
async function until(condition, what) {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Alice (resumable, sending `headers` with her handshakes) and Bob share a room; Alice's
 * network drops three times while Bob sends, and each reconnection must resume her, missing
 * nothing. Before each drop `cookies[i]`, if set, becomes her next connection's cookie.
 */
async function resumesThroughDrops(headers, cookies) {
  const alice = resumingClient(URL, { extraHeaders: headers });
  await once(alice, 'resumable');
  const room = freshRoom();
  const received = [];
  alice.on('message', (_room, _from, data) => received.push(data));
  alice.emit('join', room);
  const [, aliceId] = await once(alice, 'joined');
  const bob = await client('socket.io-client 4.x, websocket', URL, ['joined', 'message']);
  await bob.join(room);

  let sent = 0;
  for (const [drop, cookie] of cookies.entries()) {
    for (let i = 0; i < 20; i++) bob.emit('message', room, sent++);
    await until(() => received.length >= sent - 10, 'the messages before the drop');
    if (cookie) alice.io.opts.extraHeaders.cookie = cookie;
    const outcome = new Promise((resolve) => {
      alice.once('resumed', (session) => resolve({ resumed: session }));
      alice.once('resume_failed', (failure) => resolve({ failed: failure }));
    });
    // The network drops: no close frame, no Socket.IO disconnect.
    alice.io.engine.transport.ws._socket.destroy();
    for (let i = 0; i < 20; i++) bob.emit('message', room, sent++);
    const { resumed, failed } = await outcome;
    assert.equal(failed, undefined, `drop ${drop}: ${JSON.stringify(failed)}`);
    assert.equal(resumed.id, aliceId);
    assert.deepEqual(resumed.rooms, [room]);
  }
  await until(() => received.length >= sent, 'every message');
  assert.deepEqual(received, Array.from({ length: sent }, (_, i) => i));
  // Live, both ways.
  alice.emit('message', room, 'from alice');
  let heard;
  do heard = await bob.expect('message'); while (heard[2] !== 'from alice');
  assert.deepEqual(heard, [room, aliceId, 'from alice']);
}

test('a resumable client that keeps the proxy\'s cookie resumes on its own instance, missing nothing', { skip }, async () => {
  // A browser loads the page first, and sends the cookie the proxy set with its WebSocket too.
  const page = await fetch(`${URL}/`);
  const cookie = page.headers.get('set-cookie')?.split(';')[0];
  assert.ok(cookie?.startsWith('SIGNALROOM_SERVER='), `no stickiness cookie: ${cookie}`);
  const extraHeaders = { cookie };
  // Three idle clients with the same cookie load that instance, so that least-connections
  // balancing alone would send a reconnection to the other one.
  for (let i = 0; i < 3; i++) await once(resumingClient(URL, { extraHeaders }), 'resumable');
  await resumesThroughDrops(extraHeaders, [null, null, null]);
});

test('a resumable client sent to the other instance resumes through it, missing nothing', { skip }, async () => {
  // The cookie picks the instance: Alice starts on a, and reconnects on b (as when a browser
  // lost its cookie or the balancer moved it), then on a, then on b again.
  const [a, b] = ['SIGNALROOM_SERVER=a', 'SIGNALROOM_SERVER=b'];
  await resumesThroughDrops({ cookie: a }, [b, a, b]);
});
