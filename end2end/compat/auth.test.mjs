// Join tokens with every client generation: tokens signed by the `jsonwebtoken` npm package (what
// a Node backend uses), presented as socket.io-client 2.x sends them (a `token` query parameter)
// and as 4.x does (handshake `auth`). SIGNALROOM_SECURED_URL names a server started with
// --auth-secret SIGNALROOM_TEST_SECRET (scripts/test.sh starts it); without it these are skipped.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { CALL_EVENTS, client, flavours, freshRoom } from './client.mjs';

const URL = process.env.SIGNALROOM_SECURED_URL;
const SECRET = process.env.SIGNALROOM_TEST_SECRET;
const skip = URL && SECRET ? false : 'SIGNALROOM_SECURED_URL is not set (scripts/test.sh sets it)';

const sign = (claims, options = { expiresIn: '1h' }) =>
  jwt.sign(claims, SECRET, { algorithm: 'HS256', ...options });

for (const flavour of Object.keys(flavours)) {
  describe(flavour, { skip }, () => {
    test('a valid token joins its rooms under its name; others are forbidden', async () => {
      const room = freshRoom();
      const watcher = await client('socket.io-client 4.x, websocket', URL, CALL_EVENTS, {
        token: sign({ rooms: [room] }),
      });
      await watcher.join(room);
      await watcher.expect('roster');
      const c = await client(flavour, URL, CALL_EVENTS, {
        token: sign({ rooms: [`${room}*`], name: 'Token Name', sub: 'user-42' }),
      });
      c.emit('join', room, 'Asked Name');
      const [, id] = await c.expect('joined');
      assert.deepEqual(await watcher.expect('otherjoin'), [room, id, 'Token Name']);
      await c.expect('roster');
      c.emit('message', room, 'hi');
      for (const member of [watcher, c]) {
        assert.deepEqual(await member.expect('message'), [room, id, 'hi']);
      }
      c.emit('join', 'elsewhere');
      const [refusal] = await c.expect('refused');
      assert.equal(refusal.code, 'forbidden');
      c.close();
      watcher.close();
    });

    test('a missing, expired or wrongly signed token is refused with a reason', async () => {
      const cases = [
        [undefined, /join token is required/],
        [sign({}, { expiresIn: -60 }), /has expired/],
        [jwt.sign({ exp: Math.floor(Date.now() / 1000) + 60 }, 'another secret entirely, 32+ bytes'), /signature is not valid/],
        [sign({}, { notBefore: '10m', expiresIn: '1h' }), /not valid yet/],
      ];
      for (const [token, reason] of cases) {
        await assert.rejects(client(flavour, URL, CALL_EVENTS, { token }), reason);
      }
    });
  });
}
