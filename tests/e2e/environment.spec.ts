import { expect, test, type Page } from '@playwright/test';
import { CRASH_TEXT } from './fixtures/page-text.ts';
import { E2E_PORT } from './fixtures/settings.ts';

/** Every request the page makes, to tell that it did nothing but load itself. */
function requestsOf(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (request) => urls.push(new URL(request.url()).pathname));
  return urls;
}

test('opened at an insecure address, the page says what is wrong and how to fix it, and does nothing else', async ({ browser }) => {
  // An address Chromium treats as insecure (plain http, not localhost), answered by the e2e
  // tracker through the test: nothing goes to any network.
  const insecure = `http://peercloud.test:${E2E_PORT}`;
  const context = await browser.newContext();
  await context.route(`${insecure}/**`, async (route) => {
    const url = new URL(route.request().url());
    const response = await route.fetch({ url: `http://127.0.0.1:${E2E_PORT}${url.pathname}${url.search}` });
    await route.fulfill({ response });
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const requests = requestsOf(page);
  await page.goto(`${insecure}/`);

  expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
  const problem = page.getByTestId('environment-problem');
  await expect(problem.getByRole('heading')).toHaveText('This address is not secure, so Peercloud can’t start');
  await expect(problem).toContainText(`You opened Peercloud at ${insecure}`);
  await expect(problem.getByRole('link', { name: `https://peercloud.test:${E2E_PORT}/` })).toBeVisible();
  await expect(problem.getByRole('link', { name: `http://localhost:${E2E_PORT}/` })).toBeVisible();
  await expect(page.locator('body')).not.toContainText(CRASH_TEXT);

  // Nothing else happened: no challenge, no socket, no identity in IndexedDB.
  expect(errors).toEqual([]);
  expect(requests.filter((path) => path.startsWith('/api') || path.startsWith('/socket.io'))).toEqual([]);
  const databases = await page.evaluate(async () => (await indexedDB.databases()).map((db) => db.name));
  expect(databases).toEqual([]);
  await context.close();
});

for (const [api, named, remove] of [
  ['Web Locks', 'Web Locks (navigator.locks)', () => delete (Navigator.prototype as { locks?: unknown }).locks],
  ['the origin-private file system', 'the origin-private file system (navigator.storage.getDirectory)', () => delete (StorageManager.prototype as { getDirectory?: unknown }).getDirectory],
  ['Web Crypto', 'Web Crypto (crypto.subtle)', () => delete (Crypto.prototype as { subtle?: unknown }).subtle],
] as const) {
  test(`a secure page in a browser without ${api} names what is missing`, async ({ browser }) => {
    const context = await browser.newContext();
    await context.addInitScript(remove);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const requests = requestsOf(page);
    await page.goto('/');
    const problem = page.getByTestId('environment-problem');
    await expect(problem.getByRole('heading')).toHaveText('This browser lacks what Peercloud needs');
    await expect(problem.getByRole('listitem')).toHaveText([named]);
    await expect(page.locator('body')).not.toContainText(CRASH_TEXT);
    expect(errors).toEqual([]);
    expect(requests.filter((path) => path.startsWith('/api') || path.startsWith('/socket.io'))).toEqual([]);
    await context.close();
  });
}
