import jwt from 'jsonwebtoken';
import { test, expect, freshRoom, join, lines, say } from './fixtures';

// A server that checks join tokens: scripts/test.sh starts it with --auth-secret
// SIGNALROOM_TEST_SECRET and names it in SIGNALROOM_SECURED_URL.
const SECURED = process.env.SIGNALROOM_SECURED_URL;
const SECRET = process.env.SIGNALROOM_TEST_SECRET ?? '';
test.skip(!SECURED, 'SIGNALROOM_SECURED_URL is not set (scripts/test.sh sets it)');

const sign = (claims: object, expiresIn: number | string = '1h') =>
  jwt.sign(claims, SECRET, { algorithm: 'HS256', expiresIn });
const withToken = (token: string) => `${SECURED}/?token=${encodeURIComponent(token)}`;

test('pages opened with valid tokens join and chat under their tokens\' names', async ({ open }) => {
  const room = freshRoom();
  const ada = await open({ url: withToken(sign({ rooms: [room], name: 'Ada' })), room });
  const bob = await open({ url: withToken(sign({ rooms: [room], name: 'Bob' })), room });
  await join(ada);
  await join(bob);
  await say(ada, 'hello');
  await expect.poll(() => lines(bob)).toEqual(['Ada:hello']);
  // The page took its name from the token.
  await expect(ada.locator('#username')).toHaveValue('Ada');
  // The member list shows the token's name, not the username field's.
  await expect(bob.locator('#members li .name')).toHaveText(['Ada']);
  // Members' pages have no moderation controls.
  await expect(bob.locator('#members .kick')).toHaveCount(0);
});

test('a page with an expired token shows the refusal', async ({ open }) => {
  const page = await open({ url: withToken(sign({}, -60)), room: freshRoom() });
  await page.click('#connect');
  await expect(page.locator('#status')).toContainText('the join token has expired');
  await expect(page.locator('#connect')).toBeEnabled();
  await expect(page.locator('#leave')).toBeDisabled();
});

test('a page without a token on a secured server is told one is required', async ({ open }) => {
  const page = await open({ url: `${SECURED}/`, room: freshRoom() });
  await page.click('#connect');
  await expect(page.locator('#status')).toContainText('a join token is required');
});

test('a moderator kicks a member, whose page says why; a lock keeps newcomers out', async ({ open }) => {
  const room = freshRoom();
  const moderator = await open({
    url: withToken(sign({ rooms: [room], name: 'Mod', role: 'moderator' })),
    room,
  });
  const eve = await open({ url: withToken(sign({ rooms: [room], name: 'Eve' })), room });
  await join(moderator);
  await join(eve);
  const eveEntry = moderator.locator('#members li', { hasText: 'Eve' });
  await eveEntry.locator('.kick').click();
  await expect(eve.locator('#status')).toContainText('Removed from room');
  await expect(eve.locator('#status')).toContainText('a moderator removed you from the room');
  await expect(eve.locator('#connect')).toBeEnabled();
  await expect(moderator.locator('#members li')).toHaveCount(0);
  // The same token may not come back for a while.
  await eve.click('#connect');
  await expect(eve.locator('#status')).toContainText('removed from this room recently');

  await moderator.click('#lock');
  await expect(moderator.locator('#lock')).toHaveText('Unlock room');
  const late = await open({ url: withToken(sign({ rooms: [room], name: 'Late' })), room });
  await late.click('#connect');
  await expect(late.locator('#status')).toContainText('the room is locked');
  await moderator.click('#lock');
  await expect(moderator.locator('#lock')).toHaveText('Lock room');
  await join(late);
  await expect(moderator.locator('#members li .name')).toHaveText(['Late']);
});
