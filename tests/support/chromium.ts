/**
 * Finding a Chromium for the end-to-end tests and benchmarks. Playwright's own download
 * (`npx playwright install`) is not possible everywhere, so the order is: an explicit
 * path (CHROMIUM_PATH), Playwright's own browser if it was installed, then the system's.
 */
import { existsSync } from 'node:fs';
import { chromium } from '@playwright/test';

const SYSTEM_CHROMIUMS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/**
 * The features Playwright 1.65 disables with its own `--disable-features` (its
 * chromiumSwitches.ts). Chromium keeps only the last value of a switch, so ours below would
 * otherwise replace Playwright's whole list and turn these back on: among them PaintHolding,
 * MediaRouter (device discovery), OptimizationHints, HttpsUpgrades and the beforeunload check
 * tests rely on. tests/unit/chromium-args.test.ts fails when Playwright's list changes.
 */
export const PLAYWRIGHT_DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'TcpPortRandomizationWin',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'msForceBrowserSignIn',
  'msEdgeUpdateLaunchServicesPreferredVersion',
];

/** Flags that make headless Chromium quiet and able to do WebRTC on a private network (docs/DEVELOPERS.md). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // WebRtcHideLocalIpsWithMdns: candidates carry the namespace's address, not an mDNS name
  // nobody on a private test network can resolve.
  // WebUIOmnibox…Popup: Chromium 156 gives every window (every browser context) a hidden
  // omnibox popup rendered by a WebUI renderer of its own, which stays busy even headless:
  // measured here, 130 ms of CPU per second per context while the pages themselves were idle
  // (three idle contexts: 4.65 s of CPU in 10 s with it, 0.15 s without). A test with six
  // peers lost most of a core to address bars nobody sees.
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, 'WebRtcHideLocalIpsWithMdns', 'WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'WebUIOmniboxFullPopup'].join(',')}`,
];

export function findChromium(): string | undefined {
  const explicit = process.env.CHROMIUM_PATH;
  if (explicit) return existsSync(explicit) ? explicit : undefined;
  try {
    const own = chromium.executablePath();
    if (own && existsSync(own)) return own;
  } catch {
    // Playwright throws when its browser was never downloaded: fall through to the system's.
  }
  return SYSTEM_CHROMIUMS.find((path) => existsSync(path));
}

export const CHROMIUM_HELP = `No Chromium found for the end-to-end tests. Either:
  - set CHROMIUM_PATH to a Chromium or Chrome executable, or
  - run \`npx playwright install chromium\` where downloads are allowed, or
  - on Debian/Ubuntu: \`sudo apt-get install -y chromium\` (the tests install it themselves when run as root on Debian).`;
