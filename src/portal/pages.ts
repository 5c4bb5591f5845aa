/**
 * @module portal/pages
 * The patient portal's HTML, server-rendered as pure functions of their inputs: no script at
 * all, one stylesheet inlined and allowed by its hash (so the Content-Security-Policy can
 * forbid everything else), no third-party loads, plain form POSTs. Mobile first: one column,
 * 18px text, 48px tap targets (WCAG 2.2 2.5.8 asks 24px; platform guidelines 44–48px), labels
 * on every field, `lang` set. Every page is `noindex`.
 */
import { createHash } from 'node:crypto';

const CSS = `
*{box-sizing:border-box}
html{font-size:112.5%;-webkit-text-size-adjust:100%}
body{margin:0;background:#f3f5f7;color:#1b1f24;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;line-height:1.5}
main{max-width:36rem;margin:0 auto;padding:1.25rem 1rem 3rem}
.card{background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.brand{display:flex;align-items:center;gap:.5rem;font-weight:600;color:#0b5394;margin:0 0 1rem}
.brand svg{flex:none}
h1{font-size:1.4rem;line-height:1.25;margin:0 0 .75rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
p{margin:0 0 1rem}
.from{color:#3d4550}
fieldset{border:0;padding:0;margin:0 0 1rem}
legend{font-weight:600;padding:0;margin-bottom:.25rem}
label{display:block;font-weight:600;margin-bottom:.25rem}
.hint{color:#4f5965;font-size:.9rem;margin:0 0 .5rem}
.dob{display:flex;gap:.75rem}
.dob label{font-weight:400}
input,textarea{display:block;width:100%;font:inherit;min-height:48px;padding:.5rem .75rem;border:2px solid #5a6470;border-radius:8px;background:#fff;color:inherit}
.dob input.n2{width:4.2rem}
.dob input.n4{width:6rem}
textarea{min-height:8rem;resize:vertical}
input:focus,textarea:focus,button:focus{outline:3px solid #ffbf47;outline-offset:1px}
button{display:block;width:100%;min-height:48px;margin:.75rem 0 0;padding:.6rem 1rem;font:inherit;font-weight:600;border:0;border-radius:8px;background:#0b5394;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0b5394;border:2px solid #0b5394}
form{margin:0 0 1.25rem}
.alert{border-left:5px solid #b3261e;background:#fdecea;padding:.75rem 1rem;margin:0 0 1rem;border-radius:4px}
.ok{border-left:5px solid #1e7b34;background:#e8f5ea;padding:.75rem 1rem;margin:0 0 1rem;border-radius:4px}
.message{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f9fb;border:1px solid #d8dde3;border-radius:8px;padding:1rem;margin:0 0 1rem}
.reply{white-space:pre-wrap;overflow-wrap:anywhere;border-left:4px solid #9fb3c8;padding:.25rem .75rem;margin:0 0 .75rem}
.foot{color:#4f5965;font-size:.85rem;margin-top:1.5rem}
`.trim();

/** The page's one inline stylesheet, allowed by hash in the portal's CSP. */
const CSS_HASH = `'sha256-${createHash('sha256').update(CSS, 'utf8').digest('base64')}'`;

/**
 * Nothing may load but the inline stylesheet; forms post only to this origin; no framing,
 * no <base>, no plugins. No script is allowed at all.
 */
export const PORTAL_CSP = [
  "default-src 'none'",
  `style-src ${CSS_HASH}`,
  "img-src 'none'",
  "script-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const LOCK = `<svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 2a5 5 0 0 0-5 5v3H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-8a2 2 0 0 0-2-2h-1V7a5 5 0 0 0-5-5Zm-3 8V7a3 3 0 1 1 6 0v3H9Z"/></svg>`;

function layout(title: string, content: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<div class="card">
<p class="brand">${LOCK}<span>Secure message</span></p>
${content}
</div>
</main>
</body>
</html>
`;
}

function csrfField(csrf: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;
}

export interface VerifyPage {
  /** The link's path, `/s/<token>`; forms post below it. */
  path: string;
  orgName: string;
  method: 'dob' | 'code';
  csrf: string;
  /** A sentence saying what went wrong with the last attempt. */
  error?: string | undefined;
  /** A sentence confirming something (a code was sent). */
  notice?: string | undefined;
  /** A code has been sent recently: the code field leads. */
  codeSent?: boolean;
}

export function verifyPage(p: VerifyPage): string {
  const error = p.error
    ? `<div class="alert" role="alert" id="form-error">${escapeHtml(p.error)}</div>`
    : '';
  const notice = p.notice ? `<div class="ok" role="status">${escapeHtml(p.notice)}</div>` : '';
  const described = p.error ? ' aria-describedby="form-error"' : '';
  const intro = `<h1>You have a secure message</h1>
<p class="from">From <strong>${escapeHtml(p.orgName)}</strong>. To keep it private, first confirm it is you.</p>`;
  if (p.method === 'dob') {
    return layout(
      'Secure message',
      `${intro}
${error}
<form method="post" action="${p.path}/verify" novalidate>
${csrfField(p.csrf)}
<fieldset${described}>
<legend>What is your date of birth?</legend>
<p class="hint" id="dob-hint">For example, 3 27 1980</p>
<div class="dob">
<label>Month <input class="n2" id="dob-month" name="month" type="text" inputmode="numeric" pattern="[0-9]*" maxlength="2" autocomplete="bday-month" aria-describedby="dob-hint"></label>
<label>Day <input class="n2" id="dob-day" name="day" type="text" inputmode="numeric" pattern="[0-9]*" maxlength="2" autocomplete="bday-day"></label>
<label>Year <input class="n4" id="dob-year" name="year" type="text" inputmode="numeric" pattern="[0-9]*" maxlength="4" autocomplete="bday-year"></label>
</div>
</fieldset>
<button type="submit">Continue</button>
</form>
<p class="foot">This page is private. Don’t share the link.</p>`,
    );
  }
  const sendCode = `<form method="post" action="${p.path}/code">
${csrfField(p.csrf)}
<button type="submit"${p.codeSent ? ' class="secondary"' : ''}>${p.codeSent ? 'Text me a new code' : 'Text me a code'}</button>
</form>`;
  const enterCode = `<form method="post" action="${p.path}/verify" novalidate>
${csrfField(p.csrf)}
<label for="code">Enter the 6-digit code</label>
<p class="hint" id="code-hint">We text it to the phone this link was sent to.</p>
<input id="code" name="code" type="text" inputmode="numeric" pattern="[0-9]*" maxlength="7" autocomplete="one-time-code" aria-describedby="code-hint${p.error ? ' form-error' : ''}">
<button type="submit">Continue</button>
</form>`;
  return layout(
    'Secure message',
    `${intro}
${error}${notice}
${p.codeSent ? `${enterCode}\n${sendCode}` : `${sendCode}\n${enterCode}`}
<p class="foot">This page is private. Don’t share the link or the code.</p>`,
  );
}

export interface MessagePage {
  path: string;
  orgName: string;
  body: string;
  csrf: string;
  /** The patient's earlier replies, oldest first. */
  replies: readonly string[];
  /** Confirms a reply just sent. */
  replied?: boolean;
  error?: string | undefined;
  /** Minutes the page stays open after verification. */
  sessionMinutes: number;
}

export function messagePage(p: MessagePage): string {
  const replies = p.replies.length
    ? `<h2>Your replies</h2>\n${p.replies.map((r) => `<div class="reply">${escapeHtml(r)}</div>`).join('\n')}`
    : '';
  const status = p.replied ? '<div class="ok" role="status">Your reply was sent.</div>' : '';
  const error = p.error ? `<div class="alert" role="alert">${escapeHtml(p.error)}</div>` : '';
  return layout(
    'Secure message',
    `<h1>Message from ${escapeHtml(p.orgName)}</h1>
<div class="message" id="message">${escapeHtml(p.body)}</div>
${replies}
${status}${error}
<form method="post" action="${p.path}/reply">
${csrfField(p.csrf)}
<label for="reply">Reply to ${escapeHtml(p.orgName)}</label>
<p class="hint" id="reply-hint">Your reply is sent securely. Don’t use this for emergencies.</p>
<textarea id="reply" name="reply" rows="4" maxlength="2000" required aria-describedby="reply-hint"></textarea>
<button type="submit">Send reply</button>
</form>
<p class="foot">For your privacy this page closes after ${p.sessionMinutes} minutes. Close it when you are done.</p>`,
  );
}

/** The one page for an unknown, expired, revoked or locked link: it says nothing more. */
export function unavailablePage(): string {
  return layout(
    'Link not available',
    `<h1>This link is not available</h1>
<p>It may have expired or been closed. If you were expecting a message, contact the sender.</p>`,
  );
}

export function problemPage(kind: 'rate_limited' | 'bad_request' | 'error'): string {
  const text = {
    rate_limited: ['Too many tries', 'Wait a minute, then try again.'],
    bad_request: ['Something went wrong', 'Go back, reload the page and try again.'],
    error: ['Something went wrong', 'Please try again in a few minutes.'],
  }[kind];
  return layout(text[0]!, `<h1>${text[0]}</h1>\n<p>${text[1]}</p>`);
}
