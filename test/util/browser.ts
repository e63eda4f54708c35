/**
 * Headless Chromium for browser tests: Debian's `chromium` driven by playwright-core (its own
 * browser download cannot work offline). Tests skip with a reason when the binary is absent.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Path of the system Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** A reason to skip, or `false` when Chromium is available. */
export function browserSkipReason(): string | false {
  return existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (apt-get install chromium)`;
}

/** Launches headless Chromium with a fresh profile; call `close()` when done. */
export async function launchBrowser(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'samplex-chromium-'));
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
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
