// deploy/compose.yaml after scripts/compose-check.sh stopped one instance
// (SIGNALROOM_PROXY_GONE names it): clients whose stickiness cookie still names that instance,
// as a browser's does after a restart or a crash, are sent to the other one at their first try,
// before the load balancer's health checks have found the instance down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client-v4';
import { freshRoom, once } from '../compat/client.mjs';

const URL = process.env.SIGNALROOM_PROXY_URL;
const GONE = process.env.SIGNALROOM_PROXY_GONE;
const skip = URL && GONE ? false : 'SIGNALROOM_PROXY_URL and SIGNALROOM_PROXY_GONE are not set (scripts/compose-check.sh sets them)';

/** Connects over `transport` with the stale cookie and joins a room: what happened. */
async function connectAndJoin(transport) {
  const socket = io(URL, {
    forceNew: true,
    reconnection: false,
    transports: [transport],
    extraHeaders: { cookie: `SIGNALROOM_SERVER=${GONE}` },
  });
  try {
    const outcome = await Promise.race([
      once(socket, 'connect').then(() => 'connected'),
      once(socket, 'connect_error').then(([err]) => `connect_error: ${err?.message}`),
    ]);
    if (outcome !== 'connected') return `${transport}: ${outcome}`;
    const room = freshRoom();
    socket.emit('join', room);
    const [joined] = await once(socket, 'joined');
    return `${transport}: ${joined === room ? 'joined' : `joined ${joined}`}`;
  } finally {
    socket.close();
  }
}

test('clients whose cookie names a stopped instance reach the other at their first try', { skip }, async () => {
  // Both at the same moment, right after the stop: neither waits for the health checks.
  const outcomes = await Promise.all(['websocket', 'polling'].map(connectAndJoin));
  assert.deepEqual(outcomes, ['websocket: joined', 'polling: joined']);
});
