// deploy/compose.yaml, brought up by scripts/compose-check.sh: clients through the load balancer
// land on both instances and still share one room. SIGNALROOM_PROXY_URL says where.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, freshRoom } from '../compat/client.mjs';

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
