import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test, expect, freshRoom, join, lines, say } from './fixtures';

// A server that restarts (a deploy, `systemctl restart`) tells its clients `closing` `shutdown`
// before it disconnects them. The page takes that as a drop, not as the end: it reconnects with
// its usual backoff, and the restarted server, which does not know its session, takes it back as
// a new one (`resume_failed`), so the page joins its room again by itself.
//
// The test runs a server of its own (scripts/test.sh gives it a port), to stop and start again.
const PORT = Number(process.env.SIGNALROOM_TEST_RESTART_PORT);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The release server (target/release/signalroom, serving target/site) on 127.0.0.1:`port`,
 * once it answers. */
async function startServer(port: number): Promise<ChildProcess> {
  const args = ['--addr', `127.0.0.1:${port}`, '--log-file', '', '--log-level', 'warn'];
  const server = spawn('target/release/signalroom', args, { cwd: ROOT, stdio: 'ignore' });
  for (let i = 0; i < 50 && server.exitCode === null; i++) {
    const healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (healthy) return server;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  server.kill();
  throw new Error(`signalroom did not answer on 127.0.0.1:${port}`);
}

/** While the server is down, the browser logs each refused attempt: that is the point. */
const expectedErrors = /ERR_CONNECTION_REFUSED|WebSocket connection/;

test('pages whose server restarts reconnect and join their room again', async ({ open }) => {
  test.skip(!PORT, 'SIGNALROOM_TEST_RESTART_PORT is not set (scripts/test.sh sets it)');
  let server = await startServer(PORT);
  try {
    const url = `http://127.0.0.1:${PORT}/`;
    const room = freshRoom();
    const ada = await open({ name: 'Ada', room, url, expectedErrors });
    const bob = await open({ name: 'Bob', room, url, expectedErrors });
    await join(ada);
    await join(bob);
    await say(ada, 'before');
    await expect.poll(() => lines(bob)).toContain('Ada:before');

    server.kill('SIGTERM');
    await once(server, 'exit');
    for (const page of [ada, bob]) {
      await expect(page.locator('#status')).toContainText(/shutting down|Reconnecting/);
      // Still in the room as far as the page is concerned: nothing to click.
      await expect(page.locator('#connect')).toBeDisabled();
    }

    server = await startServer(PORT);
    // Both pages are back in the room once a line from one reaches the other: what Bob says
    // before both joined again is lost (a new session starts empty), so he says it until then.
    await expect
      .poll(
        async () => {
          await say(bob, 'after');
          return lines(ada);
        },
        { timeout: 20_000, intervals: [500] },
      )
      .toContain('Bob:after');
    for (const page of [ada, bob]) await expect(page.locator('#leave')).toBeEnabled();
  } finally {
    server.kill();
  }
});
