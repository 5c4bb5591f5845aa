/**
 * What the browser tests share: Debian's Chromium through playwright-core (never a
 * downloaded browser), the axe-core scan, desktop and phone screenshots, a page that records
 * third-party requests and CSP violations, and signing a console user in with TOTP.
 * A suite that needs the browser runs under `describe.skipIf(!browserReady(...))`, which
 * prints a visible `[skipped]` line saying why.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Locator,
  type Page,
} from 'playwright-core';
import { generateSync } from 'otplib';
import { CONSOLE_DIR } from '../src/http/console.js';

export const CHROMIUM = '/usr/bin/chromium';
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE_VIEW = { width: 390, height: 844 };
/** Long enough for a browser to start while the rest of the suite runs on two cores. */
export const BROWSER_HOOK_TIMEOUT = 120_000;

/**
 * Whether a browser suite can run; prints why not. `console`: the suite also needs the
 * built console.
 */
export function browserReady(suite: string, opts: { console?: boolean } = {}): boolean {
  if (!fs.existsSync(CHROMIUM)) {
    console.warn(`[skipped] ${suite}: ${CHROMIUM} is not installed (apt-get install chromium)`);
    return false;
  }
  if (opts.console && !fs.existsSync(path.join(CONSOLE_DIR, 'index.html'))) {
    console.warn(`[skipped] ${suite}: the console is not built (npm run build)`);
    return false;
  }
  return true;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Where screenshots go: docs/images/ with TIDINGS_UPDATE_SCREENSHOTS=1, else a temporary
 * directory that `discard` removes.
 */
export function screenshotDir(prefix: string): { dir: string; discard: () => void } {
  if (process.env.TIDINGS_UPDATE_SCREENSHOTS) {
    return { dir: path.resolve(import.meta.dirname, '..', 'docs', 'images'), discard: () => {} };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-shots-`));
  return { dir, discard: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Desktop and phone screenshots of the page as it is now: `{dir}/{name}-{desktop,phone}.png`. */
export async function screenshots(page: Page, dir: string, name: string): Promise<void> {
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: path.join(dir, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE_VIEW);
  await page.screenshot({ path: path.join(dir, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}

let axeSource: string | undefined;

/** Serious and critical axe-core violations on the page as it is now. */
export async function axeViolations(page: Page): Promise<string[]> {
  axeSource ??= fs.readFileSync(createRequire(import.meta.url).resolve('axe-core'), 'utf8');
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const found = await page.evaluate<{ id: string; impact: string | null; nodes: number }[]>(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) =>
       r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })))`,
  );
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}, ${v.nodes} nodes)`);
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Requests that left `base`. */
  thirdParty: string[];
  cspViolations: string[];
}

/** A fresh desktop page that records third-party requests and CSP violations. */
export async function openPage(browser: Browser, base: string): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const thirdParty: string[] = [];
  const cspViolations: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) thirdParty.push(r.url());
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return { context, page, thirdParty, cspViolations };
}

/** The TOTP code for `secret`, `offsetSteps` 30-second steps from now. */
export function totp(secret: string, offsetSteps = 0): string {
  return generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
}

/**
 * Signs a console user in through the sign-in page: password, then TOTP enrolment (first
 * time; returns the new secret) or a code from `secret`, then accepts the texting policy if
 * it is due. Ends on the user's first page.
 */
export async function signIn(
  page: Page,
  base: string,
  creds: { email: string; password: string; secret?: string; step?: number },
): Promise<string> {
  await page.goto(`${base}/console/`);
  await page.getByLabel('E-mail address').fill(creds.email);
  await page.getByLabel('Password').fill(creds.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (creds.secret) {
    await page.getByLabel('6-digit code').fill(totp(creds.secret, creds.step ?? 0));
    await page.getByRole('button', { name: 'Verify' }).click();
    await acceptPolicyIfAsked(page);
    return creds.secret;
  }
  const secret = (await page.getByTestId('totp-secret').textContent())!;
  await page.getByLabel('6-digit code').fill(totp(secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();
  await acceptPolicyIfAsked(page);
  return secret;
}

/**
 * Waits for the first page after sign-in; when the organisation's texting policy is due
 * (web/policy-gate), accepts it first.
 */
export async function acceptPolicyIfAsked(page: Page): Promise<void> {
  const nav = page.getByRole('navigation', { name: 'Main' });
  const accept = page.getByRole('button', { name: 'I have read and accept' });
  await nav.or(accept).first().waitFor();
  if (await accept.isVisible()) await accept.click();
  await nav.waitFor();
}

/**
 * The text of `locator` once it contains `want`: a page changes after its request answers,
 * so reading the text at once would race the update. Fails after `timeout` ms.
 */
export async function textOf(
  locator: Locator,
  want: string | RegExp,
  timeout = 15_000,
): Promise<string> {
  await locator.filter({ hasText: want }).first().waitFor({ timeout });
  return (await locator.first().textContent()) ?? '';
}
