import { test, expect, freshRoom, join, lines, say, startCall, expectRemoteVideos } from './fixtures';

// The page and Socket.IO over HTTPS and WSS: scripts/test.sh starts a server with
// --tls-self-signed and names it in SIGNALROOM_TLS_URL; its certificate is accepted here as a
// person accepts it in the browser's warning.
const TLS = process.env.SIGNALROOM_TLS_URL;
test.skip(!TLS, 'SIGNALROOM_TLS_URL is not set (scripts/test.sh sets it)');

test('two pages served over HTTPS chat over WSS and call', async ({ open }) => {
  const room = freshRoom();
  const ada = await open({ url: `${TLS}/`, name: 'Ada', room, insecure: true });
  const bob = await open({ url: `${TLS}/`, name: 'Bob', room, insecure: true });
  expect(ada.url()).toMatch(/^https:/);
  await join(ada);
  await join(bob);
  await say(ada, 'over tls');
  await expect.poll(() => lines(bob)).toEqual(['Ada:over tls']);
  await startCall(ada);
  await startCall(bob);
  await expectRemoteVideos(ada, 1);
  await expectRemoteVideos(bob, 1);
});
