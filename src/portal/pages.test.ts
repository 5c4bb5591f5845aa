import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  escapeHtml,
  messagePage,
  PORTAL_CSP,
  problemPage,
  unavailablePage,
  verifyPage,
} from './pages.js';

const ALL = [
  verifyPage({ path: '/s/t', orgName: 'A', method: 'dob', csrf: 'c' }),
  verifyPage({ path: '/s/t', orgName: 'A', method: 'code', csrf: 'c', codeSent: true }),
  messagePage({
    path: '/s/t',
    orgName: 'A',
    body: 'b',
    csrf: 'c',
    replies: [],
    sessionMinutes: 15,
  }),
  unavailablePage(),
  problemPage('rate_limited'),
];

describe('portal pages', () => {
  it('are noindex, English, phone-sized and script-free', () => {
    for (const html of ALL) {
      expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
      expect(html).toContain('<meta name="robots" content="noindex, nofollow">');
      expect(html).toContain(
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
      );
      expect(html).not.toMatch(/<script|\son[a-z]+=|javascript:|https?:\/\//i);
    }
  });

  it('inline only the stylesheet the CSP allows by hash', () => {
    const css = /<style>([\s\S]*?)<\/style>/.exec(ALL[0]!)![1]!;
    const hash = createHash('sha256').update(css, 'utf8').digest('base64');
    expect(PORTAL_CSP).toContain(`style-src 'sha256-${hash}'`);
    expect(PORTAL_CSP).toContain("script-src 'none'");
    expect(PORTAL_CSP).toContain("form-action 'self'");
  });

  it('label every field', () => {
    const dob = ALL[0]!;
    for (const id of ['dob-month', 'dob-day', 'dob-year']) expect(dob).toContain(`id="${id}"`);
    expect(dob.match(/<label>/g)?.length).toBe(3);
    expect(dob).toContain('<legend>');
    expect(ALL[1]).toContain('<label for="code">');
    expect(ALL[1]).toContain('autocomplete="one-time-code"');
    expect(ALL[2]).toContain('<label for="reply">');
  });

  it('escape everything it is given', () => {
    const evil = '<img src=x onerror=alert(1)>"\'&';
    const html = messagePage({
      path: '/s/t',
      orgName: evil,
      body: evil,
      csrf: evil,
      replies: [evil],
      error: evil,
      sessionMinutes: 15,
    });
    expect(html).not.toContain('<img');
    expect(html).toContain(escapeHtml(evil));
    expect(escapeHtml(evil)).toBe('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
  });

  it('say nothing about why a link does not work', () => {
    const html = unavailablePage();
    expect(html).not.toMatch(/locked|revoked|expired on|attempt/i);
  });
});
