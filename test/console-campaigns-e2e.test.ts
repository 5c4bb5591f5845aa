/**
 * The console's Templates, Appointments and Campaigns pages end to end in Debian's Chromium
 * (test/browser.ts), against a real server with its workers running: an admin writes a
 * template and sees the content check flag a body that reveals health information (and the
 * server refuse it), saves a clean one and previews it with sample values; looks through
 * upcoming appointments and one's reminders with what will be sent when; uploads a CSV
 * list whose bad row and opted-out number are shown before anything is sent, creates the
 * campaign, starts, pauses and resumes it, and reads the final report (sent, delivered,
 * failed, suppressed by consent, diverted). Every page passes axe-core with no serious or
 * critical violation, under the console's CSP, with no third-party request and no number in
 * the address bar or browser storage. Screenshots console-{templates,appointments,campaigns}
 * -{desktop,phone}.png go to docs/images/ with TIDINGS_UPDATE_SCREENSHOTS=1.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { waitFor } from './helpers.js';
import {
  DESKTOP,
  PHONE_VIEW,
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

const READY = browserReady('console templates, appointments and campaigns', { console: true });
const PHI_BODY = 'Hi {{firstName}}, your chemotherapy starts on {{date}}.';
const SAFE_BODY = 'Hi {{firstName}}, our walk-in day is {{date}}, 9 to 5. Reply STOP to opt out.';
/** 300 usable numbers (one opted out) and one that is not a number: more than one batch. */
const GOOD = 300;
const number = (i: number) => `+1617${String(3000000 + i).padStart(7, '0')}`;
const OPTED_OUT = number(7);

/** Whether the page as it is now fits a 390 px phone without scrolling sideways. */
async function fitsPhone(page: Page): Promise<boolean> {
  await page.setViewportSize(PHONE_VIEW);
  const width = await page.evaluate<number>('document.documentElement.scrollWidth');
  await page.setViewportSize(DESKTOP);
  return width <= PHONE_VIEW.width;
}

function list(): string {
  const rows = ['phone,firstName,date'];
  for (let i = 0; i < GOOD; i++) {
    rows.push(`${number(i)},${['Ann', 'Ben', 'Cara'][i % 3]},2026-12-15`);
    if (i === 2) rows.push('call me,Dee,2026-12-15'); // data row 4
  }
  return rows.join('\n');
}

describe.skipIf(!READY)('console templates, appointments and campaigns in Chromium', () => {
  const suite = consoleSuite({
    shots: 'console-campaigns',
    seed: async ({ t, orgId }) => {
      t.rt.startWorkers();
      await t.rt.consent.record(
        orgId,
        {
          phone: OPTED_OUT,
          program: 'all',
          kind: 'opt_out_all',
          source: 'staff',
          evidence: 'call',
        },
        SYSTEM_ACTOR,
      );
      const day = 24 * 3600_000;
      for (const [i, given] of ['Lan', 'Omar'].entries()) {
        await t.rt.reminders.upsertAppointment(orgId, SYSTEM_ACTOR, {
          externalId: `APPT-${i + 1}`,
          source: 'api',
          status: 'booked',
          start: Date.now() + (4 + i) * day,
          location: 'Lakeside Main',
          appointmentType: 'FOLLOWUP',
          patient: { mrn: `MRN-${i + 1}`, phone: `+1617555017${i}`, given },
        });
      }
    },
  });

  it('an admin writes a template, reads reminders, and runs a campaign from a CSV list', async () => {
    const { t, base, orgId, browser, shots } = suite;
    const admin = await addConsoleUser(suite, 'admin@clinic.example', 'admin');
    const { page, thirdParty, cspViolations } = await openPage(browser, base);
    await signIn(page, base, admin);
    const nav = page.getByRole('navigation', { name: 'Main' });

    // Templates: the content check flags a body that reveals health information.
    await nav.getByRole('link', { name: 'Templates' }).click();
    await page.getByRole('heading', { level: 1, name: 'Templates' }).waitFor();
    expect(await page.title()).toBe('Templates · Tidings');
    await page.getByRole('button', { name: 'New template' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Walk-in day');
    await page.getByLabel('Body').fill(PHI_BODY);
    await page.locator('[data-verdict="secure"]').waitFor();
    expect(await page.locator('mark.finding').first().textContent()).toContain('chemotherapy');
    expect(await page.locator('#tpl-slots').textContent()).toContain('Slots: firstName, date');
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, shots, 'console-templates');
    expect(await fitsPhone(page)).toBe(true);
    // The server refuses it too.
    await page.getByRole('button', { name: 'Create template' }).click();
    expect(await textOf(page.getByRole('alert'), 'would reveal health information')).toContain(
      'would reveal health information',
    );
    expect(await t.rt.templates.list(orgId)).toHaveLength(0);

    await page.getByLabel('Body').fill(SAFE_BODY);
    await page.locator('[data-verdict="allow"]').waitFor();
    await page.getByRole('button', { name: 'Create template' }).click();
    expect(
      await textOf(page.getByRole('status').first(), 'Template “Walk-in day” created.'),
    ).toContain('Template “Walk-in day” created.');
    // Preview with sample values.
    await page.getByRole('heading', { level: 2, name: 'Walk-in day' }).waitFor();
    expect(await page.getByLabel('firstName').inputValue()).toBe('Alex');
    await page.getByRole('button', { name: 'Preview' }).click();
    expect(await textOf(page.locator('.preview'), 'Hi Alex, our walk-in day is')).toContain(
      'Hi Alex, our walk-in day is',
    );
    expect(page.url()).toBe(`${base}/console/templates`);

    // Appointments: upcoming, with their reminders and what will be sent when.
    await nav.getByRole('link', { name: 'Appointments' }).click();
    await page.getByRole('heading', { name: /Upcoming appointments \(2\)/ }).waitFor();
    const rows = page.locator('main table tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.first().textContent()).toContain('APPT-1');
    await page.getByRole('button', { name: 'Reminders for APPT-1' }).click();
    await page.getByRole('heading', { name: 'Reminders for APPT-1' }).waitFor();
    const reminders = page.getByTestId('reminders').locator('tbody tr');
    expect(await reminders.count()).toBe(3);
    expect(await reminders.first().textContent()).toContain('scheduled');
    const plan = page.getByRole('list', { name: 'Reminder texts by send time' });
    expect(await plan.getByRole('listitem').count()).toBe(3);
    expect(await plan.textContent()).toContain('Reply C to confirm');
    expect(await plan.textContent()).not.toContain('FOLLOWUP');
    expect(page.url()).toBe(`${base}/console/appointments`);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, shots, 'console-appointments');
    expect(await fitsPhone(page)).toBe(true);

    // Campaigns: the list is checked before anything is sent.
    await nav.getByRole('link', { name: 'Campaigns' }).click();
    await page.getByRole('button', { name: 'New campaign' }).click();
    await page.getByLabel('Campaign name').fill('December walk-in day');
    await page.getByLabel('Template', { exact: true }).selectOption({ label: 'Walk-in day' });
    await page.getByLabel('Recipient list (CSV)').setInputFiles({
      name: 'walk-in.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(list()),
    });
    await page.getByRole('button', { name: 'Check list' }).click();
    const check = page.getByTestId('list-check');
    await check.waitFor();
    const count = async (scope: typeof check, label: string) =>
      (await scope
        .locator('div', { has: page.getByText(label, { exact: true }) })
        .locator('dd')
        .textContent())!;
    expect(await count(check, 'Rows')).toBe(String(GOOD + 1));
    expect(await count(check, 'Will be sent')).toBe(String(GOOD - 1));
    expect(await count(check, 'Invalid')).toBe('1');
    expect(await count(check, 'No consent')).toBe('1');
    const problems = page.locator('.list-check table tbody tr');
    expect(await problems.allTextContents()).toEqual([
      '4Not a usable phone number',
      '9Opted out: will not be texted',
    ]);
    expect(await page.locator('.list-check blockquote').textContent()).toContain(
      'Hi Ann, our walk-in day is',
    );
    expect(await axeViolations(page)).toEqual([]);

    // Hold the first batch in the pipeline, so the pause lands while the campaign runs.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const send = t.rt.send.bind(t.rt);
    t.rt.send = async (...args) => {
      await held;
      return send(...args);
    };
    await page.getByRole('button', { name: `Create campaign (${GOOD - 1} to send)` }).click();
    const status = page.getByTestId('campaign-status');
    expect(await textOf(status, 'Ready')).toBe('Ready');
    await page.getByRole('button', { name: 'Start sending' }).click();
    await page.getByText('Sending', { exact: true }).first().waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    expect(await status.textContent()).toBe('Paused');
    release();
    // The batch in flight finishes; the rest waits for the resume.
    await page.getByText(`Handed to the send pipeline: 251 of ${GOOD + 1}`).waitFor();
    const paused = await t.rt.campaigns.list(orgId);
    expect(paused[0]).toMatchObject({ status: 'paused' });
    expect(paused[0]!.progress.pending).toBe(50);

    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('heading', { name: 'Final report' }).waitFor({ timeout: 30_000 });
    const report = page.getByTestId('campaign-report');
    // Delivery receipts arrive from the simulator; the page polls until none is waiting.
    await waitFor(async () => (await count(report, 'Waiting to send')) === '0', 30_000, 200);
    await waitFor(async () => (await count(report, 'Delivered')) === String(GOOD - 1), 30_000, 200);
    expect(await count(report, 'Sent')).toBe(String(GOOD - 1));
    expect(await count(report, 'Failed')).toBe('1');
    expect(await count(report, 'Suppressed by consent')).toBe('1');
    expect(await count(report, 'Diverted by the content check')).toBe('0');
    expect(await status.textContent()).toBe('Completed');
    expect(page.url()).toBe(`${base}/console/campaigns`);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, shots, 'console-campaigns');
    expect(await fitsPhone(page)).toBe(true);

    // No number in browser storage; nothing left the origin; the CSP held.
    const stored = await page.evaluate<string>(
      'JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])',
    );
    expect(stored).not.toMatch(/1617\d{7}/);
    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);
    await page.context().close();
  }, 180_000);

  it('a provider sees templates and campaigns read-only', async () => {
    const { base, browser } = suite;
    const provider = await addConsoleUser(suite, 'dr.lee@clinic.example', 'provider');
    const { page } = await openPage(browser, base);
    await signIn(page, base, provider);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Templates' }).click();
    await page.getByRole('button', { name: 'Open Walk-in day' }).click();
    await page.getByRole('button', { name: 'Preview' }).waitFor();
    expect(await page.getByRole('button', { name: 'New template' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Edit' }).count()).toBe(0);
    await nav.getByRole('link', { name: 'Campaigns' }).click();
    await page.getByRole('button', { name: 'Open December walk-in day' }).click();
    await page.getByRole('heading', { name: 'Final report' }).waitFor();
    expect(await page.getByRole('button', { name: 'New campaign' }).count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);
    await page.context().close();
  }, 120_000);
});
