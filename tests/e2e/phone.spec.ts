import type { Page } from '@playwright/test';
import { MiB } from '../../shared/units.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';
import { E2E_ADMIN_TOKEN } from './fixtures/settings.ts';

/** The page is no wider than the screen: nothing to scroll sideways. */
async function sideScroll(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

async function top(page: Page, heading: string): Promise<number> {
  return (await page.getByRole('heading', { name: heading, exact: true }).boundingBox())!.y;
}

const LONG_NAME = 'holiday-video-of-the-whole-family-at-the-seaside-in-august-2026.mp4';

for (const width of [360, 390, 430]) {
  test(`at ${width} px the page fits the screen, Upload and My files come first, and long names are shortened until focused`, async ({ peers }) => {
    const [owner] = await peers(3);
    const page = owner!.page;
    await page.setViewportSize({ width, height: 800 });
    expect(await sideScroll(page), 'first run').toBe(0);
    await page.getByRole('button', { name: 'Done' }).click();

    expect(await top(page, 'Upload')).toBeLessThan(await top(page, 'My files'));
    expect(await top(page, 'My files')).toBeLessThan(await top(page, 'This browser in the cloud'));
    // Upload is on the first screen.
    expect(await top(page, 'Upload')).toBeLessThan(800);

    const file = randomFile(LONG_NAME, 3 * MiB);
    await owner!.upload(file);
    await owner!.waitStored(LONG_NAME, 'Stored on 2 of 2 peers');
    expect(await sideScroll(page), 'with a file').toBe(0);

    // Shortened with an ellipsis, on one line…
    const name = owner!.row(LONG_NAME).getByText(LONG_NAME, { exact: true });
    const fits = () => name.evaluate((element) => element.parentElement!.scrollWidth <= element.parentElement!.clientWidth);
    expect(await fits()).toBe(false);
    await expect(name.locator('..')).toHaveCSS('text-overflow', 'ellipsis');
    await expect(name.locator('..')).toHaveAttribute('title', LONG_NAME);
    // …and whole while its row has the keyboard's focus.
    await page.getByRole('button', { name: `Download ${LONG_NAME}` }).focus();
    await expect.poll(fits).toBe(true);
    expect(await sideScroll(page), 'name shown whole').toBe(0);

    // Everything folded open: still nothing sideways.
    for (const summary of ['Details', 'Bring another device or person', 'Export a recovery kit', 'Import a recovery kit']) {
      await page.locator('summary').filter({ hasText: summary }).click();
    }
    expect(await sideScroll(page), 'details open').toBe(0);
  });
}

test('the dashboard: tables scroll inside their panel with the first column kept in view, and the page never scrolls sideways', async ({ browser, peers }) => {
  const [owner] = await peers(3);
  await owner!.upload(randomFile('wide-tables.pdf', MiB));
  await owner!.waitStored('wide-tables.pdf', 'Stored on 2 of 2 peers');

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto('/admin');
  await page.getByLabel('Admin token').fill(E2E_ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Open dashboard' }).click();
  const scroller = page.getByRole('region', { name: 'Peers table' });
  await expect(scroller.locator(`tr[data-peer-id="${await owner!.id()}"]`)).toBeVisible();

  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 800 });
    expect(await sideScroll(page), `dashboard at ${width} px`).toBe(0);
    // The table is wider than its panel: it scrolls there, and its first column stays.
    expect(await scroller.evaluate((element) => element.scrollWidth > element.clientWidth)).toBe(true);
    const firstCell = scroller.getByRole('rowheader').first();
    const before = (await firstCell.boundingBox())!.x;
    await scroller.evaluate((element) => element.scrollTo({ left: element.scrollWidth }));
    await expect.poll(async () => (await firstCell.boundingBox())!.x).toBe(before);
    await expect(scroller.getByRole('columnheader', { name: 'Replicas' })).toBeInViewport();
    await scroller.evaluate((element) => element.scrollTo({ left: 0 }));
  }
  await context.close();
});
