/**
 * The console's Settings page and the sign-in extras end to end in Debian's Chromium
 * (playwright-core, test/browser.ts) against a real server on 127.0.0.1: an admin adds a
 * user with a role and gets the one-time set-up link, creates an API key that is shown once
 * (then only its prefix), narrows quiet hours, edits the opt-out text and keyword scope, sets
 * the webhook URL (secret shown once), rotates the webhook secret (the new one shown once, the
 * old one still signing for 24 hours), places legal holds on a patient (number in the body
 * only) and on the organisation and lifts one, and sets the texting policy. The new user must accept the
 * policy before any page, and the admin then sees who is overdue. A staff user asks for
 * emergency access with a reason and sees the window granted; "Sign out everywhere" ends the
 * user's session in another browser too. Every view passes axe-core with no serious or
 * critical violation, with no third-party request, no CSP violation, and no key, secret or
 * link or number left in the address bar or browser storage. Screenshots console-settings-* and
 * console-policy-* go to docs/images/ with TIDINGS_UPDATE_SCREENSHOTS=1.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
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
  type WatchedPage,
} from './browser.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

const READY = browserReady('console settings end-to-end', { console: true });
const PASSWORD = 'lantern orchard pebble 42';
const ADMIN = 'admin@lakeside.example';
const STAFF = 'sam@lakeside.example';
const POLICY =
  'Never put a diagnosis, result, medication or test in a text.\nUse the secure portal for anything clinical.';
/** A patient put under legal hold: typed into the form, never shown back or kept. */
const HOLD_PATIENT = '+16175550142';

/** What the browser keeps: only the CSRF token, never a key, secret, link or number. */
async function storage(page: Page): Promise<string> {
  return page.evaluate<string>('JSON.stringify({ ...sessionStorage, ...localStorage })');
}

async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole('tab', { name }).click();
  await page.getByRole('tabpanel', { name }).waitFor();
}

describe.skipIf(!READY)('console settings in headless Chromium', () => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let browser: Browser;
  let admin: WatchedPage;
  let setupToken = '';
  const secrets: string[] = [];

  const suite = consoleSuite({
    shots: 'console-settings',
    env: { TIDINGS_QUIET_HOURS: '08:00-21:00' },
    seed: async (s) => {
      ({ t, orgId, base } = s);
      const a = await t.rt.users.create(orgId, ADMIN, 'admin', SYSTEM_ACTOR);
      await t.rt.users.completeSetup(a.setupToken, PASSWORD);
    },
  });
  beforeAll(() => {
    browser = suite.browser;
  });

  it('an admin adds a user, creates a key shown once, changes quiet hours, texts and webhook, rotates its secret, places and lifts legal holds, and sets the policy', async () => {
    admin = await openPage(browser, base);
    const page = admin.page;
    await signIn(page, base, { email: ADMIN, password: PASSWORD });
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    expect(await page.title()).toBe('Settings · Tidings');
    expect(new URL(page.url()).pathname).toBe('/console/settings');

    // Users & roles: a new staff member and the one-time set-up link.
    await page.getByLabel('E-mail address').fill(STAFF);
    await page.getByLabel('Role', { exact: true }).selectOption('staff');
    await page.getByRole('button', { name: 'Add user' }).click();
    const link = await page.getByLabel('Set-up link', { exact: true }).inputValue();
    expect(link).toMatch(/\/console\/setup#token=/);
    setupToken = /#token=(.+)$/.exec(link)![1]!;
    secrets.push(setupToken);
    const row = page.getByRole('row', { name: new RegExp(STAFF) });
    await row.waitFor();
    expect(await row.getByRole('combobox').inputValue()).toBe('staff');
    expect(await row.textContent()).toContain('Invited');
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-settings');

    // Keyboard: the tabs move with the arrow keys.
    await page.getByRole('tab', { name: 'Users & roles' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.getByRole('tabpanel', { name: 'API keys' }).waitFor();
    expect(await page.evaluate<string>('document.activeElement.textContent')).toBe('API keys');

    // API keys: shown once, then only the prefix.
    await page.getByLabel('Name', { exact: true }).fill('EHR reminders feed');
    await page.getByRole('button', { name: 'Create key' }).click();
    const apiKey = await page.getByLabel('API key', { exact: true }).inputValue();
    expect(apiKey).toMatch(/^tid_/);
    secrets.push(apiKey);
    expect(
      (await fetch(`${base}/v1/messages`, { headers: { authorization: `Bearer ${apiKey}` } }))
        .status,
    ).toBe(200);
    const keyRow = page.getByRole('row', { name: /EHR reminders feed/ });
    expect(await keyRow.textContent()).toContain(`${apiKey.slice(0, 10)}…`);
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.content()).not.toContain(apiKey);
    await screenshots(page, suite.shots, 'console-settings-keys');

    // Quiet hours: a stricter window of our own, saved.
    await openTab(page, 'Quiet hours & caps');
    await page.getByLabel('Use a stricter window of our own').check();
    await page.getByLabel('Earliest send time').fill('09:00');
    await page.getByLabel('Latest send time').fill('18:30');
    await page.getByLabel('surveys: at most per 7 days').fill('2');
    await page.getByRole('button', { name: 'Save quiet hours and caps' }).click();
    await page.getByRole('status').filter({ hasText: 'Quiet hours and caps saved.' }).waitFor();
    expect(await page.getByTestId('effective-window').textContent()).toContain('09:00 and 18:30');
    const rules = await t.rt.sendRules.view(orgId);
    expect(rules.quietHours.window).toBe('09:00-18:30');
    expect(rules.caps.programs.surveys?.per7d).toBe(2);
    expect(await axeViolations(page)).toEqual([]);

    // Keywords & texts: the reply tester runs the server's classifier; texts saved.
    await openTab(page, 'Keywords & texts');
    await page.getByLabel('Try a reply').fill('please stop texting me');
    expect(await textOf(page.locator('#reply-verdict'), 'Opt-out')).toContain('Opt-out');
    await page.getByLabel(/stops only that program/).check();
    const optOut = '{org}: you will get no more texts from us. Reply START to resume.';
    await page.getByLabel('Reply to STOP (opt-out confirmation)').fill(optOut);
    await page.getByRole('button', { name: 'Save keywords and texts' }).click();
    await page.getByRole('status').filter({ hasText: 'Keywords and texts saved.' }).waitFor();
    const consent = await t.rt.consent.settings(orgId);
    expect(consent.optOutText).toBe(optOut);
    expect(consent.perProgramKeywords).toBe(true);
    expect(await axeViolations(page)).toEqual([]);

    // Webhook: the URL, and its signing secret shown once.
    await openTab(page, 'Webhook');
    await page.getByLabel('Webhook URL').fill('https://ehr.example/hooks/tidings');
    await page.getByRole('button', { name: 'Save webhook' }).click();
    const whsec = await page.getByLabel('Signing secret').inputValue();
    expect(whsec).toMatch(/^whsec_/);
    secrets.push(whsec);
    expect((await t.rt.orgs.get(orgId))!.webhookUrl).toBe('https://ehr.example/hooks/tidings');
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.content()).not.toContain(whsec);

    // Rotate the secret: the new one is shown once; the old one signs beside it for 24 hours.
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'the old one also signs for 24 hours' })
      .waitFor();
    const rotated = await page.getByLabel('Signing secret').inputValue();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(whsec);
    secrets.push(rotated);
    expect(await t.rt.orgs.webhookTarget(orgId)).toMatchObject({
      secret: rotated,
      previousSecret: whsec,
    });
    expect(await page.getByTestId('previous-secret-until').textContent()).toContain(
      'also signs until',
    );
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-settings-webhook');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.content()).not.toContain(rotated);
    // Shown once: back on the tab, the previous secret's deadline, but no secret.
    await openTab(page, 'Session');
    await openTab(page, 'Webhook');
    await page.getByTestId('previous-secret-until').waitFor();
    expect(await page.getByTestId('webhook-secret').count()).toBe(0);
    const rotations = (await t.rt.audit.events(orgId, { limit: 500 }, SYSTEM_ACTOR)).data.filter(
      (e) => e.action === 'org.webhook_secret_rotated',
    );
    expect(rotations).toHaveLength(1);

    // Legal holds: one on a patient (the number in the body only), one on the organisation;
    // the patient's is lifted after a confirmation.
    await openTab(page, 'Legal holds');
    await page.getByTestId('no-holds').waitFor();
    secrets.push(HOLD_PATIENT);
    await page.getByLabel('Patient’s mobile number').fill(HOLD_PATIENT);
    await page.getByLabel('Reason', { exact: true }).fill('Litigation 2026-114');
    await page.getByRole('button', { name: 'Place hold' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'The hold was placed on the patient.' })
      .waitFor();
    const patientRow = page.getByRole('row', { name: /Litigation 2026-114/ });
    await patientRow.waitFor();
    expect(await patientRow.textContent()).toMatch(/Patient [0-9a-zA-Z_-]{8}/);
    expect(await page.getByLabel('Patient’s mobile number').inputValue()).toBe('');
    expect(await page.content()).not.toContain(HOLD_PATIENT.slice(2));
    await page.getByLabel('The whole organisation').check();
    expect(await page.getByLabel('Patient’s mobile number').count()).toBe(0);
    await page.getByLabel('Reason', { exact: true }).fill('Regulator inquiry R-7');
    await page.getByRole('button', { name: 'Place hold' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'The hold was placed on the whole organisation.' })
      .waitFor();
    await page.getByRole('row', { name: /Regulator inquiry R-7/ }).waitFor();
    const placed = await t.rt.retention.holds(orgId);
    expect(placed.map((h) => [h.scope, h.reason]).sort()).toEqual([
      ['organisation', 'Regulator inquiry R-7'],
      ['patient', 'Litigation 2026-114'],
    ]);
    const patientHold = placed.find((h) => h.scope === 'patient')!;
    expect(await patientRow.textContent()).toContain(patientHold.subjectIndex!.slice(0, 8));
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-settings-holds');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Lift hold: Litigation 2026-114' }).click();
    await page.getByRole('status').filter({ hasText: 'was lifted' }).waitFor();
    await patientRow.waitFor({ state: 'detached' });
    expect((await t.rt.retention.holds(orgId)).map((h) => h.reason)).toEqual([
      'Regulator inquiry R-7',
    ]);
    await page.getByLabel('Show lifted holds too').check();
    expect(await textOf(patientRow, 'Lifted')).toContain('Lifted');
    const holdActions = (await t.rt.audit.events(orgId, { limit: 500 }, SYSTEM_ACTOR)).data
      .map((e) => e.action)
      .filter((a) => a.startsWith('legal_hold.'))
      .sort();
    expect(holdActions).toEqual(['legal_hold.lifted', 'legal_hold.placed', 'legal_hold.placed']);
    expect(await axeViolations(page)).toEqual([]);

    // Senders: add one to the pool, make it the default, and remove another.
    await openTab(page, 'Senders');
    await page.getByLabel('Number (E.164)').fill('+16175550388');
    await page.getByLabel('Put it in the pool').check();
    await page.getByRole('button', { name: 'Add sender' }).click();
    await page.getByRole('status').filter({ hasText: '+16175550388 was added.' }).waitFor();
    await page.getByRole('button', { name: 'Make default +16175550388' }).click();
    await page.getByRole('status').filter({ hasText: 'is now the default' }).waitFor();
    const senders = await t.rt.orgs.senders(orgId);
    const added = senders.find((x) => x.number === '+16175550388')!;
    expect(added).toMatchObject({ isDefault: true, inPool: true });
    const old = senders.find((x) => x.id !== added.id)!;
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: `Remove ${old.number}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `${old.number} was removed.` })
      .waitFor();
    expect((await t.rt.orgs.senders(orgId)).map((x) => x.id)).toEqual([added.id]);
    expect(await axeViolations(page)).toEqual([]);

    // The other tabs load and pass axe.
    for (const tab of ['Senders', 'Content guard', 'Retention', 'Session']) {
      await openTab(page, tab);
      await page.getByRole('tabpanel', { name: tab }).getByRole('button').first().waitFor();
      expect(await axeViolations(page), tab).toEqual([]);
    }

    // Texting policy: set it; everyone is overdue until they accept it.
    await openTab(page, 'Texting policy');
    await page.getByLabel('Policy text', { exact: true }).fill(POLICY);
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('status').filter({ hasText: 'The texting policy was saved.' }).waitFor();
    expect(await textOf(page.getByTestId('overdue-count'), '2 users are overdue.')).toBe(
      '2 users are overdue.',
    );
    expect((await t.rt.policyAcks.get(orgId))!.text).toBe(POLICY);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-settings-policy');

    // Keywords & texts: the organisation's own keywords; the tester reads them before saving,
    // a standard keyword of another kind is refused, and the saved one is in force.
    await openTab(page, 'Keywords & texts');
    await page.getByLabel('Your own opt-out keywords').fill('UNSUBSCRIBE FLU');
    await page.getByLabel('Try a reply').fill('unsubscribe flu!');
    expect(await textOf(page.locator('#reply-verdict'), /your keyword\)/)).toBe(
      'Opt-out (UNSUBSCRIBE FLU, your keyword)',
    );
    await page.getByLabel('Your own opt-in keywords').fill('stop');
    expect(await textOf(page.locator('#reply-verdict'), 'cannot be used')).toMatch(
      /standard opt-out keyword/,
    );
    await page.getByRole('button', { name: 'Save keywords and texts' }).click();
    await page.getByRole('alert').filter({ hasText: 'standard opt-out keyword' }).waitFor();
    expect((await t.rt.consent.settings(orgId)).keywords.optOut).toEqual([]);
    await page.getByLabel('Your own opt-in keywords').fill('vuelvo');
    await page.getByRole('button', { name: 'Save keywords and texts' }).click();
    await page.getByRole('status').filter({ hasText: 'Keywords and texts saved.' }).waitFor();
    expect((await t.rt.consent.settings(orgId)).keywords).toEqual({
      optOut: ['UNSUBSCRIBE FLU'],
      help: [],
      optIn: ['VUELVO'],
    });
    expect(await textOf(page.locator('#reply-verdict'), /your keyword\)/, 5_000)).toBe(
      'Opt-out (UNSUBSCRIBE FLU, your keyword)',
    );
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-settings-keywords');

    expect(new URL(page.url()).pathname).toBe('/console/settings');
    const kept = await storage(page);
    for (const s of secrets) expect(kept).not.toContain(s);
    expect(admin.thirdParty).toEqual([]);
    expect(admin.cspViolations).toEqual([]);
  });

  it('a new user accepts the policy before any page; the admin sees who is overdue; staff asks for emergency access and signs out everywhere', async () => {
    const staff = await openPage(browser, base);
    const page = staff.page;
    await page.goto(`${base}/console/setup#token=${setupToken}`);
    await page.getByLabel('New password').fill(PASSWORD);
    await page.getByLabel('Type it again').fill(PASSWORD);
    expect(page.url()).not.toContain(setupToken);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByLabel('E-mail address').fill(STAFF);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())!;
    await page.getByLabel('6-digit code').fill(totp(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('button', { name: 'I have saved my recovery codes' }).click();

    // The gate: the policy, and no page or navigation until it is accepted.
    await page.getByRole('heading', { level: 1, name: 'Texting policy' }).waitFor();
    expect(await page.getByRole('region', { name: 'Policy text' }).textContent()).toBe(POLICY);
    expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-policy');
    await page.getByRole('button', { name: 'I have read and accept' }).click();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.waitFor();
    expect(await nav.getByRole('link').allTextContents()).not.toContain('Settings');
    const acks = await t.rt.policyAcks.statuses(orgId);
    expect(acks.users.find((u) => u.email === STAFF)!.overdue).toBe(false);

    // Staff cannot reach Settings by its address either.
    await page.goto(`${base}/console/settings`);
    await nav.waitFor();
    expect(new URL(page.url()).pathname).not.toBe('/console/settings');
    expect(await page.getByRole('heading', { level: 1, name: 'Settings' }).count()).toBe(0);

    // The admin sees who is overdue: themself, not the new user.
    await openTab(admin.page, 'Session');
    await openTab(admin.page, 'Texting policy');
    expect(await textOf(admin.page.getByTestId('overdue-count'), '1 user is overdue.')).toBe(
      '1 user is overdue.',
    );
    const adminRow = admin.page.getByRole('row', { name: new RegExp(ADMIN) });
    const staffRow = admin.page.getByRole('row', { name: new RegExp(STAFF) });
    expect(await adminRow.textContent()).toContain('Overdue');
    expect(await staffRow.textContent()).toContain('Current');

    // Emergency access with a written reason; the granted window is shown.
    await page.getByRole('button', { name: 'Emergency access' }).click();
    const dialog = page.getByRole('dialog', { name: 'Emergency access' });
    await dialog.waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await dialog.getByLabel('Reason').fill('Covering the on-call nurse for a callback');
    await dialog.getByLabel('For', { exact: true }).selectOption('15');
    await dialog.getByRole('button', { name: 'Request access' }).click();
    const granted = page.getByTestId('break-glass-granted');
    await granted.waitFor();
    expect(await granted.textContent()).toContain('granted until');
    const grants = await t.rt.breakGlass.list(orgId);
    expect(grants).toHaveLength(1);
    const minutes = (Date.parse(grants[0]!.expiresAt) - Date.parse(grants[0]!.createdAt)) / 60_000;
    expect(minutes).toBe(15);
    await screenshots(page, suite.shots, 'console-policy-break-glass');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });

    // Sign out everywhere: the user's other browser is signed out too; the admin is not.
    const other = await openPage(browser, base);
    await signIn(other.page, base, { email: STAFF, password: PASSWORD, secret, step: 1 });
    expect((await other.page.request.get(`${base}/v1/auth/session`)).status()).toBe(200);
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByText('You were signed out on every device.').waitFor();
    expect((await other.page.request.get(`${base}/v1/auth/session`)).status()).toBe(401);
    expect((await page.request.get(`${base}/v1/auth/session`)).status()).toBe(401);
    expect((await admin.page.request.get(`${base}/v1/auth/session`)).status()).toBe(200);
    expect(await storage(page)).toBe('{}');

    for (const w of [staff, other]) {
      expect(w.thirdParty).toEqual([]);
      expect(w.cspViolations).toEqual([]);
      await w.context.close();
    }
    // The admin changed the policy without accepting it: their next visit asks first.
    await admin.page.reload();
    await admin.page.getByRole('button', { name: 'I have read and accept' }).click();
    await admin.page.getByRole('navigation', { name: 'Main' }).waitFor();
    expect((await t.rt.policyAcks.statuses(orgId)).users.every((u) => !u.overdue)).toBe(true);
    await admin.context.close();
  });
});
