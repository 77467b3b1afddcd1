// The same contract across a cluster: socket.io-client 2.x and 4.x spread over two signalroom
// instances on one Redis, and a 2.x session resumed on the instance it did not begin on. SIGNALROOM_CLUSTER_URLS names the two (scripts/test.sh starts them);
// without it these tests are skipped.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import io2 from 'socket.io-client-v2';
import { CALL_EVENTS, client, freshRoom, once } from './client.mjs';

const [A, B] = (process.env.SIGNALROOM_CLUSTER_URLS ?? '').split(',').filter(Boolean);
const skip = A && B ? false : 'SIGNALROOM_CLUSTER_URLS is not set (scripts/test.sh sets it)';

const OLD = 'socket.io-client 2.x, polling then websocket';
const MODERN = 'socket.io-client 4.x, websocket';
const pairs = [
  [OLD, A, MODERN, B],
  [MODERN, A, OLD, B],
  ['socket.io-client 4.x, polling', B, 'socket.io-client 2.x, websocket', A],
];

for (const [oneFlavour, oneUrl, otherFlavour, otherUrl] of pairs) {
  describe(`${oneFlavour} on one instance, ${otherFlavour} on the other`, { skip }, () => {
    test('join, message both ways, 300 in order, leave and disconnect with bye', async () => {
      const room = freshRoom();
      const one = await client(oneFlavour, oneUrl);
      const other = await client(otherFlavour, otherUrl);
      const oneId = await one.join(room);
      const otherId = await other.join(room);

      one.emit('message', room, 'Chrome:hello 中文 🎉');
      for (const c of [one, other]) {
        assert.deepEqual(await c.expect('message'), [room, oneId, 'Chrome:hello 中文 🎉']);
      }
      for (let i = 0; i < 300; i++) other.emit('message', room, `m${i}`);
      for (const c of [one, other]) {
        for (let i = 0; i < 300; i++) {
          assert.deepEqual(await c.expect('message'), [room, otherId, `m${i}`]);
        }
      }

      other.emit('leave', room);
      assert.deepEqual(await other.expect('leaved'), [room, otherId]);
      assert.deepEqual(await one.expect('bye'), [room, otherId]);
      const again = await other.join(room);
      assert.equal(again, otherId);
      one.close();
      assert.deepEqual(await other.expect('bye'), [room, oneId]);
      await other.quiet();
      other.close();
    });

    test('rooms stay isolated across instances', async () => {
      const [roomA, roomB] = [freshRoom(), freshRoom()];
      const one = await client(oneFlavour, oneUrl);
      const other = await client(otherFlavour, otherUrl);
      await one.join(roomA);
      await other.join(roomB);
      one.emit('message', roomA, 'only for A');
      assert.equal((await one.expect('message'))[2], 'only for A');
      await other.quiet();
      one.close();
      other.close();
    });
  });
}

test('a call across instances: names, otherjoin, full, directed signals', { skip }, async () => {
  const room = freshRoom();
  const old = await client(OLD, A, CALL_EVENTS);
  const modern = await client(MODERN, B, CALL_EVENTS);
  const third = await client('socket.io-client 2.x, websocket', B, CALL_EVENTS);

  old.emit('join', room, { name: 'Old', capacity: 2 });
  const [, oldId] = await old.expect('joined');
  assert.deepEqual(await old.expect('roster'), [room, []]);
  modern.emit('join', room, 'Modern');
  const [, modernId] = await modern.expect('joined');
  assert.deepEqual(await modern.expect('roster'), [room, [{ id: oldId, name: 'Old' }]]);
  assert.deepEqual(await old.expect('otherjoin'), [room, modernId, 'Modern']);

  // The first joiner, on the other instance, asked for two seats.
  third.emit('join', room);
  const [fullRoom] = await third.expect('full');
  assert.equal(fullRoom, room);

  const offer = { type: 'offer', sdp: 'v=0\r\n' };
  modern.emit('signal', room, oldId, offer);
  assert.deepEqual(await old.expect('signal'), [room, modernId, offer]);
  const answer = { type: 'answer', sdp: 'v=0\r\n' };
  old.emit('signal', room, modernId, answer);
  assert.deepEqual(await modern.expect('signal'), [room, oldId, answer]);
  await third.quiet();
  for (const c of [old, modern, third]) c.close();
});

/**
 * A socket.io-client 2.x resumable session (the query, as 2.x has no handshake auth) on `url`:
 * its messages' data in `received`, and `position()` the last position it was sent.
 */
function resumable2x(url, query, received) {
  const socket = io2(url, { forceNew: true, reconnection: false, transports: ['websocket'], query });
  let seq = 0;
  for (const name of [...CALL_EVENTS, 'away', 'back']) {
    socket.on(name, (...args) => {
      const last = args.at(-1);
      if (last && typeof last === 'object' && typeof last.seq === 'number') seq = last.seq;
      if (name === 'message') received.push(args[2]);
    });
  }
  return { socket, position: () => seq };
}

test('a socket.io-client 2.x session begun on one instance resumes on the other', { skip }, async () => {
  const room = freshRoom();
  const received = [];
  const first = resumable2x(A, { resume: 1 }, received);
  const [session] = await once(first.socket, 'resumable');
  first.socket.emit('join', room);
  const [, aliceId] = await once(first.socket, 'joined');
  const bob = await client(MODERN, B, ['joined', 'message']);
  await bob.join(room);
  for (let i = 0; i < 50; i++) bob.emit('message', room, i);
  while (received.length < 20) await new Promise((r) => setTimeout(r, 5));

  // The network drops; she comes back through the other instance, which carries her session.
  first.socket.io.engine.transport.ws._socket.destroy();
  for (let i = 50; i < 100; i++) bob.emit('message', room, i);
  const query = { resume_token: session.token, resume_seq: first.position() };
  const second = resumable2x(B, query, received);
  const [resumed] = await once(second.socket, 'resumed');
  assert.equal(resumed.id, aliceId);
  assert.deepEqual(resumed.rooms, [room]);
  while (received.length < 100) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(received, Array.from({ length: 100 }, (_, i) => i));
  second.socket.emit('message', room, 'from 2.x');
  let heard;
  do heard = await bob.expect('message'); while (heard[2] !== 'from 2.x');
  assert.deepEqual(heard, [room, aliceId, 'from 2.x']);
  second.socket.close();
  bob.close();
});
