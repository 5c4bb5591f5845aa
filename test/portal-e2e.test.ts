/**
 * The patient portal end to end in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser is downloaded): a secure message is sent through the API to a
 * real server on 127.0.0.1, the link is taken from the simulator's sent log and opened on a
 * phone-sized screen, verification fails and then succeeds, the message is read, a reply is
 * sent, and the link expires. Screenshots of the portal (portal.png, portal-verify.png) are
 * written to docs/images/ when TIDINGS_UPDATE_SCREENSHOTS=1.
 * Skipped, saying so, where /usr/bin/chromium is not installed (.ci/run installs it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { BROWSER_HOOK_TIMEOUT, browserReady, launchChromium } from './browser.js';
import { openTestRuntime, waitFor, type TestRuntime } from './helpers.js';
import { SYSTEM_ACTOR } from '../src/audit/index.js';

const READY = browserReady('portal end-to-end');

const SECRET = 'Your A1C was 9.1, please increase your metformin to 1000 mg twice a day.';
const PHONE = '+16175550199';
/** Screenshots go to docs/images/ with TIDINGS_UPDATE_SCREENSHOTS=1, else to a temp dir. */
const SHOTS = process.env.TIDINGS_UPDATE_SCREENSHOTS
  ? path.resolve(import.meta.dirname, '..', 'docs', 'images')
  : fs.mkdtempSync(path.join(os.tmpdir(), 'portal-shots-'));
const SCREENSHOT = path.join(SHOTS, 'portal.png');
const VERIFY_SCREENSHOT = path.join(SHOTS, 'portal-verify.png');

describe.skipIf(!READY)('portal in headless Chromium', () => {
  let t: TestRuntime;
  let base: string;
  let apiKey: string;
  let simLog: string;
  let browser: Browser;

  beforeAll(async () => {
    simLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'portal-e2e-')), 'sim.jsonl');
    t = await openTestRuntime({
      env: { PORT: '0', HOST: '127.0.0.1', TIDINGS_SIM_LOG: simLog },
    });
    const o = await t.rt.orgs.create('Lakeside Clinic', SYSTEM_ACTOR);
    apiKey = (
      await t.rt.apiKeys.create(
        o.orgId,
        { name: 'e2e', scopes: ['secure:send', 'messages:read'] },
        SYSTEM_ACTOR,
      )
    ).apiKey;
    base = await t.rt.listen();
    t.rt.startWorkers();
    browser = await launchChromium();
  }, BROWSER_HOOK_TIMEOUT);
  afterAll(async () => {
    await browser?.close();
    await t?.cleanup();
    if (!process.env.TIDINGS_UPDATE_SCREENSHOTS) fs.rmSync(SHOTS, { recursive: true, force: true });
  });

  it('opens the texted link, fails and passes verification, reads, replies, expires', async () => {
    const res = await fetch(`${base}/v1/secure-messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        to: PHONE,
        body: SECRET,
        program: 'care',
        verify: 'dob',
        dob: '1980-03-27',
      }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };

    // The link, as the patient's phone received it (PUBLIC_URL's host is this test server's).
    const notice = await waitFor(() =>
      fs.existsSync(simLog)
        ? fs
            .readFileSync(simLog, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { to: string; body: string })
            .find((l) => l.to === PHONE)?.body
        : undefined,
    );
    expect(notice).not.toContain('A1C');
    const link =
      base + new URL(/View it securely: (\S+) Reply STOP to opt out\.$/.exec(notice)![1]!).pathname;

    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      javaScriptEnabled: false,
    });
    const page = await context.newPage();
    const thirdParty: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(base)) thirdParty.push(r.url());
    });
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });

    let r = await page.goto(link);
    expect(r?.status()).toBe(200);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'You have a secure message',
    );
    expect(await page.textContent('body')).not.toContain('A1C');

    // A wrong date of birth.
    await page.getByLabel('Month').fill('3');
    await page.getByLabel('Day').fill('28');
    await page.getByLabel('Year').fill('1980');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('4 tries left');
    await page.screenshot({ path: VERIFY_SCREENSHOT, fullPage: true });

    // The right one.
    await page.getByLabel('Month').fill('3');
    await page.getByLabel('Day').fill('27');
    await page.getByLabel('Year').fill('1980');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(link);
    await expect(page.locator('#message').textContent()).resolves.toBe(SECRET);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // A reply.
    await page.getByLabel('Reply to Lakeside Clinic').fill('Thanks, I will start tomorrow.');
    await page.getByRole('button', { name: 'Send reply' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toBe('Your reply was sent.');
    const replies = await fetch(`${base}/v1/secure-messages/${id}/replies`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(((await replies.json()) as { data: { body: string }[] }).data[0]?.body).toBe(
      'Thanks, I will start tomorrow.',
    );

    // The link's time runs out: the same neutral page as for any dead link.
    await t.rt.store.db
      .updateTable('secure_messages')
      .set({ expires_at: Date.now() - 1000 })
      .where('id', '=', id)
      .execute();
    r = await page.goto(link);
    expect(r?.status()).toBe(404);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'This link is not available',
    );
    expect(await page.textContent('body')).not.toContain('A1C');

    expect(thirdParty).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  }, 60_000);
});
