// Socket.IO clients as real users have them, for the compatibility suites: socket.io-client 2.x
// (what the tutorial's page loads) and 4.x over each transport, each recording its events.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import io2 from 'socket.io-client-v2';
import { io as io4 } from 'socket.io-client-v4';

export const EVENTS = ['joined', 'leaved', 'bye', 'message', 'refused'];
// The signaling additions; clients that listen only to EVENTS never notice them.
export const CALL_EVENTS = [...EVENTS, 'roster', 'otherjoin', 'full', 'signal', 'ice_servers'];
const WAIT_MS = 10_000;

const base = { forceNew: true, reconnection: false };
// A join token as each generation sends it: socket.io 2 has no handshake auth, so a query
// parameter; socket.io 3+ sends `auth`.
const v2 = (url, token, extra) => io2(url, { ...base, ...extra, ...(token && { query: { token } }) });
const v4 = (url, token, extra) => io4(url, { ...base, ...extra, ...(token && { auth: { token } }) });

/** Each flavour of client, as a function of the server's URL and a join token (if any). */
export const flavours = {
  'socket.io-client 2.x, polling then websocket': (url, token) => v2(url, token, {}),
  'socket.io-client 2.x, websocket': (url, token) => v2(url, token, { transports: ['websocket'] }),
  'socket.io-client 4.x, polling then websocket': (url, token) => v4(url, token, {}),
  'socket.io-client 4.x, websocket': (url, token) => v4(url, token, { transports: ['websocket'] }),
  'socket.io-client 4.x, polling': (url, token) => v4(url, token, { transports: ['polling'] }),
};

const open = new Set();
after(() => open.forEach((s) => s.close()));

/**
 * A client of `flavour` connected to `url` (presenting `token`, if given), recording every event
 * in `events` in arrival order. Rejects with the server's message if it refuses the connection.
 */
export async function client(flavour, url, events = EVENTS, { token } = {}) {
  const socket = flavours[flavour](url, token);
  open.add(socket);
  const queue = [];
  let waiter = null;
  for (const name of events) {
    socket.on(name, (...args) => {
      queue.push({ name, args });
      if (waiter) waiter();
    });
  }
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    const refused = (err) => {
      socket.close();
      open.delete(socket);
      reject(new Error(err?.message ?? String(err)));
    };
    socket.once('connect_error', refused);
    // socket.io-client 2.x reports a refused namespace connection as `error`, with its data.
    socket.once('error', refused);
  });
  const next = async () => {
    const deadline = Date.now() + WAIT_MS;
    while (queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for an event');
      await new Promise((resolve) => {
        // Cleared once woken: a pending timer would keep the test's process alive for it.
        const timer = setTimeout(resolve, left);
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      waiter = null;
    }
    return queue.shift();
  };
  return {
    socket,
    emit: (...args) => socket.emit(...args),
    /** The next event, whatever it is: `{name, args}`. */
    next,
    async expect(name) {
      const event = await next();
      assert.equal(event.name, name, `expected ${name}, got ${JSON.stringify(event)}`);
      return event.args;
    },
    async quiet(ms = 300) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      assert.deepEqual(queue, [], 'expected no further events');
    },
    async join(room) {
      socket.emit('join', room);
      const [joinedRoom, id] = await this.expect('joined');
      assert.equal(joinedRoom, room);
      return id;
    },
    close() {
      socket.close();
      open.delete(socket);
    },
  };
}


/**
 * A socket.io 4 client that resumes by itself: the lines the README shows, what an application
 * would write. `options` go to socket.io-client as well (e.g. `extraHeaders` for a cookie).
 */
export function resumingClient(url, options = {}) {
  let token = null;
  let seq = 0;
  const socket = io4(url, {
    forceNew: true,
    transports: ['websocket'],
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    ...options,
    // Asked at every (re)connection: resume if there is a session, else start a resumable one.
    auth: (cb) => cb({ resume: token ? { token, seq } : true }),
  });
  open.add(socket);
  socket.on('resumable', (session) => { token = session.token; });
  socket.on('resumed', (session) => { token = session.token; });
  socket.on('resume_failed', () => { token = null; seq = 0; });
  // Every event ends with its position.
  socket.onAny((...args) => {
    const last = args.at(-1);
    if (last && typeof last === 'object' && typeof last.seq === 'number') seq = last.seq;
  });
  return socket;
}

/** The arguments of `socket`'s next `event`. */
export const once = (socket, event) =>
  new Promise((resolve) => socket.once(event, (...args) => resolve(args)));

let roomSeq = 0;
/** A room name no other test uses. */
export const freshRoom = () => `compat-${process.pid}-${roomSeq++}`;
