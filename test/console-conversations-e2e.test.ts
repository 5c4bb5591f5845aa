/**
 * The console's Conversations page end to end in Debian's Chromium (playwright-core, no
 * downloaded browser) against a real server with its workers and the simulator carrier:
 * a patient replies STOP to a text and the thread shows the reply and the consent it changed
 * (and so does the Consent page); a staff member opening a thread with a secure message and
 * a portal reply sees that they exist but not their content (the API sends none), while a
 * provider reads them and replies; the unread count drops once a thread is opened, and
 * assignment works. Every state passes an axe-core scan; no number or body in the address
 * bar or browser storage; no third-party request or CSP violation. At scale: more
 * conversations than a page come with "Show more conversations", a long thread shows its
 * newest page and "Show older messages" back to its first text (focus stays in the thread),
 * and a reply that arrives is taken in when the page becomes visible again, older pages kept.
 * Screenshots
 * docs/images/console-conversations-{desktop,phone}.png with TIDINGS_UPDATE_SCREENSHOTS=1.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { waitFor, type TestRuntime } from './helpers.js';
import {
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
import { csrfFor } from '../src/portal/tokens.js';

const READY = browserReady('console conversations end-to-end', { console: true });
const PASSWORD = 'harbour lantern meadow 17';
const STOPPER = '+16175550131';
const SECURE_PATIENT = '+16175550132';
const LONG_PATIENT = '+16175550133';
/** Older conversations than the rest, so the list has a second page (50 a page). */
const BULK = 55;
const SECRET = 'Your A1C was 9.1, please increase your metformin';
const PORTAL_REPLY = 'Thanks, I will take 1000 mg with dinner';

describe.skipIf(!READY)('console conversations in headless Chromium', () => {
  let t: TestRuntime;
  let base: string;
  let orgId: string;
  let senderNumber: string;
  let browser: Browser;

  const inbound = async (from: string, body: string) => {
    expect(await t.rt.messaging.receiveInbound({ from, to: senderNumber, body })).not.toBeNull();
  };
  /** A new user of `role`, signed in on a watched page, and on the Conversations page. */
  const openInbox = async (email: string, role: 'staff' | 'provider' | 'admin') => {
    await addConsoleUser(suite, email, role, PASSWORD);
    const watched = await openPage(browser, base);
    await signIn(watched.page, base, { email, password: PASSWORD });
    await watched.page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Conversations' })
      .click();
    return watched;
  };
  /** The list entry of the number ending in `last4`. */
  const entry = (page: Page, last4: string) =>
    page
      .getByRole('list', { name: 'Conversations' })
      .getByRole('listitem')
      .filter({
        hasText: `•••• ${last4}`,
      });

  const suite = consoleSuite({
    shots: 'console-conversations',
    orgName: 'Harbour Clinic',
    seed: async (s) => {
      ({ t, orgId, base } = s);
      senderNumber = (await t.rt.orgs.senders(orgId))[0]!.number;
      t.rt.startWorkers();
      // First, older than everything below: a patient with a long history, and many others.
      await inbound(LONG_PATIENT, 'Is my appointment still on?');
      for (let i = 0; i < 60; i++) {
        await t.rt.send(orgId, SYSTEM_ACTOR, {
          to: LONG_PATIENT,
          body: `History note ${i}`,
          program: 'care',
        });
      }
      await Promise.all(
        Array.from({ length: BULK }, (_, n) =>
          t.rt.send(orgId, SYSTEM_ACTOR, {
            to: `+1617300${String(1000 + n)}`,
            body: 'Harbour Clinic: your flu shot is due.',
            program: 'care',
          }),
        ),
      );

      // A reminder text to one patient; a secure message, a portal reply and a text from another.
      const sent = await t.rt.send(orgId, SYSTEM_ACTOR, {
        to: STOPPER,
        body: 'Harbour Clinic: see you on Tuesday at 10:00. Reply STOP to opt out.',
        program: 'care',
      });
      await waitFor(async () => {
        const m = await t.rt.messaging.get(orgId, sent.message.id, SYSTEM_ACTOR);
        return m.status === 'delivered' || m.status === 'sent' ? m : undefined;
      });
      const sec = await t.rt.portal.createSecureMessage(orgId, SYSTEM_ACTOR, {
        to: SECURE_PATIENT,
        body: SECRET,
        program: 'care',
        verify: 'dob',
        dob: '1975-06-02',
      });
      const notice = await t.rt.messaging.get(orgId, sec.notice.id, SYSTEM_ACTOR);
      const token = new URL(/https?:\/\/\S+/.exec(notice.body!)![0]).pathname.split('/')[2]!;
      const v = await t.rt.portal.verify(token, { month: '06', day: '02', year: '1975' });
      const session = (v as { sessionToken: string }).sessionToken;
      expect((await t.rt.portal.reply(token, session, csrfFor(session), PORTAL_REPLY)).kind).toBe(
        'replied',
      );
      await inbound(SECURE_PATIENT, 'Is there parking at the clinic?');
      // An appointment from the scheduling feed, and the patient asks to reschedule (R): a task.
      await t.rt.reminders.upsertAppointment(orgId, SYSTEM_ACTOR, {
        externalId: 'A-2041',
        source: 'api',
        status: 'booked',
        start: Date.now() + 3 * 24 * 3600_000,
        patient: { given: 'Rosa', family: 'Lind', phone: SECURE_PATIENT },
      });
      await inbound(SECURE_PATIENT, 'R');
      expect((await t.rt.reminders.tasks(orgId)).map((k) => k.kind)).toEqual([
        'reschedule_request',
      ]);
    },
  });
  beforeAll(() => {
    browser = suite.browser;
  });

  it('staff: STOP shows in the thread and flips consent; secure content is withheld; unread and assignment', async () => {
    const email = 'desk@harbour.example';
    const { context, page, thirdParty, cspViolations } = await openInbox(email, 'staff');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await page.getByRole('heading', { level: 1, name: 'Conversations' }).waitFor();
    expect(page.url()).toBe(`${base}/console/conversations`);
    expect(await page.title()).toBe('Conversations · Tidings');

    // The secure patient: a portal reply and two texts, all unread; the R is a task.
    expect(await textOf(entry(page, '0132'), '3 unread')).toContain('3 unread');
    const tasks = page.getByRole('region', { name: 'Reschedule requests' });
    expect(await tasks.textContent()).toContain('A-2041');
    expect(await entry(page, '0131').textContent()).not.toContain('unread');
    expect(await axeViolations(page)).toEqual([]);

    // Opening it: the text is there, the secure content is not — and the API sent none.
    const threadResponse = page.waitForResponse(
      (r) => /\/v1\/conversations\/cnv_[^/]+$/.test(r.url()) && r.request().method() === 'GET',
    );
    await entry(page, '0132').getByRole('button').click();
    const thread = page.getByRole('region', { name: /Conversation with •••• 0132/ });
    await thread.waitFor();
    const raw = await (await threadResponse).text();
    expect(raw).not.toContain('A1C');
    expect(raw).not.toContain('1000 mg');
    expect(raw).toContain('"secureContent":false');
    expect(await textOf(thread, 'Is there parking at the clinic?')).toContain(
      'Is there parking at the clinic?',
    );
    expect(await thread.textContent()).toContain('shown to providers only');
    expect(await thread.locator('.withheld').count()).toBe(2);
    expect(await page.locator('body').textContent()).not.toContain('metformin');
    // The unread count drops once opened.
    await waitFor(async () =>
      (await entry(page, '0132').textContent())?.includes('unread') ? undefined : true,
    );
    expect(await axeViolations(page)).toEqual([]);

    // The reschedule request is marked in the thread; closing it there empties the tasks.
    const request = thread.getByRole('listitem').filter({ hasText: 'Reschedule request' });
    expect(await request.locator('.body').textContent()).toBe('R');
    await request.getByRole('button', { name: 'Done: reschedule request' }).click();
    await expect(tasks.getByText('No open requests.').textContent()).resolves.toBeTruthy();
    expect(await t.rt.reminders.tasks(orgId)).toEqual([]);

    // Assignment: to me, then the "Assigned to me" view.
    await thread.getByRole('button', { name: 'Assign to me' }).click();
    expect(await textOf(entry(page, '0132'), `Assigned to ${email}`)).toContain(
      `Assigned to ${email}`,
    );
    await waitFor(async () =>
      (await entry(page, '0132').textContent())?.includes(`Assigned to ${email}`)
        ? true
        : undefined,
    );
    await page.getByLabel('Show').selectOption('me');
    await waitFor(async () =>
      (await page.getByRole('list', { name: 'Conversations' }).getByRole('listitem').count()) === 1
        ? true
        : undefined,
    );
    expect(await entry(page, '0132').count()).toBe(1);
    await page.getByLabel('Show').selectOption('all');
    await entry(page, '0131').waitFor();

    // The patient replies STOP: the thread shows it, and the consent it changed.
    await entry(page, '0131').getByRole('button').click();
    const stopThread = page.getByRole('region', { name: /Conversation with •••• 0131/ });
    await stopThread.waitFor();
    expect(await stopThread.getByTestId('thread-consent').textContent()).toContain(
      'care: no record',
    );
    await inbound(STOPPER, 'STOP');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(entry(page, '0131').textContent()).resolves.toBeTruthy();
    await waitFor(async () =>
      (await entry(page, '0131').textContent())?.includes('1 unread') ? true : undefined,
    );
    await entry(page, '0131').getByRole('button').click();
    await waitFor(async () =>
      (await stopThread.getByTestId('thread-consent').textContent())?.includes('care: opted out')
        ? true
        : undefined,
    );
    const stopItems = stopThread.getByRole('list', { name: 'Messages, oldest first' });
    expect(await textOf(stopItems, 'STOP')).toContain('STOP');
    // The keyword engine's confirmation follows, and replying is refused.
    await waitFor(async () =>
      (await stopItems.textContent())?.includes('Automatic reply') ? true : undefined,
    );
    await stopThread.getByLabel('Reply text').fill('Can we call you instead?');
    await stopThread.getByRole('button', { name: 'Send reply' }).click();
    expect(await textOf(stopThread.getByRole('alert'), /opted out/)).toMatch(/opted out/);
    expect(await axeViolations(page)).toEqual([]);

    // The Consent page agrees.
    await nav.getByRole('link', { name: 'Consent' }).click();
    await page.getByLabel('Patient number').fill(STOPPER);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    expect(await page.locator('table').first().textContent()).toContain('Opted out');

    // Emergency access from the thread: with a reason, it is granted and the content shows.
    await nav.getByRole('link', { name: 'Conversations' }).click();
    await entry(page, '0132').getByRole('button').click();
    const again = page.getByRole('region', { name: /Conversation with •••• 0132/ });
    await again.waitFor();
    expect(await again.locator('.withheld').count()).toBe(2);
    await again.getByRole('button', { name: 'Emergency access' }).click();
    const dialog = page.getByRole('dialog', { name: 'Emergency access' });
    await dialog
      .getByLabel('Reason')
      .fill('The patient is on the phone about results; provider out');
    await dialog.getByRole('button', { name: 'Request access' }).click();
    await dialog.getByTestId('break-glass-granted').waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await waitFor(async () =>
      (await again.locator('.withheld').count()) === 0 ? true : undefined,
    );
    expect(await again.textContent()).toContain(SECRET);
    expect(await again.textContent()).toContain(PORTAL_REPLY);
    expect(await axeViolations(page)).toEqual([]);

    // Nothing about the patients in the address bar or browser storage.
    const stored = await page.evaluate<string>(
      'JSON.stringify([location.href, Object.entries(sessionStorage), Object.entries(localStorage)])',
    );
    expect(stored).not.toMatch(/555013[12]/);
    expect(stored).not.toContain('parking');
    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  it('provider: reads the secure message and the portal reply, and replies', async () => {
    const { context, page, thirdParty, cspViolations } = await openInbox(
      'dr.ito@harbour.example',
      'provider',
    );
    await entry(page, '0132').getByRole('button').click();
    const thread = page.getByRole('region', { name: /Conversation with •••• 0132/ });
    await thread.waitFor();
    expect(await textOf(thread, SECRET)).toContain(SECRET);
    expect(await thread.textContent()).toContain(PORTAL_REPLY);
    expect(await thread.locator('.withheld').count()).toBe(0);
    // The notice carries the portal link: never shown.
    expect(await thread.textContent()).toContain('neutral notice with the portal link (not shown)');
    expect(await thread.textContent()).not.toMatch(/\/s\/[A-Za-z0-9_-]{10,}/);

    await thread.getByLabel('Reply text').fill('Yes, there is free parking behind the building.');
    await thread.getByRole('button', { name: 'Send reply' }).click();
    expect(await textOf(thread.getByRole('status'), 'Reply sent')).toContain('Reply sent');
    await waitFor(async () =>
      (await thread.textContent())?.includes('free parking behind the building') ? true : undefined,
    );
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, suite.shots, 'console-conversations');
    expect(page.url()).toBe(`${base}/console/conversations`);
    const stored = await page.evaluate<string>(
      'JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])',
    );
    expect(stored).not.toContain('5550132');
    expect(stored).not.toContain('A1C');
    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });
  it('staff: more conversations by page, a long thread back to its start, refreshed when visible', async () => {
    const { context, page, thirdParty, cspViolations } = await openInbox(
      'night@harbour.example',
      'staff',
    );
    const rows = page.getByRole('list', { name: 'Conversations' }).getByRole('listitem');
    await entry(page, '0131').waitFor();
    expect(await rows.count()).toBe(50);
    expect(await entry(page, '0133').count()).toBe(0);
    const more = page.getByRole('button', { name: 'Show more conversations' });
    await more.click();
    await entry(page, '0133').waitFor();
    expect(await rows.count()).toBe(BULK + 3);
    expect(await more.count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);

    await entry(page, '0133').getByRole('button').click();
    const thread = page.getByRole('region', { name: /Conversation with •••• 0133/ });
    await thread.waitFor();
    const items = thread
      .getByRole('list', { name: 'Messages, oldest first' })
      .getByRole('listitem');
    await waitFor(async () => ((await items.count()) === 50 ? true : undefined));
    expect(await items.last().textContent()).toContain('History note 59');
    expect(await thread.textContent()).not.toContain('Is my appointment still on?');
    await thread.getByRole('button', { name: 'Show older messages' }).click();
    await thread.getByText('Beginning of the conversation.').waitFor();
    expect(await items.count()).toBe(61);
    expect(await items.first().textContent()).toContain('Is my appointment still on?');
    expect(await items.nth(1).textContent()).toContain('History note 0');
    // The button is gone: focus went to the messages, not to the top of the page.
    expect(
      await page.evaluate<string | null>(
        "document.activeElement?.getAttribute('aria-label') ?? null",
      ),
    ).toBe('Messages, oldest first');
    expect(await axeViolations(page)).toEqual([]);

    // A reply arrives; coming back to the page (as every 30 s) takes it in, older pages kept.
    await inbound(LONG_PATIENT, 'Running ten minutes late');
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))");
    await waitFor(async () =>
      (await thread.textContent())?.includes('Running ten minutes late') ? true : undefined,
    );
    expect(await items.count()).toBe(62);
    expect(await items.first().textContent()).toContain('Is my appointment still on?');
    const stored = await page.evaluate<string>(
      'JSON.stringify([location.href, Object.entries(sessionStorage), Object.entries(localStorage)])',
    );
    expect(stored).not.toContain('5550133');
    expect(stored).not.toContain('History note');
    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });

  it('admin: sees the inbox without bodies and assigns from a list of users', async () => {
    const { context, page, cspViolations } = await openInbox('admin@harbour.example', 'admin');
    await entry(page, '0131').waitFor();
    // No thread to open: admins do not read message bodies.
    expect(
      await page.getByRole('list', { name: 'Conversations' }).getByRole('button').count(),
    ).toBe(0);
    await page.getByLabel('Assign •••• 0131 to').selectOption({ label: 'desk@harbour.example' });
    await expect(page.getByRole('status').first().textContent()).resolves.toBeTruthy();
    await waitFor(async () =>
      (await entry(page, '0131').textContent())?.includes('Assigned to desk@harbour.example')
        ? true
        : undefined,
    );
    expect(await axeViolations(page)).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  });
});
