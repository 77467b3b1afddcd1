import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test, expect, expectRemoteVideos, freshRoom, join, lines, remoteTiles, say, startCall } from './fixtures';

// A page whose server dies, in a cluster: another instance adopts its session. The test runs a
// cluster of its own, since it kills one instance: scripts/test.sh gives it four ports, for
// Redis, two instances and a load balancer. Ada's page comes through the balancer (a TCP
// forwarder), which sends every connection to instance A, then, once A is killed, to B.
const BASE = Number(process.env.SIGNALROOM_TEST_ADOPT_PORT);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `command` with `args` (in the repository's root), once `ready` resolves true; killed if not. */
async function start(command: string, args: string[], ready: () => Promise<boolean>) {
  const child = spawn(command, args, { cwd: ROOT, stdio: 'ignore' });
  for (let i = 0; i < 50 && child.exitCode === null; i++) {
    if (await ready()) return child;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${command} did not start`);
}

/** A release instance on 127.0.0.1:`port`, on the Redis at `redis`, with a 2 s node timeout. */
const instance = (port: number, redis: number) =>
  start(
    'target/release/signalroom',
    ['--addr', `127.0.0.1:${port}`, '--redis-url', `redis://127.0.0.1:${redis}`,
      '--node-timeout', '2', '--log-file', '', '--log-level', 'warn'],
    () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false),
  );

/** Whether something listens on 127.0.0.1:`port`. */
const listens = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** A TCP forwarder on 127.0.0.1:`port` to the port `target()` names when a connection comes. */
async function balancer(port: number, target: () => number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(target(), '127.0.0.1');
    for (const [from, to] of [[client, upstream], [upstream, client]]) {
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** Redis on 127.0.0.1:`port`, listening. */
const redisServer = (port: number) =>
  start(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    () => listens(port),
  );

test('a page whose instance dies is adopted by another: same peer, same room, the call goes on', async ({ open }) => {
  test.skip(!BASE, 'SIGNALROOM_TEST_ADOPT_PORT is not set (scripts/test.sh sets it)');
  const [redisPort, aPort, bPort, lbPort] = [BASE, BASE + 1, BASE + 2, BASE + 3];
  const children: ChildProcess[] = [];
  let target = aPort;
  const lb = await balancer(lbPort, () => target);
  try {
    children.push(await redisServer(redisPort));
    const a = await instance(aPort, redisPort);
    children.push(a, await instance(bPort, redisPort));

    const room = freshRoom();
    // A's death is logged by the page as its socket closing.
    const ada = await open({ name: 'Ada', room, url: `http://127.0.0.1:${lbPort}/`, expectedErrors: /WebSocket/ });
    // The test's servers stop before its pages close: Bob's page may log its reconnection
    // being refused then.
    const bob = await open({ name: 'Bob', room, url: `http://127.0.0.1:${bPort}/`, expectedErrors: /WebSocket/ });
    await join(ada);
    await join(bob);
    await say(ada, 'a1');
    await expect.poll(() => lines(bob)).toEqual(['Ada:a1']);
    await startCall(ada);
    await startCall(bob);
    await expectRemoteVideos(ada, 1);
    await expectRemoteVideos(bob, 1);
    const adaPeer = await remoteTiles(bob).getAttribute('data-peer');

    target = bPort;
    a.kill('SIGKILL');
    await once(a, 'exit');
    await expect(ada.locator('#status')).toContainText('Reconnected through another server', { timeout: 20_000 });
    // Bob's tile for Ada was marked while she was away, and is hers again: the same peer.
    await expect(remoteTiles(bob)).toHaveAttribute('data-away', 'false');
    await expect(remoteTiles(bob)).toHaveCount(1);
    expect(await remoteTiles(bob).getAttribute('data-peer')).toEqual(adaPeer);
    await expectRemoteVideos(ada, 1);
    await expectRemoteVideos(bob, 1);

    // The room goes on, both ways, and signaling too: hanging up reaches Bob.
    await say(ada, 'a2');
    await expect.poll(() => lines(bob)).toEqual(['Ada:a1', 'Ada:a2']);
    await say(bob, 'b1');
    await expect.poll(() => lines(ada)).toEqual(['Ada:a1', 'Ada:a2', 'Bob:b1']);
    await ada.click('#hang-up');
    await expect(remoteTiles(bob)).toHaveCount(0);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    lb.close();
  }
});
