/**
 * Headless Chromium for browser tests: Debian's `chromium` driven by playwright-core (its own
 * browser download cannot work offline). Tests skip with a reason when the binary is absent.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Path of the system Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** A reason to skip, or `false` when Chromium is available. */
export function browserSkipReason(): string | false {
  return existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (apt-get install chromium)`;
}

/** Launches headless Chromium (playwright gives it a fresh temporary profile); call `close()` when done. */
export async function launchBrowser(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}
