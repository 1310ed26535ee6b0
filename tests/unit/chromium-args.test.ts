/**
 * Chromium keeps only the last value of a switch: our `--disable-features` must carry
 * Playwright's own list as well as ours, or it silently turns Playwright's back on.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, PLAYWRIGHT_DISABLED_FEATURES } from '../support/chromium.ts';

/** The list in the installed Playwright's chromiumSwitches.ts (bundled into its coreBundle.js). */
function playwrightsDisabledFeatures(): string[] {
  const bundle = readFileSync(fileURLToPath(new URL('../../node_modules/playwright-core/lib/coreBundle.js', import.meta.url)), 'utf8');
  const list = /disabledFeatures = \[([\s\S]*?)\]/.exec(bundle);
  if (!list) throw new Error("Playwright's disabledFeatures list was not found in its bundle: see how chromiumSwitches.ts is shipped now");
  return [...list[1]!.matchAll(/^\s*"([^"]+)"/gm)].map((match) => match[1]!);
}

describe('Chromium flags', () => {
  it('pass one --disable-features, holding every feature Playwright disables', () => {
    const switches = CHROMIUM_ARGS.filter((arg) => arg.startsWith('--disable-features='));
    expect(switches).toHaveLength(1);
    const ours = switches[0]!.slice('--disable-features='.length).split(',');
    const playwrights = playwrightsDisabledFeatures();
    expect(playwrights.length).toBeGreaterThan(5);
    expect(PLAYWRIGHT_DISABLED_FEATURES).toEqual(playwrights);
    for (const feature of [...playwrights, 'WebRtcHideLocalIpsWithMdns']) expect(ours).toContain(feature);
  });
});
