/**
 * @module web/pages/compose
 * Compose a text: recipient (by number, or found by name: web/compose-recipient), program,
 * send-at with the recipient's consent and quiet hours shown before sending, free text with
 * live content-guard feedback (findings highlighted by category, and what will happen: plain
 * SMS, or a secure-portal message with only a neutral notice by SMS), the segment count and
 * encoding, or a template with its typed slots; then send (POST /v1/messages) and show what
 * the server did.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { countSegments } from '../../../src/messaging/segments.js';
import { api, ApiError, idempotencyKey, PROGRAMS, type Program } from '../api';
import { GuardFeedback, useGuardCheck } from '../guard-check';
import { SLOT_INPUT } from '../slot-inputs';
import { PatientPicker, RecipientStatus } from '../compose-recipient';

const MAX_SEGMENTS = 10;

interface Template {
  id: string;
  name: string;
  body: string;
  program: Program;
  slots: string[];
}

interface SendResult {
  id: string;
  status: string;
  segments: number;
  encoding: string;
  sendAt: string;
  notBefore: string | null;
  heldBy: string | null;
  guard?: {
    verdict: 'allow' | 'secure';
    action?: 'diverted' | 'overridden';
    categories?: string[];
    secureMessageId?: string;
  };
}

export function Compose() {
  const [to, setTo] = useState('');
  const [program, setProgram] = useState<Program>('care');
  const [templates, setTemplates] = useState<Template[]>([]);
  const [templateId, setTemplateId] = useState('');
  const [variables, setVariables] = useState<Record<string, string>>({});
  const [preview, setPreview] = useState<{
    body: string;
    segments: number;
    encoding: string;
  } | null>(null);
  const [text, setText] = useState('');
  const [sendAt, setSendAt] = useState('');
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<SendResult | null>(null);
  const resultRef = useRef<HTMLElement>(null);
  const guard = useGuardCheck(templateId ? '' : text);
  const template = templates.find((t) => t.id === templateId);

  useEffect(() => {
    api<{ data: Template[] }>('GET', '/v1/templates').then(
      (r) => setTemplates(r.data),
      () => setTemplates([]),
    );
  }, []);

  useEffect(() => {
    if (sent) resultRef.current?.focus();
  }, [sent]);

  const pickTemplate = (id: string) => {
    setTemplateId(id);
    setVariables({});
    setPreview(null);
    const t = templates.find((x) => x.id === id);
    if (t) setProgram(t.program);
  };

  const showPreview = async () => {
    if (!template) return;
    setError(null);
    try {
      setPreview(await api('POST', `/v1/templates/${template.id}/preview`, { variables }));
    } catch (e) {
      setPreview(null);
      setError(e instanceof ApiError ? e.message : 'The preview failed.');
    }
  };

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setSending(true);
    setError(null);
    setSent(null);
    try {
      const when = sendAt ? { sendAt: new Date(sendAt).toISOString() } : {};
      const body = template
        ? { to, program, template: template.id, variables, ...when }
        : { to, program, body: text, ...when };
      const r = await api<SendResult>('POST', '/v1/messages', body, {
        headers: { 'idempotency-key': idempotencyKey() },
      });
      setSent(r);
      setText('');
      setVariables({});
      setPreview(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The server could not be reached.');
    } finally {
      setSending(false);
    }
  };

  const seg = countSegments(text);

  return (
    <main id="main" className="page">
      <h1>Compose</h1>
      <form onSubmit={(e) => void send(e)} className="compose" aria-describedby="compose-help">
        <p id="compose-help" className="muted">
          Texts that reveal health information never go by SMS: Tidings keeps them behind the secure
          portal and texts the patient a neutral notice.
        </p>
        {error && (
          <p className="alert error" role="alert">
            {error}
          </p>
        )}
        <PatientPicker onPick={(phone) => setTo(phone)} />
        <div className="row">
          <div className="field">
            <label htmlFor="to">Recipient number</label>
            <input
              id="to"
              type="tel"
              autoComplete="off"
              required
              value={to}
              onChange={(e) => setTo(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="program">Program</label>
            <select
              id="program"
              value={program}
              onChange={(e) => setProgram(e.target.value as Program)}
            >
              {PROGRAMS.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="template">Template</label>
            <select id="template" value={templateId} onChange={(e) => pickTemplate(e.target.value)}>
              <option value="">Free text</option>
              {templates.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="send-at">Send at (your time; empty: now)</label>
            <input
              id="send-at"
              type="datetime-local"
              value={sendAt}
              onChange={(e) => setSendAt(e.target.value)}
            />
          </div>
        </div>
        <RecipientStatus to={to} program={program} sendAt={sendAt} />

        {template ? (
          <fieldset className="slots">
            <legend>Fill in “{template.name}”</legend>
            <p className="template-body">{template.body}</p>
            {template.slots.map((slot) => (
              <div className="field" key={slot}>
                <label htmlFor={`slot-${slot}`}>{slot}</label>
                <input
                  id={`slot-${slot}`}
                  type={SLOT_INPUT[slot]?.type ?? 'text'}
                  aria-describedby={`slot-${slot}-hint`}
                  required
                  value={variables[slot] ?? ''}
                  onChange={(e) => setVariables({ ...variables, [slot]: e.target.value })}
                />
                <span id={`slot-${slot}-hint`} className="hint">
                  {SLOT_INPUT[slot]?.hint}
                </span>
              </div>
            ))}
            <button type="button" className="secondary" onClick={() => void showPreview()}>
              Preview
            </button>
            {preview && (
              <p className="preview" aria-live="polite">
                <strong>Preview:</strong> {preview.body}{' '}
                <span className="muted">
                  ({preview.segments} segment{preview.segments === 1 ? '' : 's'}, {preview.encoding}
                  )
                </span>
              </p>
            )}
          </fieldset>
        ) : (
          <>
            <label htmlFor="body">Message</label>
            <textarea
              id="body"
              rows={5}
              required
              value={text}
              onChange={(e) => setText(e.target.value)}
              aria-describedby="segments guard-verdict"
            />
            <p id="segments" className={seg.segments > MAX_SEGMENTS ? 'counter over' : 'counter'}>
              {text.length === 0
                ? 'Empty'
                : `${seg.segments} segment${seg.segments === 1 ? '' : 's'} · ${seg.encoding} · ${seg.units} ${seg.encoding === 'GSM-7' ? 'septets' : 'code units'}`}
              {seg.segments > MAX_SEGMENTS && ` — over the limit of ${MAX_SEGMENTS} segments`}
            </p>
            <GuardFeedback
              text={text}
              guard={guard}
              verdictId="guard-verdict"
              empty="Type a message to see how it will be sent."
              allow="Will be sent as SMS."
              secure={(categories) => (
                <>
                  <p>
                    <strong>Will be diverted to the secure portal.</strong> It reveals health
                    information ({categories}), so the patient gets only this notice by SMS:
                  </p>
                  <blockquote className="notice">
                    You have a new message from your organisation. View it securely: https://…/s/…
                    Reply STOP to opt out.
                  </blockquote>
                </>
              )}
            />
          </>
        )}
        <button type="submit" disabled={sending}>
          Send
        </button>
      </form>

      {sent && (
        <section className="result" aria-labelledby="result-title" ref={resultRef} tabIndex={-1}>
          <h2 id="result-title">
            {sent.guard?.action === 'diverted'
              ? 'Sent securely: the patient was texted a neutral notice'
              : 'Accepted for sending'}
          </h2>
          <dl>
            <dt>Message</dt>
            <dd>
              <code>{sent.id}</code>
            </dd>
            <dt>Status</dt>
            <dd data-testid="result-status">{sent.status}</dd>
            <dt>Segments</dt>
            <dd>
              {sent.segments} ({sent.encoding})
            </dd>
            <dt>Content check</dt>
            <dd data-testid="result-guard">
              {sent.guard?.action === 'diverted'
                ? `diverted to the portal (${(sent.guard.categories ?? []).join(', ')})`
                : sent.guard?.action === 'overridden'
                  ? 'sent as SMS by override'
                  : 'allowed as SMS'}
            </dd>
            {sent.guard?.secureMessageId && (
              <>
                <dt>Secure message</dt>
                <dd>
                  <code>{sent.guard.secureMessageId}</code>
                </dd>
              </>
            )}
            {sent.notBefore && (
              <>
                <dt>Held until</dt>
                <dd>
                  {new Date(sent.notBefore).toLocaleString()} (
                  {sent.heldBy === 'quiet_hours' ? 'quiet hours' : 'frequency cap'})
                </dd>
              </>
            )}
          </dl>
        </section>
      )}
    </main>
  );
}
