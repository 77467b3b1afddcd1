import { test, expect, freshRoom, join } from './fixtures';

// "Test connectivity" against real TURN servers: scripts/test.sh starts two coturn servers on
// loopback, one sharing the ops server's --turn-secret and one with another secret, and gives the
// ops server (SIGNALROOM_OPS_URL) a STUN URL on the first, a TURN URL on each, and a TURN URL
// where nothing listens.
const OPS = process.env.SIGNALROOM_OPS_URL;
const TURN = process.env.SIGNALROOM_TEST_TURN_PORT;
const WRONG = process.env.SIGNALROOM_TEST_WRONG_TURN_PORT;
const CLOSED = process.env.SIGNALROOM_TEST_CLOSED_PORT;
test.skip(!OPS || !TURN, 'SIGNALROOM_OPS_URL is not set (scripts/test.sh sets it)');

test('the connectivity check says which servers work and what that means for calls', async ({ open }) => {
  const page = await open({ url: `${OPS}/`, room: freshRoom() });
  await expect(page.locator('#test-connectivity')).toBeDisabled();
  await join(page);
  await page.click('#test-connectivity');
  await expect(page.locator('#test-connectivity')).toBeDisabled();
  const lines = page.locator('#connectivity li');
  await expect(lines).toHaveCount(4, { timeout: 30_000 });
  // The browser's own address: the STUN server is on this machine, with no NAT in between.
  await expect(lines.nth(0)).toContainText(`stun:127.0.0.1:${TURN}: reachable`);
  await expect(lines.nth(1)).toContainText(`turn:127.0.0.1:${TURN}?transport=udp: credentials accepted: it relays through 127.0.0.1:`);
  await expect(lines.nth(2)).toContainText(`turn:127.0.0.1:${WRONG}?transport=udp: credentials refused (401)`);
  await expect(lines.nth(3)).toContainText(`turn:127.0.0.1:${CLOSED}?transport=udp: no answer`);
  await expect(page.locator('#connectivity-verdict')).toHaveText(/^TURN works: calls can connect from any network/);
  await expect(page.locator('#test-connectivity')).toBeEnabled();
});
