// What the dashboard's browser tests share: Debian's Chromium driven by
// playwright-core (headless, no sandbox, nothing fetched in the background),
// screenshots in test-output/dashboard/, and the page globals that
// page.evaluate callbacks use (declared there, not with the DOM lib, which
// would change the types of the whole test program).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = path.resolve('test-output/dashboard');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium, once dist/web (npm run build) and the browser are there; says which is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync('dist/web/index.html')) throw new Error('dist/web is missing: run npm run build');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  await mkdir(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/** A full-page screenshot named `name` in test-output/dashboard/. */
export const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/** Whether the page scrolls sideways (it should not, down to a phone's width). */
export const overflowsSideways = (page: Page) =>
  page.evaluate(() => {
    const root = (
      globalThis as unknown as {
        document: { documentElement: { scrollWidth: number; clientWidth: number } };
      }
    ).document.documentElement;
    return root.scrollWidth > root.clientWidth + 1;
  });
