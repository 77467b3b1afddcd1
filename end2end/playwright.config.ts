import { defineConfig } from '@playwright/test';

// scripts/test.sh starts a release server and sets SIGNALROOM_URL; run alone, Playwright starts
// one itself from a release build (`scripts/build.sh`).
const external = process.env.SIGNALROOM_URL;
const baseURL = external ?? 'http://127.0.0.1:9986';

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 2,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    browserName: 'chromium',
    launchOptions: {
      // Debian's Chromium: `npx playwright install` cannot download a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        // The call tests: a synthetic camera and microphone, granted without a prompt.
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
      ],
    },
  },
  webServer: external
    ? undefined
    : {
        command: 'target/release/signalroom --addr 127.0.0.1:9986 --log-file ""',
        cwd: '..',
        url: baseURL,
        reuseExistingServer: false,
      },
});
