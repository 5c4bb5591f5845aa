/**
 * The console's Patients page and Compose's recipient tools in headless Chromium (Debian's,
 * through test/browser.ts), against a real server with quiet hours on. A staff member finds a
 * patient by name and sees them masked, reveals the details (an audit event names them),
 * reads the consent history with its evidence, records an opt-in with source and evidence
 * and sees it in the history; in Compose they pick the patient by name, and before sending
 * see the consent state and the quiet hours in the patient's time zone, schedule a text at
 * night and see it held. An admin sees the accounting of disclosures, the reveal in it. No
 * number or name in the address bar, the title or browser storage; axe-core finds no serious
 * or critical violation. Screenshots: docs/images/console-patients-{desktop,phone}.png with
 * TIDINGS_UPDATE_SCREENSHOTS=1.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  CONSOLE_PASSWORD,
  addConsoleUser,
  axeViolations,
  browserReady,
  consoleSuite,
  openPage,
  screenshots,
  signIn,
  textOf,
} from './browser.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

const READY = browserReady('console patients end-to-end', { console: true });
const PHONE = '+16175550142';

/** Nothing about the patient in the address bar, the title or browser storage. */
async function expectNoPhiOutside(page: Page, base: string, path: string): Promise<void> {
  expect(page.url()).toBe(`${base}${path}`);
  expect(await page.title()).not.toMatch(/L[oó]pez|0142/);
  const stored = await page.evaluate<string>(
    'JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])',
  );
  for (const s of ['5550142', 'López', 'Lopez', '1980']) expect(stored).not.toContain(s);
}

describe.skipIf(!READY)('console patients in headless Chromium', () => {
  let staffId: string;
  const suite = consoleSuite({
    shots: 'console-patients',
    env: { TIDINGS_QUIET_HOURS: '08:00-21:00' },
    seed: async (su) => {
      const { t, orgId } = su;
      await t.rt.reminders.upsertContact(
        orgId,
        { given: 'Ana', family: 'López', phone: PHONE, dob: '1980-04-02', mrn: 'MRN-1' },
        SYSTEM_ACTOR,
      );
      await t.rt.reminders.upsertContact(
        orgId,
        { given: 'Bob', family: 'Anders', phone: '+16175550199', mrn: 'MRN-2' },
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
      staffId = (await addConsoleUser(su, 'front.desk@clinic.example', 'staff')).id;
      await addConsoleUser(su, 'admin@clinic.example', 'admin');
    },
  });

  it('staff find a patient masked, reveal (audited), see consent, record an opt-in, and compose to them', async () => {
    const { t, base, orgId, browser } = suite;
    const { context, page, thirdParty, cspViolations } = await openPage(browser, base);
    await signIn(page, base, { email: 'front.desk@clinic.example', password: CONSOLE_PASSWORD });
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Patients' }).click();
    await page.getByRole('heading', { level: 1, name: 'Patients' }).waitFor();
    expect(await page.title()).toBe('Patients · Tidings');

    // Search by name: masked answers only.
    await page.getByLabel('Name or number').fill('lopez');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('heading', { name: '1 patient found' }).waitFor();
    await page.getByRole('button', { name: /A•• L••••/ }).click();
    expect(await textOf(page.getByTestId('patient-phone'), '•••• 0142')).toBe('•••• 0142');
    expect(await page.getByTestId('patient-name').textContent()).toBe('A•• L••••');
    expect(await page.getByTestId('patient-dob').textContent()).toBe('••••-••-••');
    expect(await page.locator('main').textContent()).not.toMatch(/5550142|López|1980/);
    // Staff record consent but see no accounting of disclosures.
    await page.getByRole('heading', { name: 'Consent history' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Accounting of disclosures' }).count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);

    // Reveal: shown, and recorded as an audit event naming this user.
    await page.getByRole('button', { name: 'Reveal details' }).click();
    // The reveal is a request: wait for its answer to reach the page.
    await page.getByTestId('patient-phone').filter({ hasText: PHONE }).waitFor();
    expect(await page.getByTestId('patient-phone').textContent()).toBe(PHONE);
    expect(await page.getByTestId('patient-name').textContent()).toBe('Ana López');
    expect(await page.getByTestId('patient-dob').textContent()).toBe('1980-04-02');
    const reveals = await t.rt.store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('action', '=', 'contact.revealed')
      .execute();
    expect(reveals).toHaveLength(1);
    expect(reveals[0]).toMatchObject({ actor_type: 'user', actor_id: staffId });
    expect(reveals[0]!.details).not.toMatch(/5550142|López|1980/);
    await page.getByRole('button', { name: 'Hide details' }).click();
    expect(await textOf(page.getByTestId('patient-phone'), '•••• 0142')).toBe('•••• 0142');

    // Consent history with its evidence; then an opt-in with source and evidence.
    const history = page.getByRole('region', { name: 'Consent history' }).last();
    expect(await history.textContent()).toContain('Newsletter form, 2026-11-02');
    await page.getByLabel('Program', { exact: true }).selectOption('care');
    await page.getByLabel('Source').selectOption({ label: 'Paper form' });
    await page.getByLabel('Evidence').fill('Signed intake form, scanned 2026-12-07');
    await page.getByRole('button', { name: 'Record opt-in' }).click();
    await page.getByText('Opt-in to care recorded.').waitFor();
    await expect
      .poll(async () => history.textContent())
      .toContain('Signed intake form, scanned 2026-12-07');
    expect(await history.textContent()).toContain('paper');
    const state = page.locator('#patient-consent-state-title + table');
    expect(await state.getByRole('row', { name: /care/ }).textContent()).toContain('Opted in');
    expect(await axeViolations(page)).toEqual([]);
    await expectNoPhiOutside(page, base, '/console/patients');

    // Compose: find the patient by name; the number is filled in (an audited reveal).
    await nav.getByRole('link', { name: 'Compose' }).click();
    await page.getByLabel('Find patient by name').fill('ana');
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await page.getByRole('button', { name: /A•• L••••/ }).click();
    await expect.poll(() => page.getByLabel('Recipient number').inputValue()).toBe(PHONE);
    // Before sending: consent for the program and the quiet hours where the patient is.
    await expect
      .poll(() => page.getByTestId('recipient-consent').textContent())
      .toContain('Opted in');
    const quiet = page.getByTestId('recipient-quiet-hours');
    expect(await quiet.textContent()).toContain('America/New_York: texts allowed 08:00–21:00');
    await page.getByLabel('Program').selectOption('marketing');
    await expect
      .poll(() => page.getByTestId('recipient-consent').textContent())
      .toContain('sending will be refused');
    await page.getByLabel('Program').selectOption('care');

    // Send at 03:00Z a week ahead (night in Boston): shown as held, and held when sent.
    const day = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    const at = `${day}T03:00:00.000Z`;
    const localValue = await page.evaluate<string>(`(() => {
      const d = new Date('${at}');
      const p = (n) => String(n).padStart(2, '0');
      return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' +
        p(d.getHours()) + ':' + p(d.getMinutes());
    })()`);
    await page.getByLabel('Send at').fill(localValue);
    await expect.poll(() => quiet.textContent()).toContain('Held by quiet hours');
    await page.getByLabel('Message', { exact: true }).fill('See you on Tuesday at 10:00.');
    await page.locator('[data-verdict="allow"]').waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByRole('heading', { name: 'Accepted for sending' }).waitFor();
    expect(await page.locator('.result').textContent()).toContain('quiet hours');
    const msgId = (await page.locator('.result dd code').first().textContent())!;
    const msg = await t.rt.messaging.get(orgId, msgId, SYSTEM_ACTOR);
    expect(msg).toMatchObject({ to: PHONE, heldBy: 'quiet_hours' });
    expect(Date.parse(msg.sendAt)).toBeGreaterThan(Date.parse(at));

    const compose = await t.rt.store.db
      .selectFrom('audit_events')
      .select('details')
      .where('org_id', '=', orgId)
      .where('action', '=', 'contact.revealed')
      .orderBy('seq')
      .execute();
    expect(JSON.parse(compose.at(-1)!.details)).toEqual({ fields: 'phone', purpose: 'compose' });
    await expectNoPhiOutside(page, base, '/console/compose');
    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  it('an admin sees the accounting of disclosures, the reveal in it', async () => {
    const { base, browser, shots } = suite;
    const { context, page, thirdParty, cspViolations } = await openPage(browser, base);
    await signIn(page, base, { email: 'admin@clinic.example', password: CONSOLE_PASSWORD });
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Patients' })
      .click();
    await page.getByLabel('Name or number').fill('0142');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: /A•• L••••/ }).click();
    // The section is a region of that name too: wait for the table's rows, not the heading.
    const disclosures = page.getByRole('region', { name: 'Accounting of disclosures' }).last();
    await expect.poll(() => disclosures.textContent()).toContain('Patient details revealed');
    const text = await disclosures.textContent();
    expect(text).toContain('Patient details revealed');
    expect(text).toContain('Consent recorded');
    expect(text).toContain(`user:`);
    expect(text).not.toMatch(/5550142|López/);
    await page.getByRole('heading', { name: 'Consent history' }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, shots, 'console-patients');
    await expectNoPhiOutside(page, base, '/console/patients');
    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });
});
