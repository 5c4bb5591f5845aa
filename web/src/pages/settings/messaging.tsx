/**
 * @module web/pages/settings/messaging
 * Quiet hours and frequency caps (PUT /v1/settings/messaging). The organisation's window may
 * only be stricter than the installation's; the server refuses anything else. The form
 * always sends the whole setting, since anything left out takes its default.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api, PROGRAMS, type Program } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, type Outcome } from './shared';
import { TableHead, TextField } from '../../ui';

interface Cap {
  per24h: number | null;
  per7d: number | null;
  withoutExpressConsentOnly: boolean;
  maxChars: number | null;
  requireStopInstructions: boolean;
}

interface MessagingSettings {
  quietHours: {
    enabled: boolean;
    installationWindow: string;
    window: string | null;
    effectiveWindow: string;
    exemptPrograms: Program[];
  };
  caps: {
    enabled: boolean;
    mode: 'refuse' | 'defer';
    programs: Record<Program, Cap | null>;
  };
}

type CapForm = Record<Program, { per24h: string; per7d: string }>;

function capForm(s: MessagingSettings): CapForm {
  const out = {} as CapForm;
  for (const p of PROGRAMS) {
    const c = s.caps.programs[p];
    out[p] = { per24h: c?.per24h?.toString() ?? '', per7d: c?.per7d?.toString() ?? '' };
  }
  return out;
}

const num = (v: string) => (v.trim() === '' ? null : Number(v));

export function MessagingSection() {
  const res = useResource<MessagingSettings>('/v1/settings/messaging');
  const [own, setOwn] = useState(false);
  const [start, setStart] = useState('');
  const [end, setEnd] = useState('');
  const [exempt, setExempt] = useState<Set<Program>>(new Set());
  const [mode, setMode] = useState<'refuse' | 'defer'>('refuse');
  const [caps, setCaps] = useState<CapForm | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);

  const s = res.data;
  useEffect(() => {
    if (!s) return;
    const w = s.quietHours.window ?? s.quietHours.installationWindow;
    const [a = '', b = ''] = w.split('-');
    setOwn(s.quietHours.window !== null);
    setStart(a);
    setEnd(b);
    setExempt(new Set(s.quietHours.exemptPrograms));
    setMode(s.caps.mode);
    setCaps(capForm(s));
  }, [s]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!s || !caps) return;
    const programs = {} as Record<Program, Cap | null>;
    for (const p of PROGRAMS) {
      const cur = s.caps.programs[p];
      const per24h = num(caps[p].per24h);
      const per7d = num(caps[p].per7d);
      programs[p] =
        cur === null && per24h === null && per7d === null
          ? null
          : {
              per24h,
              per7d,
              withoutExpressConsentOnly: cur?.withoutExpressConsentOnly ?? false,
              maxChars: cur?.maxChars ?? null,
              requireStopInstructions: cur?.requireStopInstructions ?? false,
            };
    }
    await attempt(setOutcome, 'Quiet hours and caps saved.', async () => {
      res.setData(
        await api<MessagingSettings>('PUT', '/v1/settings/messaging', {
          quietHours: {
            window: own ? `${start}-${end}` : null,
            exemptPrograms: PROGRAMS.filter((p) => exempt.has(p)),
          },
          caps: { mode, programs },
        }),
      );
    });
  };

  return (
    <>
      <LoadError error={res.error} />
      {s && caps && (
        <form onSubmit={(e) => void save(e)}>
          <h3>Quiet hours</h3>
          <p data-testid="effective-window">
            Texts go out between{' '}
            <strong>{s.quietHours.effectiveWindow.replace('-', ' and ')}</strong> in the recipient’s
            local time
            {s.quietHours.enabled ? '' : ' (quiet hours are switched off for this installation)'}.
            The installation allows {s.quietHours.installationWindow}.
          </p>
          <label className="check">
            <input type="checkbox" checked={own} onChange={(e) => setOwn(e.target.checked)} />
            Use a stricter window of our own
          </label>
          {own && (
            <div className="row">
              <TextField
                id="qh-start"
                label="Earliest send time"
                type="time"
                required
                value={start}
                onChange={setStart}
              />
              <TextField
                id="qh-end"
                label="Latest send time"
                type="time"
                required
                value={end}
                onChange={setEnd}
              />
            </div>
          )}
          <fieldset className="checks">
            <legend>Programs quiet hours never hold</legend>
            {PROGRAMS.map((p) => (
              <label key={p} className="check">
                <input
                  type="checkbox"
                  checked={exempt.has(p)}
                  onChange={(e) => {
                    const next = new Set(exempt);
                    if (e.target.checked) next.add(p);
                    else next.delete(p);
                    setExempt(next);
                  }}
                />
                {p}
              </label>
            ))}
          </fieldset>

          <h3>Frequency caps</h3>
          {!s.caps.enabled && (
            <p className="muted">Frequency caps are switched off for this installation.</p>
          )}
          <label htmlFor="cap-mode">Over a cap</label>
          <select
            id="cap-mode"
            value={mode}
            onChange={(e) => setMode(e.target.value as 'refuse' | 'defer')}
          >
            <option value="refuse">Refuse the message</option>
            <option value="defer">Hold it until the cap allows</option>
          </select>
          <div className="table-scroll">
            <table>
              <caption className="hint">Leave a box empty for no cap.</caption>
              <TableHead columns={['Program', 'At most per 24 hours', 'At most per 7 days']} />
              <tbody>
                {PROGRAMS.map((p) => (
                  <tr key={p}>
                    <th scope="row">{p}</th>
                    {(['per24h', 'per7d'] as const).map((k) => (
                      <td key={k}>
                        <input
                          type="number"
                          min={1}
                          aria-label={`${p}: at most per ${k === 'per24h' ? '24 hours' : '7 days'}`}
                          value={caps[p][k]}
                          onChange={(e) =>
                            setCaps({ ...caps, [p]: { ...caps[p], [k]: e.target.value } })
                          }
                        />
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <button type="submit">Save quiet hours and caps</button>
        </form>
      )}
      <OutcomeLine outcome={outcome} />
    </>
  );
}
