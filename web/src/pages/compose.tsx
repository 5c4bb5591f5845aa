/**
 * @module web/pages/compose
 * Compose a text: recipient (by number, or found by name: web/compose-recipient), program,
 * send-at with the recipient's consent and quiet hours shown before sending, free text with
 * live content-guard feedback (findings highlighted by category, and what will happen: plain
 * SMS, or a secure-portal message with only a neutral notice by SMS), the segment count and
 * encoding, or a template with its typed slots; then send (POST /v1/messages) and show what
 * the server did. The organisation (GET /v1/auth/session, read when the page opens) gives the
 * neutral notice as the server words it, the guard policy (`reject`: held text is refused and
 * Send disabled; `override`: a provider may send it as SMS with a written reason; never
 * staff) and the senders (with several, pick one; the segment count is the same for all).
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { countSegments } from '../../../src/messaging/segments.js';
import { api, ApiError, idempotencyKey, PROGRAMS, type Program, type Role } from '../api';
import { GuardFeedback, useGuardCheck } from '../guard-check';
import { SLOT_INPUT } from '../slot-inputs';
import { PatientPicker, RecipientStatus } from '../compose-recipient';
import { SelectField, TextField } from '../ui';

const MAX_SEGMENTS = 10;
/** The server's bounds on an override reason (POST /v1/messages, `override.reason`). */
const REASON_MIN = 10;
const REASON_MAX = 500;

type GuardPolicy = 'divert' | 'reject' | 'override';

interface ComposeContext {
  user: { role: Role };
  organisation: {
    name: string;
    guardPolicy: GuardPolicy;
    notice: string;
    senders: { id: string; number: string; default: boolean; pool: boolean }[];
  };
}

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
  const [context, setContext] = useState<ComposeContext | null>(null);
  const [from, setFrom] = useState('');
  const [overriding, setOverriding] = useState(false);
  const [reason, setReason] = useState('');
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
    // Read afresh each time the page opens, so a changed guard policy applies at once.
    api<ComposeContext>('GET', '/v1/auth/session').then(setContext, () => setContext(null));
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

  const seg = countSegments(text);
  const policy = context?.organisation.guardPolicy ?? 'divert';
  const held = !template && guard.result?.verdict === 'secure';
  const refused = held && policy === 'reject';
  // Only a provider, in person, may send held text as SMS; staff never see the choice.
  const canOverride = held && policy === 'override' && context?.user.role === 'provider';
  const senders = context?.organisation.senders ?? [];
  const chosen = senders.find((x) => x.id === from);
  const notice = context?.organisation.notice ?? 'You have a new message from your organisation.';

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setSending(true);
    setError(null);
    setSent(null);
    try {
      const when = sendAt ? { sendAt: new Date(sendAt).toISOString() } : {};
      const sender = from ? { from } : {};
      const body = template
        ? { to, program, template: template.id, variables, ...when, ...sender }
        : {
            to,
            program,
            body: text,
            ...when,
            ...sender,
            ...(canOverride && overriding ? { override: { reason: reason.trim() } } : {}),
          };
      const r = await api<SendResult>('POST', '/v1/messages', body, {
        headers: { 'idempotency-key': idempotencyKey() },
      });
      setSent(r);
      setText('');
      setOverriding(false);
      setReason('');
      setVariables({});
      setPreview(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The server could not be reached.');
    } finally {
      setSending(false);
    }
  };

  return (
    <main id="main" className="page">
      <h1>Compose</h1>
      <form onSubmit={(e) => void send(e)} className="compose" aria-describedby="compose-help">
        <p id="compose-help" className="muted">
          {policy === 'reject'
            ? 'Texts that reveal health information are refused: your organisation does not send them by SMS.'
            : 'Texts that reveal health information never go by SMS: Tidings keeps them behind the secure portal and texts the patient a neutral notice.'}
          {policy === 'override' &&
            ' A provider may send one as SMS anyway, with a written reason.'}
        </p>
        {error && (
          <p className="alert error" role="alert">
            {error}
          </p>
        )}
        <PatientPicker onPick={(phone) => setTo(phone)} />
        <div className="row">
          <TextField
            id="to"
            label="Recipient number"
            type="tel"
            autoComplete="off"
            required
            value={to}
            onChange={setTo}
          />
          <SelectField
            id="program"
            label="Program"
            value={program}
            onChange={(v) => setProgram(v as Program)}
            options={PROGRAMS}
          />
          <SelectField
            id="template"
            label="Template"
            value={templateId}
            onChange={pickTemplate}
            any="Free text"
            options={templates.map((t) => [t.id, t.name] as const)}
          />
          <TextField
            id="send-at"
            label="Send at (your time; empty: now)"
            type="datetime-local"
            value={sendAt}
            onChange={setSendAt}
          />
          {senders.length > 1 && (
            <div className="field">
              <label htmlFor="from">Send from</label>
              <select
                id="from"
                value={from}
                onChange={(e) => setFrom(e.target.value)}
                aria-describedby="from-cost"
              >
                <option value="">
                  {senders.some((x) => x.pool)
                    ? 'Automatic (the sender pool)'
                    : 'Automatic (the default number)'}
                </option>
                {senders.map((x) => (
                  <option key={x.id} value={x.id}>
                    {x.number}
                    {x.default ? ' · default' : ''}
                    {x.pool ? ' · in the pool' : ''}
                  </option>
                ))}
              </select>
            </div>
          )}
        </div>
        {senders.length > 1 && (
          <p id="from-cost" className="muted" data-testid="sender-cost">
            {template
              ? 'A template costs the same number of segments from every number (see Preview).'
              : `${seg.segments} segment${seg.segments === 1 ? '' : 's'} from whichever number sends it.`}{' '}
            {chosen?.pool
              ? `${chosen.number} is in the sender pool: named here, it sends this text itself instead of the patient’s usual pool number.`
              : !chosen && senders.some((x) => x.pool)
                ? 'Automatic: the pool sends from the same number each time for this patient.'
                : ''}
          </p>
        )}
        <RecipientStatus to={to} program={program} sendAt={sendAt} />

        {template ? (
          <fieldset className="slots">
            <legend>Fill in “{template.name}”</legend>
            <p className="template-body">{template.body}</p>
            {template.slots.map((slot) => (
              <TextField
                key={slot}
                id={`slot-${slot}`}
                label={slot}
                type={SLOT_INPUT[slot]?.type ?? 'text'}
                hint={SLOT_INPUT[slot]?.hint ?? ''}
                required
                value={variables[slot] ?? ''}
                onChange={(v) => setVariables({ ...variables, [slot]: v })}
              />
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
              secure={(categories) =>
                policy === 'reject' ? (
                  <p data-testid="guard-refused">
                    <strong>Will be refused.</strong> It reveals health information ({categories}),
                    and your organisation does not send such text by SMS: take it out, or send a
                    secure message.
                  </p>
                ) : (
                  <>
                    <p>
                      <strong>Will be diverted to the secure portal.</strong> It reveals health
                      information ({categories}), so the patient gets only this notice by SMS:
                    </p>
                    <blockquote className="notice" data-testid="notice-preview">
                      {notice}
                    </blockquote>
                  </>
                )
              }
            />
            {canOverride && (
              <fieldset className="override">
                <legend>Send as plain SMS anyway</legend>
                <div className="check">
                  <input
                    id="override"
                    type="checkbox"
                    checked={overriding}
                    onChange={(e) => setOverriding(e.target.checked)}
                    aria-describedby="override-help"
                  />
                  <label htmlFor="override">Override the content check for this text</label>
                </div>
                <p id="override-help" className="hint">
                  Your organisation lets providers send such text as SMS with a written reason. The
                  reason is kept in the audit log.
                </p>
                {overriding && (
                  <div className="field">
                    <label htmlFor="override-reason">
                      Override reason ({REASON_MIN} to {REASON_MAX} characters)
                    </label>
                    <textarea
                      id="override-reason"
                      rows={2}
                      required
                      minLength={REASON_MIN}
                      maxLength={REASON_MAX}
                      value={reason}
                      onChange={(e) => setReason(e.target.value)}
                    />
                  </div>
                )}
              </fieldset>
            )}
          </>
        )}
        <button
          type="submit"
          disabled={sending || refused}
          aria-describedby={refused ? 'guard-verdict' : undefined}
        >
          {canOverride && overriding ? 'Send as SMS' : 'Send'}
        </button>
      </form>

      {sent && (
        <section className="result" aria-labelledby="result-title" ref={resultRef} tabIndex={-1}>
          <h2 id="result-title">
            {sent.guard?.action === 'diverted'
              ? 'Sent securely: the patient was texted a neutral notice'
              : sent.guard?.action === 'overridden'
                ? 'Accepted for sending as SMS by override'
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
