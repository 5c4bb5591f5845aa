/**
 * @module web/consent-view
 * A number's consent as the console shows it wherever it appears (the Consent page, a
 * patient's page): the state per program and the full history with its source and evidence.
 * Pure rendering of the ledger's view (`POST /v1/consents/lookup`, `GET /v1/contacts/{id}/consent`).
 */
import { PROGRAMS } from './api';
import { ListTable, TableHead, when } from './ui';

export interface ProgramState {
  status: 'opted_in' | 'opted_out' | 'pending' | 'none';
  canSend: boolean;
}

export interface ConsentView {
  phone: string;
  programs: Record<(typeof PROGRAMS)[number], ProgramState>;
  history: {
    id: string;
    program: string;
    kind: string;
    source: string;
    evidence: string | null;
    /** The evidence was encrypted under a data key since shredded. */
    destroyed: boolean;
    actor: string;
    occurredAt: string;
    recordedAt: string;
  }[];
}

export const STATUS_LABELS: Record<ProgramState['status'], string> = {
  opted_in: 'Opted in',
  opted_out: 'Opted out',
  pending: 'Awaiting confirmation',
  none: 'No record',
};

/**
 * The two tables, each in a section with its own heading. `idPrefix` keeps heading ids apart
 * when a page shows more than one; `stateTitle` and `historyTitle` name the sections.
 */
export function ConsentTables(props: {
  view: ConsentView;
  idPrefix: string;
  stateTitle: string;
  historyTitle: string;
}) {
  const { view, idPrefix, stateTitle, historyTitle } = props;
  return (
    <>
      <section aria-labelledby={`${idPrefix}-state-title`}>
        <h2 id={`${idPrefix}-state-title`}>{stateTitle}</h2>
        <table>
          <TableHead columns={['Program', 'State', 'May we text?']} />
          <tbody>
            {PROGRAMS.map((p) => (
              <tr key={p}>
                <th scope="row">{p}</th>
                <td>
                  <span className={`badge ${view.programs[p].status}`}>
                    {STATUS_LABELS[view.programs[p].status]}
                  </span>
                </td>
                <td>{view.programs[p].canSend ? 'Yes' : 'No'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby={`${idPrefix}-history-title`}>
        <h2 id={`${idPrefix}-history-title`}>{historyTitle}</h2>
        <ListTable
          items={view.history}
          empty="No consent has been recorded for this number."
          labelledBy={`${idPrefix}-history-title`}
          columns={['When', 'Program', 'Event', 'Source', 'Evidence', 'Recorded by']}
          row={(h) => (
            <tr key={h.id}>
              <td>{when(h.occurredAt)}</td>
              <td>{h.program}</td>
              <td>{h.kind}</td>
              <td>{h.source}</td>
              <td>{h.destroyed ? <em>Destroyed (data key shredded)</em> : (h.evidence ?? '—')}</td>
              <td>{h.actor}</td>
            </tr>
          )}
        />
      </section>
    </>
  );
}
