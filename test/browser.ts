/**
 * What the browser tests share: Debian's Chromium through playwright-core (never a
 * downloaded browser), the axe-core scan, desktop and phone screenshots, a page that records
 * third-party requests and CSP violations, and signing a console user in with TOTP. A console
 * suite opens its server, organisation and browser with `consoleSuite` and adds its users
 * with `addConsoleUser`.
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
import { afterAll, beforeAll } from 'vitest';
import { CONSOLE_DIR } from '../src/http/console.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { openTestRuntime, type TestRuntime, type TestRuntimeOptions } from './helpers.js';

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
  for (const [view, suffix] of [
    [DESKTOP, 'desktop'],
    [PHONE_VIEW, 'phone'],
  ] as const) {
    await page.setViewportSize(view);
    // Two frames: the page lays out again at the new width and paints before the capture
    // (without them a tall page's phone capture can show parts of the old paint, blank).
    await page.evaluate(
      '(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))()',
    );
    await page.screenshot({ path: path.join(dir, `${name}-${suffix}.png`), fullPage: true });
  }
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

/** What a console suite's tests use, filled in by its `beforeAll` (see `consoleSuite`). */
export interface ConsoleSuite {
  t: TestRuntime;
  /** The server's address, e.g. http://127.0.0.1:40123. */
  base: string;
  /** The suite's organisation. */
  orgId: string;
  browser: Browser;
  /** Where the suite's screenshots go (see `screenshotDir`). */
  shots: string;
}

/**
 * Registers a console suite's hooks; call it in the suite's `describe`. Before all: a test
 * runtime (`env` and `runtime` added to the defaults) listening on 127.0.0.1, one
 * organisation, then `seed` (e.g. users, traffic, starting the workers), then Chromium.
 * After all: the browser closed, the runtime cleaned up, temporary screenshots removed.
 * The returned object is filled in when the first hook has run.
 */
export function consoleSuite(opts: {
  /** Names the temporary screenshot directory. */
  shots: string;
  /** The organisation's name (default Lakeside Clinic). */
  orgName?: string;
  env?: Record<string, string>;
  runtime?: TestRuntimeOptions['runtime'];
  seed?: (suite: ConsoleSuite) => Promise<void>;
}): ConsoleSuite {
  const suite = {} as ConsoleSuite;
  let discard = () => {};
  beforeAll(async () => {
    suite.t = await openTestRuntime({
      // Loopback and a port of its own are openTestRuntime's defaults.
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.runtime ? { runtime: opts.runtime } : {}),
    });
    suite.orgId = (
      await suite.t.rt.orgs.create(opts.orgName ?? 'Lakeside Clinic', SYSTEM_ACTOR)
    ).orgId;
    suite.base = await suite.t.rt.listen();
    const shots = screenshotDir(opts.shots);
    suite.shots = shots.dir;
    discard = shots.discard;
    await opts.seed?.(suite);
    suite.browser = await launchChromium();
  }, BROWSER_HOOK_TIMEOUT);
  afterAll(async () => {
    await suite.browser?.close();
    await suite.t?.cleanup();
    discard();
  }, BROWSER_HOOK_TIMEOUT);
  return suite;
}

/** A password for console users that the password rules accept. */
export const CONSOLE_PASSWORD = 'harbour lantern quill 77';

/**
 * Adds a user to the suite's organisation with a password already set (as if they had
 * followed their set-up link); they enrol TOTP at their first sign-in (`signIn`).
 */
export async function addConsoleUser(
  suite: Pick<ConsoleSuite, 't' | 'orgId'>,
  email: string,
  role: 'admin' | 'provider' | 'staff' | 'auditor',
  password = CONSOLE_PASSWORD,
): Promise<{ id: string; email: string; password: string }> {
  const { user, setupToken } = await suite.t.rt.users.create(
    suite.orgId,
    email,
    role,
    SYSTEM_ACTOR,
  );
  await suite.t.rt.users.completeSetup(setupToken, password);
  return { id: user.id, email, password };
}
