/**
 * @module web/pages/settings/users
 * People and roles: add a user with a role (the one-time set-up link is shown to hand over,
 * never stored), change a role, disable or enable, reset the second factor, end every
 * session, issue a new set-up link; and the emergency-access grants with their reasons.
 */
import { useState, type FormEvent } from 'react';
import { api, type Role } from '../../api';
import { attempt, LoadError, OutcomeLine, useResource, when, type Outcome } from './shared';
import { TableHead, TableRegion, TextField } from '../../ui';

const ROLES: readonly Role[] = ['admin', 'provider', 'staff', 'auditor'];
const ROLE_HINTS: Record<Role, string> = {
  admin: 'manages users, keys and settings',
  provider: 'sends messages carrying health information (secure portal)',
  staff: 'sends reminders and notices; never sees secure-message content',
  auditor: 'reads audit and consent records only',
};

interface UserRow {
  id: string;
  email: string;
  role: Role;
  mfaEnrolled: boolean;
  passwordSet: boolean;
  disabled: boolean;
  createdAt: string;
}

interface Grant {
  id: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
  endedAt: string | null;
  reason?: string;
}

export function UsersSection({ selfId }: { selfId: string }) {
  const users = useResource<{ data: UserRow[] }>('/v1/users');
  const grants = useResource<{ data: Grant[] }>('/v1/break-glass');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('staff');
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [link, setLink] = useState<{ email: string; url: string } | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setLink(null);
    await attempt(setOutcome, `${email} was added as ${role}.`, async () => {
      const r = await api<{ user: UserRow; setupLink: string }>('POST', '/v1/users', {
        email,
        role,
      });
      setLink({ email: r.user.email, url: r.setupLink });
      setEmail('');
      users.reload();
    });
  };

  const act = async (ok: string, run: () => Promise<unknown>) => {
    setLink(null);
    await attempt(setOutcome, ok, run);
    users.reload();
  };

  const emailOf = (id: string) => users.data?.data.find((u) => u.id === id)?.email ?? id;

  return (
    <>
      <h3 id="users-add-title">Add a user</h3>
      <form className="row" aria-labelledby="users-add-title" onSubmit={(e) => void create(e)}>
        <TextField
          id="new-user-email"
          label="E-mail address"
          type="email"
          autoComplete="off"
          required
          value={email}
          onChange={setEmail}
        />
        <div className="field">
          <label htmlFor="new-user-role">Role</label>
          <select
            id="new-user-role"
            value={role}
            aria-describedby="new-user-role-hint"
            onChange={(e) => setRole(e.target.value as Role)}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Add user</button>
      </form>
      <p className="hint" id="new-user-role-hint">
        {role}: {ROLE_HINTS[role]}.
      </p>
      <OutcomeLine outcome={outcome} />
      {link && (
        <div className="once" data-testid="setup-link">
          <p>
            Give this one-time set-up link to <strong>{link.email}</strong> in person or by your
            usual secure channel. It is shown only now.
          </p>
          <label htmlFor="setup-link-value">Set-up link</label>
          <input
            id="setup-link-value"
            readOnly
            value={link.url}
            onFocus={(e) => e.target.select()}
          />
        </div>
      )}

      <h3 id="users-list-title">Users</h3>
      <LoadError error={users.error} />
      {users.data && (
        <TableRegion labelledBy="users-list-title">
          <table>
            <TableHead columns={['User', 'Role', 'State', 'Actions']} />
            <tbody>
              {users.data.data.map((u) => (
                <tr key={u.id}>
                  <th scope="row">{u.email}</th>
                  <td>
                    <select
                      aria-label={`Role of ${u.email}`}
                      value={u.role}
                      disabled={u.id === selfId}
                      onChange={(e) =>
                        void act(`${u.email} is now ${e.target.value}.`, () =>
                          api('PATCH', `/v1/users/${u.id}`, { role: e.target.value }),
                        )
                      }
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    {u.disabled
                      ? 'Disabled'
                      : !u.passwordSet
                        ? 'Invited'
                        : u.mfaEnrolled
                          ? 'Active'
                          : 'No second factor yet'}
                  </td>
                  <td className="actions">
                    <button
                      type="button"
                      className="secondary small"
                      aria-label={`New set-up link for ${u.email}`}
                      onClick={() =>
                        void act(`A new set-up link for ${u.email} is below.`, async () => {
                          const r = await api<{ setupLink: string }>(
                            'POST',
                            `/v1/users/${u.id}/setup-link`,
                          );
                          setLink({ email: u.email, url: r.setupLink });
                        })
                      }
                    >
                      Set-up link
                    </button>
                    {u.mfaEnrolled && (
                      <button
                        type="button"
                        className="secondary small"
                        aria-label={`Reset MFA for ${u.email}`}
                        onClick={() =>
                          void act(`${u.email} will enrol a second factor again.`, () =>
                            api('POST', `/v1/users/${u.id}/mfa/reset`),
                          )
                        }
                      >
                        Reset MFA
                      </button>
                    )}
                    <button
                      type="button"
                      className="secondary small"
                      aria-label={`End sessions for ${u.email}`}
                      onClick={() =>
                        void act(`${u.email} was signed out everywhere.`, () =>
                          api('POST', `/v1/users/${u.id}/sessions/revoke`),
                        )
                      }
                    >
                      End sessions
                    </button>
                    {u.id !== selfId && (
                      <button
                        type="button"
                        className="secondary small"
                        aria-label={`${u.disabled ? 'Enable' : 'Disable'} ${u.email}`}
                        onClick={() =>
                          void act(`${u.email} was ${u.disabled ? 'enabled' : 'disabled'}.`, () =>
                            api('PATCH', `/v1/users/${u.id}`, { disabled: !u.disabled }),
                          )
                        }
                      >
                        {u.disabled ? 'Enable' : 'Disable'}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}

      <h3 id="grants-title">Emergency access</h3>
      <LoadError error={grants.error} />
      {grants.data &&
        (grants.data.data.length === 0 ? (
          <p className="muted">No one has asked for emergency access.</p>
        ) : (
          <TableRegion labelledBy="grants-title">
            <table>
              <TableHead columns={['Who', 'From', 'Until', 'Reason']} />
              <tbody>
                {grants.data.data.map((g) => (
                  <tr key={g.id}>
                    <td>{emailOf(g.userId)}</td>
                    <td>{when(g.createdAt)}</td>
                    <td>{when(g.endedAt ?? g.expiresAt)}</td>
                    <td>{g.reason ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        ))}
    </>
  );
}
