/**
 * The staff console end to end in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser is downloaded), against a real server on 127.0.0.1: a provider
 * opens the one-time set-up link, chooses a password, enrols TOTP from the QR page, keeps the
 * recovery codes, composes with live content-guard feedback and a template, sends a
 * PHI-bearing text and sees it diverted to the portal, looks up the patient's consent, signs
 * out and back in with a TOTP code. Under the guard policy `reject` held text is shown as
 * refused and cannot be sent; under `override` a provider sends it as SMS with a reason (from
 * a chosen pool sender), while staff are never offered the override. An auditor sees only
 * the read-only pages and is signed out after the idle time, warned a minute before. Every
 * page passes an axe-core scan with no serious or critical violation, under the console's
 * CSP, with no third-party request and no PHI in the address bar or browser storage.
 * Screenshots (desktop 1280 px and phone 390 px) go to docs/images/console-*.png when
 * TIDINGS_UPDATE_SCREENSHOTS=1.
 * Skipped, saying so, where /usr/bin/chromium is not installed (.ci/run installs it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { TestRuntime } from './helpers.js';
import {
  axeViolations,
  browserReady,
  consoleSuite,
  openPage,
  screenshots,
  signIn,
  textOf,
  totp,
} from './browser.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { addConfiguredSender } from '../src/runtime/sender-carriers.js';

const READY = browserReady('console end-to-end', { console: true });
const PHI_TEXT = 'Your A1C was 9.1, please increase your metformin';
const PHONE = '+16175550142';
const PASSWORD = 'lantern orchard pebble 42';

describe.skipIf(!READY)('staff console in headless Chromium', () => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let browser: Browser;

  const suite = consoleSuite({
    shots: 'console',
    seed: async (s) => {
      ({ t, orgId, base } = s);
      await t.rt.templates.create(
        orgId,
        {
          name: 'Visit reminder',
          body: 'Hi {{firstName}}, your visit at Lakeside Clinic is on {{date}} at {{time}}. Reply C to confirm.',
        },
        SYSTEM_ACTOR,
      );
      await t.rt.consent.record(
        orgId,
        {
          phone: PHONE,
          program: 'surveys',
          kind: 'opt_in',
          source: 'web_form',
          evidence: 'Newsletter form, 2026-11-02',
        },
        SYSTEM_ACTOR,
      );
    },
  });
  beforeAll(() => {
    browser = suite.browser;
  });

  it('serves the console with its CSP, and API answers with no-store', async () => {
    const page = await fetch(`${base}/console/compose`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(base + asset);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/console/assets/nope.js`)).status).toBe(404);
    const api = await fetch(`${base}/v1/auth/session`);
    expect(api.status).toBe(401);
    expect(api.headers.get('cache-control')).toBe('no-store');
  });

  it('a provider sets up, enrols TOTP, composes, sees PHI diverted, looks up consent, signs out and in', async () => {
    const { user, setupToken } = await t.rt.users.create(
      orgId,
      'dr.lee@clinic.example',
      'provider',
      SYSTEM_ACTOR,
    );
    expect(user.role).toBe('provider');
    const { context, page, thirdParty, cspViolations } = await openPage(browser, base);

    // The set-up link; its token is taken out of the address bar at once.
    await page.goto(`${base}/console/setup#token=${setupToken}`);
    await page.getByLabel('New password').fill(PASSWORD);
    await page.getByLabel('Type it again').fill(PASSWORD);
    expect(page.url()).not.toContain(setupToken);
    await page.getByRole('button', { name: 'Set password' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('password is set');

    // Sign in.
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-sign-in');
    await page.getByLabel('E-mail address').fill('dr.lee@clinic.example');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // First sign-in: enrol TOTP from the QR code (drawn locally), keep the recovery codes.
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    const secret = (await page.getByTestId('totp-secret').textContent())!;
    expect(await axeViolations(page)).toEqual([]);
    await page.getByLabel('6-digit code').fill(totp(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    const codes = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await codes.first().waitFor();
    expect(await codes.count()).toBe(10);
    await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();

    // Compose: a provider's pages.
    await page.getByRole('heading', { level: 1, name: 'Compose' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(
      expect.arrayContaining(['Compose', 'Consent']),
    );
    expect(await page.title()).toBe('Compose · Tidings');

    await page.getByLabel('Recipient number').fill(PHONE);
    await page.getByLabel('Message', { exact: true }).fill('See you on Tuesday at 10:00.');
    await page.locator('[data-verdict="allow"]').waitFor();
    expect(await page.locator('#segments').textContent()).toContain('1 segment · GSM-7');

    // The live guard: findings highlighted by category, and the diversion explained.
    await page.getByLabel('Message', { exact: true }).fill(PHI_TEXT);
    await page.locator('[data-verdict="secure"]').waitFor();
    const marks = page.locator('mark.finding');
    expect(await marks.count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('mark.finding-medication').textContent()).toContain('metformin');
    expect(await page.locator('[data-verdict="secure"]').textContent()).toContain(
      'diverted to the secure portal',
    );
    // The notice as the server words it, naming the organisation.
    const preview = (await page.getByTestId('notice-preview').textContent())!;
    expect(preview).toMatch(/^You have a new message from Lakeside Clinic\. View it securely: /);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-compose');

    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('heading', { name: /Sent securely/ }).waitFor();
    expect(await page.getByTestId('result-guard').textContent()).toContain('diverted');
    // The only SMS is the neutral notice.
    const msgId = (await page.locator('.result dd code').first().textContent())!;
    const notice = await t.rt.messaging.get(orgId, msgId, SYSTEM_ACTOR);
    expect(notice?.body).toMatch(/^You have a new message from/);
    expect(notice?.body).not.toContain('A1C');
    // The preview was the notice exactly, but for the link's token.
    expect(notice?.body?.replace(/\/s\/[A-Za-z0-9_-]{24} /, '/s/… ')).toBe(preview);

    // A template with typed slots, previewed by the server.
    await page.getByLabel('Template').selectOption({ label: 'Visit reminder' });
    await page.getByLabel('firstName').fill('Ana');
    await page.getByLabel('date', { exact: true }).fill('2026-12-08');
    await page.getByLabel('time', { exact: true }).fill('14:30');
    await page.getByRole('button', { name: 'Preview' }).click();
    await expect(page.locator('.preview').textContent()).resolves.toContain(
      'Hi Ana, your visit at Lakeside Clinic',
    );

    // Consent: the number goes in the body, never the URL.
    await nav.getByRole('link', { name: 'Consent' }).click();
    await page.getByLabel('Patient number').fill(PHONE);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    expect(await page.locator('table').first().textContent()).toContain('Opted in');
    expect(await page.locator('table').last().textContent()).toContain('Newsletter form');
    expect(page.url()).toBe(`${base}/console/consent`);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-consent');

    // Nothing about the patient in the address bar or in browser storage.
    const stored = await page.evaluate<string>(
      'JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])',
    );
    expect(stored).not.toContain('5550142');
    expect(stored).not.toContain('A1C');
    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);

    // Sign out, and back in with a TOTP code.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('You signed out');
    expect((await context.request.get(`${base}/v1/auth/session`)).status()).toBe(401);
    await page.getByLabel('E-mail address').fill('dr.lee@clinic.example');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('6-digit code').fill(totp(secret, 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { level: 1, name: 'Compose' }).waitFor();
    await context.close();
  });

  it('follows the guard policy: reject refuses held text; override lets a provider, not staff, send it with a reason', async () => {
    const policy = (action: string) =>
      t.rt.orgs.setGuardSettings(
        orgId,
        JSON.stringify({ action }),
        { guardAction: action },
        SYSTEM_ACTOR,
      );
    const person = async (email: string, role: string) => {
      const { setupToken } = await t.rt.users.create(orgId, email, role, SYSTEM_ACTOR);
      await t.rt.users.completeSetup(setupToken, PASSWORD);
      return { email, password: PASSWORD };
    };
    const pool = await addConfiguredSender(
      t.rt.orgs,
      50,
      orgId,
      { number: '+16175550188', carrier: 'simulator', inPool: true },
      SYSTEM_ACTOR,
    );
    await policy('reject');

    const provider = await openPage(browser, base);
    const { page } = provider;
    await signIn(page, base, await person('dr.okafor@clinic.example', 'provider'));
    await page.getByRole('heading', { level: 1, name: 'Compose' }).waitFor();
    const message = page.getByLabel('Message', { exact: true });
    const send = page.getByRole('button', { name: /^Send/ });
    await page.getByLabel('Recipient number').fill(PHONE);
    await message.fill(PHI_TEXT);
    expect(await textOf(page.getByTestId('guard-refused'), 'Will be refused')).toContain(
      'Medication',
    );
    expect(await send.isDisabled()).toBe(true);
    expect(await page.getByTestId('notice-preview').count()).toBe(0);
    expect(await page.getByLabel('Override the content check for this text').count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);
    // Allowed text may still go.
    await message.fill('See you on Tuesday at 10:00.');
    await page.locator('[data-verdict="allow"]').waitFor();
    expect(await send.isDisabled()).toBe(false);

    // Override: the page reads the policy again when it opens.
    await policy('override');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Consent' }).click();
    await nav.getByRole('link', { name: 'Compose' }).click();
    await page.getByLabel('Recipient number').fill(PHONE);
    await message.fill(PHI_TEXT);
    await page.getByTestId('notice-preview').waitFor();
    expect(await send.isDisabled()).toBe(false);
    await page.getByLabel('Override the content check for this text').check();
    const reason = 'Patient asked for plain texts in writing, form on file';
    await page.getByLabel(/^Override reason/).fill(reason);
    // Several senders: pick one, see the same segment count and that it is in the pool.
    await page.getByLabel('Send from').selectOption(pool.sender.id);
    const cost = (await page.getByTestId('sender-cost').textContent())!;
    expect(cost).toContain('1 segment from whichever number sends it');
    expect(cost).toContain('+16175550188 is in the sender pool');
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-compose-override');
    await page.getByRole('button', { name: 'Send as SMS' }).click();
    await page.getByRole('heading', { name: /as SMS by override/ }).waitFor();
    expect(await page.getByTestId('result-guard').textContent()).toContain('override');
    const id = (await page.locator('.result dd code').first().textContent())!;
    const stored = await t.rt.messaging.get(orgId, id, SYSTEM_ACTOR);
    expect(stored?.body).toBe(PHI_TEXT);
    expect(stored?.from).toBe('+16175550188');
    const audit = await t.rt.store.db
      .selectFrom('audit_events')
      .select(['details'])
      .where('org_id', '=', orgId)
      .where('action', '=', 'message.accepted')
      .where('target_id', '=', id)
      .executeTakeFirstOrThrow();
    const details = JSON.parse(String(audit.details)) as Record<string, unknown>;
    expect(details.overrideReason).toBe(reason);
    expect(String(details.guardOverride)).toContain('medication');
    expect(provider.thirdParty).toEqual([]);
    expect(provider.cspViolations).toEqual([]);
    await provider.context.close();

    // Staff: the same held text is diverted; no override is offered.
    const staff = await openPage(browser, base);
    await signIn(staff.page, base, await person('front.desk@clinic.example', 'staff'));
    await staff.page.getByRole('heading', { level: 1, name: 'Compose' }).waitFor();
    await staff.page.getByLabel('Recipient number').fill(PHONE);
    await staff.page.getByLabel('Message', { exact: true }).fill(PHI_TEXT);
    await staff.page.getByTestId('notice-preview').waitFor();
    expect(await staff.page.getByLabel('Override the content check for this text').count()).toBe(0);
    expect(await staff.page.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(
      false,
    );
    expect(await axeViolations(staff.page)).toEqual([]);
    await staff.context.close();
    await policy('divert');
  });

  it('works from the keyboard alone: skip link, navigation, a form and its result', async () => {
    const { setupToken } = await t.rt.users.create(
      orgId,
      'keys@clinic.example',
      'staff',
      SYSTEM_ACTOR,
    );
    await t.rt.users.completeSetup(setupToken, PASSWORD);
    const { context, page } = await openPage(browser, base);
    await signIn(page, base, { email: 'keys@clinic.example', password: PASSWORD });
    /** The accessible name of the focused element, roughly: aria-label, its label, or text. */
    const focused = () =>
      page.evaluate<string>(`(() => {
        const el = document.activeElement;
        const label = el && 'labels' in el && el.labels && el.labels[0];
        return ((el && el.getAttribute('aria-label')) || (label && label.textContent) ||
          (el && el.textContent) || '').trim();
      })()`);
    /** Presses Tab until the focused element's name is `name` (at most 60 times). */
    const tabTo = async (name: string) => {
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press('Tab');
        if ((await focused()) === name) return;
      }
      throw new Error(`Tab never reached ${name}`);
    };
    await page.goto(`${base}/console/compose`);
    await page.getByRole('heading', { level: 1, name: 'Compose' }).waitFor();
    // The first Tab reaches the skip link; Enter moves focus to the page's content.
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate<string>('document.activeElement?.id ?? ""')).toBe('main');
    // The main navigation, then a form submitted with Enter.
    await tabTo('Consent');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Consent' }).waitFor();
    await tabTo('Patient number');
    await page.keyboard.type(PHONE);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'History' }).waitFor();
    // Focus is always shown (no outline: none without a replacement).
    const outline = await page.evaluate<string>(
      'getComputedStyle(document.activeElement).outlineStyle',
    );
    expect(outline).not.toBe('none');
    await context.close();
  });

  it('an auditor sees only read-only pages and is signed out when idle, warned first', async () => {
    const { setupToken } = await t.rt.users.create(
      orgId,
      'audit@clinic.example',
      'auditor',
      SYSTEM_ACTOR,
    );
    await t.rt.users.completeSetup(setupToken, PASSWORD);
    const { context, page } = await openPage(browser, base);
    await page.clock.install();
    await page.goto(`${base}/console/compose`);
    await page.getByLabel('E-mail address').fill('audit@clinic.example');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())!;
    await page.getByLabel('6-digit code').fill(totp(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();

    // Compose is not offered; the address that asked for it lands on Consent.
    await page.getByRole('heading', { level: 1, name: 'Consent' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    const links = await nav.getByRole('link').allTextContents();
    expect(links).toContain('Consent');
    expect(links).not.toContain('Compose');
    expect(page.url()).toBe(`${base}/console/consent`);

    // Idle: warned a minute before the organisation's 15 minutes, then signed out.
    await page.clock.fastForward('14:01');
    const dialog = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await dialog.waitFor();
    await page.clock.fastForward('01:00');
    await expect(page.getByRole('status').textContent()).resolves.toContain('inactivity');
    expect((await context.request.get(`${base}/v1/auth/session`)).status()).toBe(401);
    await context.close();
  });
});
