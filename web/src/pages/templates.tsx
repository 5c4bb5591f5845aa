/**
 * @module web/pages/templates
 * The organisation's templates: the list, one template's body and slots, and a preview with
 * sample values (POST /v1/templates/:id/preview). Admins also create, change and delete
 * them, with live content-guard feedback on the body while they type (the server refuses a
 * body that would reveal health information, 422 template_contains_phi). A template is
 * selected by id in the page's state, never in the address bar.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, PROGRAMS, type Program, type Role } from '../api';
import { GuardFeedback, useGuardCheck } from '../guard-check';
import { sampleValues, SLOT_INPUT, slotsOf } from '../slot-inputs';
import {
  ErrorAlert,
  InfoNotice,
  ListTable,
  RowButton,
  SelectField,
  TextField,
  errorText as message,
  plural,
  when,
} from '../ui';

export interface TemplateView {
  id: string;
  name: string;
  body: string;
  program: Program;
  slots: string[];
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
}

interface Preview {
  body: string;
  segments: number;
  encoding: string;
}

type Editing = { kind: 'new' } | { kind: 'edit'; id: string } | null;

export function Templates(props: { role: Role }) {
  const canWrite = props.role === 'admin';
  const [templates, setTemplates] = useState<TemplateView[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [editing, setEditing] = useState<Editing>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const r = await api<{ data: TemplateView[] }>('GET', '/v1/templates');
      setTemplates(r.data);
    } catch (e) {
      setTemplates([]);
      setError(message(e, 'The templates could not be loaded.'));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const current = templates?.find((t) => t.id === selected) ?? null;

  return (
    <main id="main" className="page">
      <h1>Templates</h1>
      <p className="muted">
        Templates are the organisation’s own wording with typed slots such as{' '}
        <code>{'{{firstName}}'}</code>. A template never carries health information: the content
        check runs on every save.
      </p>
      <ErrorAlert error={error} />
      <InfoNotice text={notice} />
      {canWrite && editing === null && (
        <button
          type="button"
          onClick={() => {
            setEditing({ kind: 'new' });
            setNotice(null);
          }}
        >
          New template
        </button>
      )}
      {editing && (
        <TemplateEditor
          key={editing.kind === 'edit' ? editing.id : 'new'}
          template={editing.kind === 'edit' ? (current ?? undefined) : undefined}
          onCancel={() => setEditing(null)}
          onSaved={(t, created) => {
            setEditing(null);
            setSelected(t.id);
            setNotice(created ? `Template “${t.name}” created.` : `Template “${t.name}” saved.`);
            void load();
          }}
        />
      )}
      <section aria-labelledby="templates-title">
        <h2 id="templates-title">All templates</h2>
        <ListTable
          items={templates}
          empty="No templates yet."
          labelledBy="templates-title"
          contained
          columns={['Name', 'Program', 'Slots', 'Changed']}
          action
          row={(t) => (
            <tr key={t.id} aria-current={t.id === selected ? 'true' : undefined}>
              <th scope="row">{t.name}</th>
              <td>{t.program}</td>
              <td>{t.slots.join(', ') || '—'}</td>
              <td>{when(t.updatedAt)}</td>
              <td>
                <RowButton
                  label={`Open ${t.name}`}
                  onClick={() => {
                    setSelected(t.id);
                    setEditing(null);
                    setNotice(null);
                  }}
                >
                  Open
                </RowButton>
              </td>
            </tr>
          )}
        />
      </section>
      {current && editing === null && (
        <TemplateDetail
          key={current.id}
          template={current}
          canWrite={canWrite}
          onEdit={() => setEditing({ kind: 'edit', id: current.id })}
          onDeleted={() => {
            setNotice(`Template “${current.name}” deleted.`);
            setSelected(null);
            void load();
          }}
        />
      )}
    </main>
  );
}

function TemplateDetail(props: {
  template: TemplateView;
  canWrite: boolean;
  onEdit: () => void;
  onDeleted: () => void;
}) {
  const { template: t } = props;
  const [variables, setVariables] = useState<Record<string, string>>(() => sampleValues(t.slots));
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => headingRef.current?.focus(), []);

  const showPreview = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      setPreview(await api<Preview>('POST', `/v1/templates/${t.id}/preview`, { variables }));
    } catch (err) {
      setPreview(null);
      setError(message(err, 'The preview failed.'));
    }
  };

  const remove = async () => {
    setError(null);
    try {
      await api('DELETE', `/v1/templates/${t.id}`);
      props.onDeleted();
    } catch (err) {
      setError(message(err, 'The template could not be deleted.'));
    }
  };

  return (
    <section className="panel" aria-labelledby="detail-title">
      <h2 id="detail-title" ref={headingRef} tabIndex={-1}>
        {t.name}
      </h2>
      <p className="template-body">{t.body}</p>
      <dl className="facts">
        <dt>Program</dt>
        <dd>{t.program}</dd>
        <dt>Slots</dt>
        <dd>{t.slots.join(', ') || 'none'}</dd>
        <dt>Changed</dt>
        <dd>
          {when(t.updatedAt)} by {t.updatedBy}
        </dd>
      </dl>
      <ErrorAlert error={error} />
      <form onSubmit={(e) => void showPreview(e)}>
        <fieldset className="slots">
          <legend>Preview with sample values</legend>
          {t.slots.map((slot) => (
            <TextField
              key={slot}
              id={`tpl-slot-${slot}`}
              label={slot}
              type={SLOT_INPUT[slot]?.type ?? 'text'}
              hint={SLOT_INPUT[slot]?.hint}
              value={variables[slot] ?? ''}
              onChange={(v) => setVariables({ ...variables, [slot]: v })}
            />
          ))}
          <button type="submit" className="secondary">
            Preview
          </button>
          <div aria-live="polite">
            {preview && (
              <p className="preview">
                <strong>Preview:</strong> {preview.body}{' '}
                <span className="muted">
                  ({plural(preview.segments, 'segment')}, {preview.encoding})
                </span>
              </p>
            )}
          </div>
        </fieldset>
      </form>
      {props.canWrite && (
        <div className="actions">
          <button type="button" onClick={props.onEdit}>
            Edit
          </button>
          {confirming ? (
            <>
              <button type="button" className="danger" onClick={() => void remove()}>
                Delete “{t.name}” for good
              </button>
              <button type="button" className="secondary" onClick={() => setConfirming(false)}>
                Keep it
              </button>
            </>
          ) : (
            <button type="button" className="secondary" onClick={() => setConfirming(true)}>
              Delete…
            </button>
          )}
        </div>
      )}
    </section>
  );
}

function TemplateEditor(props: {
  template: TemplateView | undefined;
  onCancel: () => void;
  onSaved: (t: TemplateView, created: boolean) => void;
}) {
  const t = props.template;
  const [name, setName] = useState(t?.name ?? '');
  const [program, setProgram] = useState<Program>(t?.program ?? 'care');
  const [body, setBody] = useState(t?.body ?? '');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const guard = useGuardCheck(body);
  const slots = slotsOf(body);
  const unknown = slots.filter((s) => !(s in SLOT_INPUT));
  const nameRef = useRef<HTMLInputElement>(null);

  useEffect(() => nameRef.current?.focus(), []);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    try {
      const saved = t
        ? await api<TemplateView>('PUT', `/v1/templates/${t.id}`, { name, program, body })
        : await api<TemplateView>('POST', '/v1/templates', { name, program, body });
      props.onSaved(saved, !t);
    } catch (err) {
      setError(message(err, 'The template could not be saved.'));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="panel" onSubmit={(e) => void save(e)} aria-labelledby="editor-title">
      <h2 id="editor-title">{t ? `Edit “${t.name}”` : 'New template'}</h2>
      <ErrorAlert error={error} />
      <div className="row">
        <TextField
          id="tpl-name"
          label="Name"
          inputRef={nameRef}
          required
          maxLength={64}
          value={name}
          onChange={setName}
        />
        <SelectField
          id="tpl-program"
          label="Program"
          options={PROGRAMS}
          value={program}
          onChange={(v) => setProgram(v as Program)}
        />
      </div>
      <label htmlFor="tpl-body">Body</label>
      <textarea
        id="tpl-body"
        rows={4}
        required
        maxLength={1000}
        value={body}
        onChange={(e) => setBody(e.target.value)}
        aria-describedby="tpl-slots tpl-guard"
      />
      <p id="tpl-slots" className="counter">
        {slots.length === 0
          ? 'No slots. Slot types: ' + Object.keys(SLOT_INPUT).join(', ')
          : `Slots: ${slots.join(', ')}`}
        {unknown.length > 0 && (
          <strong className="bad"> — not a slot type: {unknown.join(', ')}</strong>
        )}
      </p>
      <GuardFeedback
        text={body}
        guard={guard}
        verdictId="tpl-guard"
        empty="Type the body to check it."
        allow="No health information found: the template may be saved."
        secure={(categories) => (
          <p>
            <strong>This template would reveal health information</strong> ({categories}) and cannot
            be saved. Send such content as a secure message instead.
          </p>
        )}
      />
      <button type="submit" disabled={saving}>
        {t ? 'Save changes' : 'Create template'}
      </button>
      <button type="button" className="secondary" onClick={props.onCancel}>
        Cancel
      </button>
    </form>
  );
}
