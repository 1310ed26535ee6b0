import { expect, test } from '@playwright/test';

test('the tracker serves the web app on its own origin', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Peercloud', exact: true })).toBeVisible();
});
