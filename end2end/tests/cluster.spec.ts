import {
  test, expect, expectRemoteVideos, freshRoom, join, lines, remoteTiles, say, startCall,
} from './fixtures';

// Two signalroom instances on one Redis; each page comes from (and connects to) its own.
// scripts/test.sh starts them and names them in SIGNALROOM_CLUSTER_URLS.
const [first, second] = (process.env.SIGNALROOM_CLUSTER_URLS ?? '').split(',').filter(Boolean);

test.skip(!first || !second, 'SIGNALROOM_CLUSTER_URLS is not set (scripts/test.sh sets it)');

test('two browsers on two instances chat, then call each other', async ({ open }) => {
  const room = freshRoom();
  const alice = await open({ name: 'Alice', room, url: first });
  const bob = await open({ name: 'Bob', room, url: second });
  expect(new URL(alice.url()).port).not.toEqual(new URL(bob.url()).port);
  await join(alice);
  await join(bob);

  await say(alice, 'hello from the first instance');
  // An answer, once the first line is there: two senders' lines have no order between them
  // until then (Bob's own reaches him at once, Alice's crosses Redis first).
  await expect.poll(() => lines(bob)).toEqual(['Alice:hello from the first instance']);
  await say(bob, 'hi from the second');
  for (const page of [alice, bob]) {
    await expect
      .poll(() => lines(page))
      .toEqual(['Alice:hello from the first instance', 'Bob:hi from the second']);
  }

  // The offer, answer and candidates cross instances as directed signals.
  await startCall(alice);
  await startCall(bob);
  await expectRemoteVideos(alice, 1);
  await expectRemoteVideos(bob, 1);
  await expect(remoteTiles(alice).locator('.name')).toHaveText('Bob');

  // Leaving on one instance removes the tile on the other.
  await bob.click('#leave');
  await expect(remoteTiles(alice)).toHaveCount(0);
});
