// The tutorial's wire contract, spoken by the Socket.IO clients real users have: socket.io-client
// 2.x (what the tutorial's page loads) and 4.x, over each transport, against a running server.
// SIGNALROOM_URL says where (scripts/test.sh starts the server and sets it).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CALL_EVENTS, client as connect, flavours, freshRoom } from './client.mjs';

const URL = process.env.SIGNALROOM_URL ?? 'http://127.0.0.1:9980';
const client = (flavour, events) => connect(flavour, URL, events);

for (const flavour of Object.keys(flavours)) {
  describe(flavour, () => {
    test('join, message to all (sender included), leave with bye and leaved', async () => {
      const room = freshRoom();
      const alice = await client(flavour);
      const bob = await client(flavour);
      const aliceId = await alice.join(room);
      const bobId = await bob.join(room);
      assert.notEqual(aliceId, bobId);

      alice.emit('message', room, 'Chrome:hello 中文 🎉');
      for (const c of [alice, bob]) {
        assert.deepEqual(await c.expect('message'), [room, aliceId, 'Chrome:hello 中文 🎉']);
      }

      alice.emit('leave', room);
      assert.deepEqual(await alice.expect('leaved'), [room, aliceId]);
      assert.deepEqual(await bob.expect('bye'), [room, aliceId]);
      await alice.quiet();
      alice.close();
      bob.close();
    });

    test('rooms are isolated', async () => {
      const [roomA, roomB] = [freshRoom(), freshRoom()];
      const alice = await client(flavour);
      const carol = await client(flavour);
      await alice.join(roomA);
      await carol.join(roomB);
      alice.emit('message', roomA, 'only for A');
      assert.equal((await alice.expect('message'))[2], 'only for A');
      await carol.quiet();
      alice.close();
      carol.close();
    });

    test('a disconnect without leave says bye to the room', async () => {
      const room = freshRoom();
      const alice = await client(flavour);
      const bob = await client(flavour);
      const aliceId = await alice.join(room);
      await bob.join(room);
      alice.close();
      assert.deepEqual(await bob.expect('bye'), [room, aliceId]);
      bob.close();
    });

    test('500 back-to-back messages arrive complete and in order', async () => {
      const room = freshRoom();
      const sender = await client(flavour);
      const receiver = await client(flavour);
      const senderId = await sender.join(room);
      await receiver.join(room);
      for (let i = 0; i < 500; i++) sender.emit('message', room, `m${i}`);
      for (const c of [receiver, sender]) {
        for (let i = 0; i < 500; i++) {
          assert.deepEqual(await c.expect('message'), [room, senderId, `m${i}`]);
        }
      }
      sender.close();
      receiver.close();
    });

    test('a bad event is refused and the connection keeps working', async () => {
      const alice = await client(flavour);
      alice.emit('join', ['not', 'a', 'string']);
      const [refusal] = await alice.expect('refused');
      assert.equal(refusal.event, 'join');
      assert.equal(refusal.code, 'bad_arguments');
      await alice.join(freshRoom());
      alice.close();
    });
  });
}

test('2.x and 4.x clients chat in one room', async () => {
  const room = freshRoom();
  const old = await client('socket.io-client 2.x, polling then websocket');
  const modern = await client('socket.io-client 4.x, websocket');
  const oldId = await old.join(room);
  const modernId = await modern.join(room);
  old.emit('message', room, 'from 2.x');
  assert.deepEqual(await modern.expect('message'), [room, oldId, 'from 2.x']);
  assert.deepEqual(await old.expect('message'), [room, oldId, 'from 2.x']);
  modern.emit('message', room, 'from 4.x');
  assert.deepEqual(await old.expect('message'), [room, modernId, 'from 4.x']);
  assert.deepEqual(await modern.expect('message'), [room, modernId, 'from 4.x']);
  old.close();
  modern.close();
});

test('2.x and 4.x clients signal a call: names, otherjoin, full, directed signals', async () => {
  const room = freshRoom();
  const old = await client('socket.io-client 2.x, polling then websocket', CALL_EVENTS);
  const modern = await client('socket.io-client 4.x, websocket', CALL_EVENTS);
  const third = await client('socket.io-client 2.x, websocket', CALL_EVENTS);

  old.emit('join', room, { name: 'Old', capacity: 2 });
  const [, oldId] = await old.expect('joined');
  assert.deepEqual(await old.expect('roster'), [room, []]);
  modern.emit('join', room, 'Modern');
  const [, modernId] = await modern.expect('joined');
  assert.deepEqual(await modern.expect('roster'), [room, [{ id: oldId, name: 'Old' }]]);
  assert.deepEqual(await old.expect('otherjoin'), [room, modernId, 'Modern']);

  // The first joiner asked for two seats.
  third.emit('join', room);
  const [fullRoom, thirdId] = await third.expect('full');
  assert.equal(fullRoom, room);
  assert.equal(typeof thirdId, 'string');

  const offer = { type: 'offer', sdp: 'v=0\r\n' };
  modern.emit('signal', room, oldId, offer);
  assert.deepEqual(await old.expect('signal'), [room, modernId, offer]);
  const answer = { type: 'answer', sdp: 'v=0\r\n' };
  old.emit('signal', room, modernId, answer);
  assert.deepEqual(await modern.expect('signal'), [room, oldId, answer]);
  old.emit('signal', room, thirdId, { type: 'hangup' });
  assert.equal((await old.expect('refused'))[0].code, 'unknown_peer');

  old.emit('ice_servers');
  assert.deepEqual(await old.expect('ice_servers'), [[]]);
  await third.quiet();
  for (const c of [old, modern, third]) c.close();
});
