import { test, expect, freshRoom, join } from './fixtures';

// The dashboard at /admin, on a server with --api-key: scripts/test.sh starts it and names it in
// SIGNALROOM_OPS_URL, with the key in SIGNALROOM_TEST_API_KEY.
const OPS = process.env.SIGNALROOM_OPS_URL;
const KEY = process.env.SIGNALROOM_TEST_API_KEY ?? '';
test.skip(!OPS, 'SIGNALROOM_OPS_URL is not set (scripts/test.sh sets it)');

const READY = 'main.admin[data-hydrated="true"]';

async function openDashboard(open: Parameters<Parameters<typeof test>[1]>[0]['open']) {
  const admin = await open({ url: `${OPS}/admin`, ready: READY });
  await admin.fill('#api-key', KEY);
  await admin.click('#open-dashboard');
  await expect(admin.locator('#connections')).toBeVisible();
  return admin;
}

test('a page that joins shows on the dashboard within a second, and is kicked from it', async ({ open }) => {
  const admin = await openDashboard(open);
  const room = freshRoom();
  const dana = await open({ url: `${OPS}/`, name: 'Dana', room });
  await join(dana);
  // Measured from the moment the page itself knows it joined.
  const row = admin.locator(`li.room[data-room="${room}"] tr.member`);
  await expect(row.locator('td.name')).toHaveText('Dana', { timeout: 1000 });
  await expect(row.locator('td.transport')).toHaveText('websocket');
  await expect(row.locator('td.since')).toHaveText(/^\d+s$/);
  // Other tests' pages join this server meanwhile: find this room's line.
  const joined = admin.locator('#recent li[data-kind="joined"]').filter({ hasText: room });
  await expect(joined).toHaveCount(1);
  await expect(joined).toContainText('Dana');
  // The charts have the seconds since the server started, and this page's connection.
  await expect(admin.locator('#connections-chart polyline')).toHaveAttribute('points', /\d/);
  await expect(admin.locator('#connections')).not.toHaveText('0');

  await row.locator('button.kick').click();
  await expect(dana.locator('#status')).toContainText('Removed from room');
  await expect(admin.locator(`li.room[data-room="${room}"]`)).toHaveCount(0);
  const left = admin.locator('#recent li[data-kind="left"]').filter({ hasText: room });
  await expect(left).toContainText('Dana');
  await expect(left).toContainText('kicked');
  // Newest first: this room's lines, top to bottom.
  const kinds = () =>
    admin.locator('#recent li').filter({ hasText: room }).evaluateAll((items) => items.map((li) => li.getAttribute('data-kind')));
  await expect.poll(kinds).toEqual(['left', 'joined']);

  // The tab keeps the key: a reload shows the dashboard without asking again.
  await admin.reload();
  await expect(admin.locator('#connections')).toBeVisible();
  await expect(admin.locator('#api-key')).toHaveCount(0);
});

test('closing a room from the dashboard tells everyone in it', async ({ open }) => {
  const admin = await openDashboard(open);
  const room = freshRoom();
  const [ada, bob] = [await open({ url: `${OPS}/`, name: 'Ada', room }), await open({ url: `${OPS}/`, name: 'Bob', room })];
  await join(ada);
  await join(bob);
  const entry = admin.locator(`li.room[data-room="${room}"]`);
  await expect(entry.locator('.count')).toHaveText('2 members');
  await entry.locator('button.close-room').click();
  for (const page of [ada, bob]) await expect(page.locator('#status')).toContainText('Removed from room');
  await expect(entry).toHaveCount(0);
});

test('without the key the dashboard refuses', async ({ open }) => {
  // The browser logs the API's refusal of the wrong key: that is the point.
  const expectedErrors = /status of 403/;
  const admin = await open({ url: `${OPS}/admin`, ready: READY, expectedErrors });
  await expect(admin.locator('#rooms')).toHaveCount(0);
  await admin.fill('#api-key', 'not the key, but long enough');
  await admin.click('#open-dashboard');
  await expect(admin.locator('#notice')).toHaveText('the server refused this API key');
  await expect(admin.locator('#api-key')).toBeVisible();
  await expect(admin.locator('#rooms')).toHaveCount(0);
  // Nor does the API answer without it.
  const response = await admin.request.get(`${OPS}/api/dashboard`);
  expect(response.status()).toBe(401);
});
