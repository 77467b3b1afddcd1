// Resuming with an unmodified socket.io-client 4.x: the few lines the README shows (an `auth`
// callback that presents the token and the last position, and a listener that keeps them) and
// the client's own reconnection. Its TCP connection is destroyed mid-stream while another client
// keeps sending; it must come back as the same peer with every message once, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client as connect, freshRoom, once, resumingClient } from './client.mjs';

const URL = process.env.SIGNALROOM_URL ?? 'http://127.0.0.1:9980';

test('socket.io-client 4.x resumes as the same peer after its connection is destroyed', async () => {
  const room = freshRoom();
  const alice = resumingClient(URL);
  const [session] = await once(alice, 'resumable');
  const received = [];
  alice.on('message', (_room, _from, data) => received.push(data));
  alice.emit('join', room);
  const [, aliceId] = await once(alice, 'joined');
  assert.equal(aliceId, session.id);

  const bob = await connect('socket.io-client 4.x, websocket', URL, ['joined', 'message', 'away', 'bye']);
  await bob.join(room);
  for (let i = 0; i < 100; i++) bob.emit('message', room, i);
  while (received.length < 30) await new Promise((r) => setTimeout(r, 5));

  // The network drops: no close frame, no Socket.IO disconnect.
  const back = once(alice, 'resumed');
  alice.io.engine.transport.ws._socket.destroy();
  for (let i = 100; i < 200; i++) bob.emit('message', room, i);
  const [resumed] = await back;
  assert.equal(resumed.id, aliceId);
  assert.deepEqual(resumed.rooms, [room]);
  while (received.length < 200) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(received, Array.from({ length: 200 }, (_, i) => i));

  // Bob heard she was away, never that she left, and she speaks as before.
  const heard = [];
  while (heard.filter((e) => e.name === 'message').length < 200) heard.push(await bob.next());
  alice.emit('message', room, 'after');
  heard.push(await bob.next());
  if (!heard.some((e) => e.name === 'away')) heard.push(await bob.next());
  assert.deepEqual(heard.filter((e) => e.name !== 'message'), [{ name: 'away', args: [room, aliceId] }]);
  assert.deepEqual(heard.find((e) => e.args[2] === 'after')?.args, [room, aliceId, 'after']);
  await bob.quiet();
  alice.close();
  bob.close();
});
