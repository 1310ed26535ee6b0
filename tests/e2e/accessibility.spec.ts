import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { MiB } from '../../shared/units.ts';
import { expect, randomFile, randomFileOnDisk, sha256, test } from './fixtures/peers.ts';
import { E2E_ADMIN_TOKEN } from './fixtures/settings.ts';

/** WCAG 2.0, 2.1 and 2.2 at levels A and AA: what axe-core can check automatically. */
async function violations(page: Page): Promise<{ id: string; impact: string | null | undefined; targets: string[] }[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa']).analyze();
  // Rules did run and pass (contrast, names, landmarks…): an empty list means checked, not skipped.
  expect(results.passes.length).toBeGreaterThan(10);
  return results.violations.map((violation) => ({ id: violation.id, impact: violation.impact, targets: violation.nodes.map((node) => node.target.join(' ')) }));
}

test('the page has no WCAG AA violation axe can find, in its main states', async ({ browser, peers }) => {
  // Seven axe runs and an upload on two shared cores.
  test.setTimeout(180_000);
  const [owner] = await peers(1);
  const page = owner!.page;
  // First run, alone, with an upload waiting for a peer.
  await owner!.upload(randomFile('waiting.txt', 1000));
  await expect(page.getByRole('alert').filter({ hasText: 'No other peer is online' })).toBeVisible();
  expect(await violations(page), 'first run, alone').toEqual([]);

  await page.getByRole('button', { name: 'Done' }).click();
  await peers(2);
  await owner!.waitStored('waiting.txt', 'Stored on 2 of 2 peers');
  const big = randomFileOnDisk('in-progress.bin', 8 * MiB);
  // A slow uplink keeps it in progress through the checks below.
  await owner!.setFaults({ uplinkBytesPerSecond: MiB });
  await owner!.upload({ path: big.path });
  await expect.poll(() => owner!.progress(`Uploading ${big.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThan(0);
  // Everything folded open, a notice up, a deletion waiting for its undo.
  for (const summary of ['Details', 'Bring another device or person', 'Export a recovery kit', 'Import a recovery kit']) {
    await page.locator('summary').filter({ hasText: summary }).click();
  }
  await page.getByRole('button', { name: 'Export recovery kit' }).click();
  await expect(page.getByText('The passphrase must be at least 10 characters long.')).toBeVisible();
  await page.getByRole('button', { name: 'Delete waiting.txt' }).click();
  expect(await violations(page), 'files, uploads, details, a deletion').toEqual([]);
  // Checked in progress: the rest may go at the channel's speed.
  await owner!.setFaults({ uplinkBytesPerSecond: undefined });
  await owner!.waitStored(big.name, 'Stored on 2 of 2 peers');
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  expect(await violations(page), 'uploads complete').toEqual([]);

  // A second tab of the same browser.
  const second = await owner!.context.newPage();
  await second.goto('/');
  await expect(second.getByRole('heading', { name: 'Peercloud is open in another tab' })).toBeVisible();
  expect(await violations(second), 'another tab').toEqual([]);
  await second.close();

  // Opened where it cannot run.
  const context = await browser.newContext();
  await context.addInitScript(() => delete (Navigator.prototype as { locks?: unknown }).locks);
  const bare = await context.newPage();
  await bare.goto('/');
  await expect(bare.getByTestId('environment-problem')).toBeVisible();
  expect(await violations(bare), 'unsupported browser').toEqual([]);
  await context.close();
});

test('the dashboard has no WCAG AA violation axe can find, signed out and live', async ({ browser, peers }) => {
  const [owner] = await peers(3);
  await owner!.upload(randomFile('axe-check.bin', MiB));
  await owner!.waitStored('axe-check.bin', 'Stored on 2 of 2 peers');
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/admin');
  await page.getByLabel('Admin token').fill('not the token at all');
  await page.getByRole('button', { name: 'Open dashboard' }).click();
  await expect(page.getByRole('alert')).toContainText('not the admin token');
  expect(await violations(page), 'sign-in').toEqual([]);
  await page.getByLabel('Admin token').fill(E2E_ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Open dashboard' }).click();
  await expect(page.getByRole('region', { name: 'Peers table' })).toBeVisible();
  expect(await violations(page), 'live').toEqual([]);
  await page.setViewportSize({ width: 390, height: 800 });
  expect(await violations(page), 'live, phone width').toEqual([]);
  await context.close();
});

/** What has the keyboard's focus: its accessible name (aria-label or text). */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const element = document.activeElement as HTMLElement | null;
    return element?.getAttribute('aria-label') ?? element?.textContent?.trim() ?? '';
  });
}

async function tabTo(page: Page, name: string): Promise<void> {
  for (let presses = 0; presses < 60; presses++) {
    await page.keyboard.press('Tab');
    if ((await focused(page)) === name) return;
  }
  throw new Error(`Tab never reached "${name}"`);
}

/** The focus ring: 3 px in the focus colour (7.3:1 on white). */
async function expectRing(page: Page, selector = ':focus'): Promise<void> {
  const outline = await page.evaluate((target) => {
    const element = document.querySelector(target)!;
    const style = getComputedStyle(element);
    return { style: style.outlineStyle, width: style.outlineWidth, color: style.outlineColor };
  }, selector);
  expect(outline).toEqual({ style: 'solid', width: '3px', color: 'rgb(31, 79, 184)' });
}

test('keyboard only: skip to upload, choose a file, download it, delete it', async ({ peers }) => {
  const [owner] = await peers(3);
  const page = owner!.page;
  const file = randomFileOnDisk('keyboard.txt', 200_000);
  // Playwright starts intercepting file choosers when the first listener comes; listening from
  // the start, not just before the key press, leaves no window for a chooser it would miss.
  page.on('filechooser', () => undefined);
  await page.locator('body').click({ position: { x: 1, y: 1 } });

  // The first Tab reaches the skip link, which shows itself and takes you to Upload.
  await page.keyboard.press('Tab');
  expect(await focused(page)).toBe('Skip to upload');
  await expect(page.getByRole('link', { name: 'Skip to upload' })).toBeInViewport();
  await expectRing(page);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  expect(await focused(page)).toBe('Choose files');
  await expectRing(page, 'label.button:has(input:focus)');

  const chooser = page.waitForEvent('filechooser');
  await page.keyboard.press('Enter');
  await (await chooser).setFiles(file.path);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');

  await tabTo(page, `Download ${file.name}`);
  await expectRing(page);
  const download = page.waitForEvent('download');
  await page.keyboard.press('Enter');
  expect(sha256(readFileSync(await (await download).path()))).toBe(file.sha256);

  await tabTo(page, `Delete ${file.name}`);
  await page.keyboard.press('Enter');
  // The keyboard is on Undo; moving on lets the deletion happen.
  await expect.poll(() => focused(page)).toBe(`Undo deleting ${file.name}`);
  await expectRing(page);
  await page.keyboard.press('Tab');
  await expect(owner!.row(file.name)).toHaveCount(0, { timeout: 30_000 });
});
