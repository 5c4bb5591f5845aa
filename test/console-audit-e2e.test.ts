/**
 * The console's Dashboard, Audit and Compliance pages end to end in Debian's Chromium
 * (playwright-core; no browser is downloaded) against a real server with its workers running.
 * Texts go out first (delivered, failed at the carrier, diverted to the portal, scheduled),
 * a patient opts out, and the risk monitor pauses the sender for its failure rate. Then an
 * auditor (read-only) sees the figures and charts and filters them, filters the audit log,
 * verifies the chain ("intact"), downloads a sealed export, runs a disclosure report with the
 * number only in the request body; the test tampers with one audit row and verifying again
 * names its sequence number. An admin sees the compliance posture and the risk alert and
 * resumes the paused sender. Every page passes axe-core (no serious or critical violation)
 * under the console's CSP, with no third-party request and no number in the address bar or
 * browser storage. Screenshots console-{dashboard,audit,compliance}-{desktop,phone}.png go
 * to docs/images/ with TIDINGS_UPDATE_SCREENSHOTS=1.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { waitFor } from './helpers.js';
import {
  addConsoleUser,
  axeViolations,
  browserReady,
  consoleSuite,
  type ConsoleSuite,
  openPage,
  screenshots,
  signIn,
} from './browser.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';
import { CarrierError } from '../src/carriers/types.js';

const READY = browserReady('console audit end-to-end', { console: true });
const PATIENT = '+16175550142';
const FAILS = '+16175550199';
const PHI = 'Your A1C was 9.1, please increase your metformin';

describe.skipIf(!READY)('dashboard, audit and compliance in headless Chromium', () => {
  const sent = { delivered: 0, failed: 0 };
  const suite = consoleSuite({
    shots: 'console-audit',
    env: { TIDINGS_DEFAULT_MPS: '1000' },
    runtime: {
      simulator: {
        failWith: (m) => (m.to === FAILS ? new CarrierError('permanent', '30005') : undefined),
      },
    },
    seed: seedTraffic,
  });

  async function seedTraffic({ t, orgId }: Pick<ConsoleSuite, 't' | 'orgId'>) {
    // Real traffic: 40 delivered reminders, 20 carrier failures (billing), one PHI text
    // diverted to the portal, one scheduled for next week; then one opt-out.
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const to = `+1617555${String(1000 + i).padStart(4, '0')}`;
      const r = await t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
        to,
        body: 'See you on Tuesday at 10:00.',
        program: 'care',
      });
      ids.push(r.message.id);
    }
    for (let i = 0; i < 20; i++) {
      const r = await t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
        to: FAILS,
        body: `Your statement ${i} is ready.`,
        program: 'billing',
      });
      ids.push(r.message.id);
    }
    const diverted = await t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
      to: PATIENT,
      body: PHI,
      program: 'care',
    });
    expect(diverted.guard).toMatchObject({ verdict: 'secure', action: 'diverted' });
    ids.push(diverted.message.id);
    await t.rt.messaging.accept(orgId, SYSTEM_ACTOR, {
      to: PATIENT,
      body: 'Your visit is next week.',
      program: 'care',
      sendAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    });
    await t.rt.consent.record(
      orgId,
      { phone: '+16175559001', program: 'care', kind: 'opt_out', source: 'staff', evidence: 'x' },
      SYSTEM_ACTOR,
    );
    t.rt.startWorkers();
    await waitFor(async () => {
      const s = await t.rt.messaging.statuses(orgId, ids);
      return ids.every((id) => ['delivered', 'failed'].includes(s.get(id) ?? ''));
    }, 30_000);
    for (const s of (await t.rt.messaging.statuses(orgId, ids)).values()) {
      if (s === 'delivered') sent.delivered += 1;
      if (s === 'failed') sent.failed += 1;
    }
    // 20 of 61 failed: over the critical failure rate, so the sender is paused.
    const raised = await t.rt.risk.evaluate(orgId);
    expect(raised.map((a) => a.signal)).toContain('delivery_failure_rate');
  }

  it('an auditor reads the dashboard, filters and verifies the audit log, exports, and runs a disclosure report', async () => {
    expect(sent).toEqual({ delivered: 41, failed: 20 });
    const { t, base, orgId, browser, shots } = suite;
    const { context, page, thirdParty, cspViolations } = await openPage(browser, base);
    await signIn(page, base, await addConsoleUser(suite, 'audit@clinic.example', 'auditor'));
    const nav = page.getByRole('navigation', { name: 'Main' });
    const links = await nav.getByRole('link').allTextContents();
    expect(links).toEqual(expect.arrayContaining(['Dashboard', 'Audit', 'Compliance']));
    expect(links).not.toContain('Compose');
    expect(links).not.toContain('Settings');

    // Dashboard: figures and three charts, each an image with a summary and a data table.
    await nav.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    expect(await page.title()).toBe('Dashboard · Tidings');
    expect(page.url()).toBe(`${base}/console/dashboard`);
    const figures = page.getByTestId('figures');
    await figures.waitFor();
    const fig = async (name: string) =>
      (await figures.locator('div', { has: page.getByText(name, { exact: true }) }).textContent())!;
    expect(await fig('Texts')).toContain('62');
    expect(await fig('Delivery rate')).toContain(`${Math.round((41 / 61) * 100)}%`);
    expect(await fig('Failed')).toContain('20');
    expect(await fig('Opt-outs')).toContain('1');
    expect(await fig('Guard diversions')).toContain('1');
    expect(await fig('Open risk alerts')).toContain('1 critical');
    const chart = page.getByRole('img', { name: /^Texts per day by status\./ });
    expect(await chart.getAttribute('aria-label')).toContain('41 delivered');
    expect(await chart.getAttribute('aria-label')).toContain('20 failed');
    expect(await chart.locator('rect.s-delivered').count()).toBe(1);
    expect(await page.getByRole('img', { name: /^Opt-outs per day\./ }).count()).toBe(1);
    expect(await page.getByRole('img', { name: /^Secure messages per day\./ }).count()).toBe(1);
    await screenshots(page, shots, 'console-dashboard');
    await page.getByText('Texts per day by status: the figures as a table').click();
    const today = new Date().toISOString().slice(0, 10);
    const row = page
      .getByRole('region', { name: 'Texts per day by status: figures' })
      .getByRole('row', {
        name: new RegExp(`^${today}`),
      });
    expect(await row.textContent()).toContain('41');
    expect(await axeViolations(page)).toEqual([]);
    // Per program: billing holds the 20 failures only.
    await page.getByLabel('Program').selectOption('billing');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => fig('Texts')).toContain('20');
    expect(await fig('Delivery rate')).toContain('0%');
    expect(page.url()).toBe(`${base}/console/dashboard`);

    // Audit log, filtered by action.
    await nav.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
    await page.getByLabel('Action').fill('message.failed');
    await page.getByRole('button', { name: 'Show events' }).click();
    const log = page.getByRole('region', { name: 'Audit events', exact: true });
    const actionCells = log.locator('tbody tr td:nth-child(4)');
    // The table fills in when the answer arrives.
    await expect.poll(async () => (await actionCells.allTextContents()).length).toBe(20);
    const actions = await actionCells.allTextContents();
    expect(new Set(actions)).toEqual(new Set(['message.failed']));
    await page.getByLabel('Action').fill('');
    await page.getByLabel('Actor type').selectOption('user');
    await page.getByRole('button', { name: 'Show events' }).click();
    // Only people's events: the auditor's own reads, named by email with the id beside it.
    const actors = async () => await log.locator('tbody tr td:nth-child(3)').allTextContents();
    await expect
      .poll(async () => {
        const a = await actors();
        return a.length > 0 && a.every((x) => x.startsWith('user '));
      })
      .toBe(true);
    expect(new Set(await actors()).size).toBe(1);
    expect((await actors())[0]).toMatch(/^user audit@clinic\.example usr_/);

    // Verify the chain: intact.
    await page.getByRole('button', { name: 'Verify chain' }).click();
    const verdict = page.getByTestId('verify-result');
    await expect.poll(() => verdict.textContent()).toContain('The chain is intact');

    // Export: a sealed JSON Lines download.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download export' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^tidings-audit-org_[a-z0-9]+-[\d-]+\.jsonl$/);
    const lines = fs
      .readFileSync(await download.path(), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { record: string });
    expect(lines[0]!.record).toBe('header');
    expect(lines.at(-1)!.record).toBe('seal');
    expect(lines.filter((l) => l.record === 'event').length).toBeGreaterThan(60);

    // The accounting of disclosures for one patient: the number travels in the body only.
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.getByLabel('Patient number').fill(PATIENT);
    await page.getByRole('button', { name: 'Run report' }).click();
    const disclosures = page.getByRole('region', { name: 'Disclosures', exact: true });
    await disclosures.waitFor();
    const about = await disclosures.locator('tbody tr td:nth-child(4)').allTextContents();
    expect(about).toEqual(expect.arrayContaining(['secure_message.created']));
    expect(requests.some((u) => u.includes('5550142'))).toBe(false);
    expect(page.url()).toBe(`${base}/console/audit`);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, shots, 'console-audit');

    // Someone edits an event in the database: verification names it.
    const victim = await t.rt.store.db
      .selectFrom('audit_events')
      .select('seq')
      .where('org_id', '=', orgId)
      .where('action', '=', 'message.failed')
      .orderBy('seq')
      .executeTakeFirstOrThrow();
    await t.rt.store.db
      .updateTable('audit_events')
      .set({ details: '{"reason":"nothing to see"}' })
      .where('org_id', '=', orgId)
      .where('seq', '=', victim.seq)
      .execute();
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await expect
      .poll(() => verdict.textContent())
      .toContain(`The chain is broken at event #${Number(victim.seq)}`);
    expect(await verdict.textContent()).toContain('changed after it was written');

    // Read-only: nothing on these pages changes anything, and no resume button for auditors.
    await nav.getByRole('link', { name: 'Compliance' }).click();
    await page.getByRole('heading', { name: 'Risk alerts' }).waitFor();
    await page.locator('.risk-alert').first().waitFor();
    expect(await page.getByRole('button', { name: /Resume senders|Resolve/ }).count()).toBe(0);

    const stored = await page.evaluate<string>(
      'JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])',
    );
    expect(stored).not.toContain('5550142');
    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  it('an admin sees the compliance report and resumes the sender a risk alert paused', async () => {
    const { t, base, orgId, browser, shots } = suite;
    const { context, page, thirdParty, cspViolations } = await openPage(browser, base);
    await signIn(page, base, await addConsoleUser(suite, 'admin@clinic.example', 'admin'));
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Compliance' }).click();
    await page.getByRole('heading', { level: 1, name: 'Compliance' }).waitFor();
    const overall = page.getByTestId('posture-overall');
    await overall.waitFor();
    expect(['OK', 'Needs attention', 'Failing']).toContain(await overall.textContent());
    const posture = page.getByRole('region', { name: 'Compliance posture' });
    expect(await posture.getByRole('row').count()).toBeGreaterThan(4);

    const alert = page.locator('.risk-alert', { hasText: 'delivery failure rate' });
    await alert.waitFor();
    expect(await alert.textContent()).toContain('critical');
    const [senderId] = await t.rt.risk.pausedSenders(orgId);
    expect(senderId).toBeDefined();
    expect(await alert.textContent()).toContain(senderId);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, shots, 'console-compliance');

    await alert.getByRole('button', { name: /Resume senders/ }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Alert resolved' }).count())
      .toBe(1);
    expect(await t.rt.risk.pausedSenders(orgId)).toEqual([]);
    expect(await page.locator('.risk-alert').count()).toBe(0);
    await page.getByLabel('Show').selectOption('all');
    await page.locator('.risk-alert', { hasText: 'resolved' }).first().waitFor();
    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });
});
