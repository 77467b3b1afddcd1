import base from '../playwright.config';
import { defineConfig } from '@playwright/test';

// The benchmark's own Playwright run: the browser settings of the tests, one worker, no retries.
export default defineConfig({
  ...base,
  testDir: '.',
  workers: 1,
  reporter: [['list']],
  webServer: undefined,
});
