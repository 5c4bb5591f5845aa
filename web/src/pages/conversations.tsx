/**
 * @module web/pages/conversations
 * The front desk's inbox: one conversation per patient number (GET /v1/conversations, an
 * opaque id each — the number never goes in a URL), unread counts, assignment, and the
 * thread (GET /v1/conversations/:id): texts both ways with delivery status, and secure
 * messages and portal replies — their content only for providers (and for admins and staff
 * with emergency access, which the thread offers); others see that they exist.
 * Opening a thread marks it read; a reply goes through POST /v1/messages like any send.
 * Reschedule requests that patients texted in reply to reminders are tasks (GET /v1/tasks)
 * with a "Done" action. Admins see the list and assign; they do not read threads.
 *
 * At scale: the list comes a page at a time by last activity ("Show more conversations",
 * by cursor), and a thread shows its newest page with "Show older messages" back to the
 * patient's first text. While the page is visible the list refreshes itself every 30 s (and
 * when the tab becomes visible again); an open thread takes in what arrived since.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, idempotencyKey, PROGRAMS, type Program, type User } from '../api';
import { BREAK_GLASS_ROLES, BreakGlassButton } from '../break-glass';
import { SelectField } from '../ui';

type ConsentState = 'opted_in' | 'opted_out' | 'pending' | 'none';

interface Assignee {
  id: string;
  email: string;
}

interface Summary {
  id: string;
  phoneMasked: string;
  lastActivityAt: string;
  lastInboundAt: string | null;
  unread: number;
  assignee: Assignee | null;
  lastReadAt: string | null;
}

type Item =
  | {
      type: 'outbound';
      id: string;
      at: string;
      status: string;
      program: Program;
      kind: string;
      deliveredAt: string | null;
      failureReason: string | null;
      body?: string;
    }
  | { type: 'inbound'; id: string; at: string; body: string }
  | {
      type: 'secure';
      id: string;
      at: string;
      status: string;
      program: Program;
      firstViewedAt: string | null;
      body?: string;
    }
  | { type: 'secure_reply'; id: string; at: string; secureMessageId: string; body?: string };

interface Thread extends Summary {
  phone: string;
  secureContent: boolean;
  consent: Record<Program, ConsentState>;
  items: Item[];
  olderCursor: string | null;
}

/** Conversations and thread items per page. */
const PAGE = 50;
/** How often the list refreshes itself while the page is visible. */
const REFRESH_MS = 30_000;

/** Items of both, each once, oldest first. */
function mergeItems(a: Item[], b: Item[]): Item[] {
  const byId = new Map<string, Item>();
  for (const i of [...a, ...b]) byId.set(i.id, i);
  return [...byId.values()].sort((x, y) => x.at.localeCompare(y.at) || (x.id < y.id ? -1 : 1));
}

interface Task {
  id: string;
  appointmentId: string;
  externalId: string;
  kind: string;
  status: 'open' | 'done';
  inboundId: string | null;
  createdAt: string;
}

type Filter = 'all' | 'me' | 'none';

const CONSENT_LABELS: Record<ConsentState, string> = {
  opted_in: 'opted in',
  opted_out: 'opted out',
  pending: 'awaiting confirmation',
  none: 'no record',
};

const STATUS_LABELS: Record<string, string> = {
  queued: 'Queued',
  sending: 'Sending',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Failed',
  expired: 'Expired',
  canceled: 'Canceled',
  pending: 'Pending',
  active: 'Not yet opened',
  locked: 'Locked',
  revoked: 'Revoked',
};

function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

function message(e: unknown, fallback: string): string {
  return e instanceof ApiError ? e.message : fallback;
}

export function Conversations({ user }: { user: User }) {
  const canRead = user.role === 'provider' || user.role === 'staff';
  const [filter, setFilter] = useState<Filter>('all');
  const [list, setList] = useState<Summary[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [users, setUsers] = useState<Assignee[]>([]);
  const [openId, setOpenId] = useState<string | null>(null);
  const [thread, setThread] = useState<Thread | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const filterQuery = filter === 'all' ? '' : `&assigned=${filter}`;
  // How many rows the list shows: a refresh reloads as many (up to the API's 200 a page).
  const shown = useRef(PAGE);

  const loadList = useCallback(async (): Promise<Summary[] | null> => {
    const limit = Math.min(200, Math.max(PAGE, shown.current));
    try {
      const r = await api<{ data: Summary[]; nextCursor: string | null }>(
        'GET',
        `/v1/conversations?limit=${limit}${filterQuery}`,
      );
      setList(r.data);
      setNextCursor(r.nextCursor);
      shown.current = r.data.length;
      return r.data;
    } catch (e) {
      setError(message(e, 'The conversations could not be loaded.'));
      return null;
    }
  }, [filterQuery]);

  const loadMore = async () => {
    if (!nextCursor) return;
    setLoadingMore(true);
    try {
      const r = await api<{ data: Summary[]; nextCursor: string | null }>(
        'GET',
        `/v1/conversations?limit=${PAGE}&cursor=${encodeURIComponent(nextCursor)}${filterQuery}`,
      );
      const seen = new Set((list ?? []).map((c) => c.id));
      const more = [...(list ?? []), ...r.data.filter((c) => !seen.has(c.id))];
      setList(more);
      setNextCursor(r.nextCursor);
      shown.current = more.length;
      setNotice(`${r.data.length} more conversations shown.`);
    } catch (e) {
      setError(message(e, 'The conversations could not be loaded.'));
    } finally {
      setLoadingMore(false);
    }
  };

  const loadTasks = useCallback(async () => {
    try {
      const r = await api<{ data: Task[] }>('GET', '/v1/tasks');
      setTasks(r.data.filter((t) => t.status === 'open'));
    } catch (e) {
      setError(message(e, 'The tasks could not be loaded.'));
    }
  }, []);

  useEffect(() => {
    shown.current = PAGE;
    void loadList();
  }, [loadList]);

  useEffect(() => {
    void loadTasks();
    // Only admins may list the organisation's users; others assign to themselves.
    if (user.role === 'admin') {
      api<{ data: (Assignee & { role: string; disabled: boolean })[] }>('GET', '/v1/users').then(
        (r) =>
          setUsers(
            r.data
              .filter((u) => !u.disabled && u.role !== 'auditor')
              .map((u) => ({ id: u.id, email: u.email })),
          ),
        () => setUsers([]),
      );
    }
  }, [loadTasks, user.role]);

  const open = useCallback(
    async (id: string) => {
      setError(null);
      setNotice(null);
      setOpenId(id);
      try {
        const t = await api<Thread>('GET', `/v1/conversations/${id}`);
        setThread(t);
        if (t.unread > 0) {
          await api('POST', `/v1/conversations/${id}/read`);
          await loadList();
        }
      } catch (e) {
        setThread(null);
        setError(message(e, 'The conversation could not be opened.'));
      }
    },
    [loadList],
  );

  /** Takes the newest page of the open thread into what is shown (older pages stay). */
  const refreshThread = useCallback(async (id: string) => {
    const t = await api<Thread>('GET', `/v1/conversations/${id}`);
    setThread((old) =>
      old && old.id === id
        ? { ...t, items: mergeItems(old.items, t.items), olderCursor: old.olderCursor }
        : old,
    );
    if (t.unread > 0) await api('POST', `/v1/conversations/${id}/read`);
  }, []);

  // While the page is visible: every 30 s, and on coming back to it, the list again; an open
  // thread again when its conversation moved on. No push: the inbox asks.
  const latest = useRef({ thread, loadList, refreshThread });
  latest.current = { thread, loadList, refreshThread };
  useEffect(() => {
    const tick = async () => {
      if (document.visibilityState !== 'visible') return;
      const before = latest.current.thread;
      const now = await latest.current.loadList();
      const open = latest.current.thread;
      if (!before || !open || open.id !== before.id) return;
      const moved = now?.find((c) => c.id === open.id);
      if (moved && moved.lastActivityAt !== open.lastActivityAt) {
        try {
          await latest.current.refreshThread(open.id);
          await latest.current.loadList();
        } catch {
          // The next tick tries again; a failed background refresh interrupts nobody.
        }
      }
    };
    const timer = window.setInterval(() => void tick(), REFRESH_MS);
    const onVisible = () => {
      if (document.visibilityState === 'visible') void tick();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, []);

  const older = async () => {
    if (!thread?.olderCursor) return;
    const id = thread.id;
    const t = await api<Thread>(
      'GET',
      `/v1/conversations/${id}?limit=${PAGE}&before=${encodeURIComponent(thread.olderCursor)}`,
    );
    setThread((old) =>
      old && old.id === id
        ? { ...old, items: mergeItems(t.items, old.items), olderCursor: t.olderCursor }
        : old,
    );
    return { shown: t.items.length, more: t.olderCursor !== null };
  };

  const assign = async (id: string, userId: string | null) => {
    setError(null);
    try {
      const r = await api<{ assignee: Assignee | null }>('POST', `/v1/conversations/${id}/assign`, {
        userId,
      });
      setNotice(r.assignee ? `Assigned to ${r.assignee.email}.` : 'Unassigned.');
      if (thread?.id === id) setThread({ ...thread, assignee: r.assignee });
      await loadList();
    } catch (e) {
      setError(message(e, 'The assignment failed.'));
    }
  };

  const done = async (taskId: string) => {
    setError(null);
    try {
      await api('POST', `/v1/tasks/${taskId}/done`);
      setNotice('Task closed.');
      await loadTasks();
    } catch (e) {
      setError(message(e, 'The task could not be closed.'));
    }
  };

  const current = list?.find((c) => c.id === openId) ?? null;

  return (
    <main id="main" className="page conversations">
      <h1>Conversations</h1>
      {error && (
        <p className="alert error" role="alert">
          {error}
        </p>
      )}
      <p className="sr-status" role="status">
        {notice}
      </p>

      <section aria-labelledby="tasks-title" className="tasks">
        <h2 id="tasks-title">Reschedule requests</h2>
        {tasks.length === 0 ? (
          <p className="muted">No open requests.</p>
        ) : (
          <ul className="task-list">
            {tasks.map((t) => (
              <li key={t.id}>
                <span>
                  Appointment <code>{t.externalId}</code> · asked {when(t.createdAt)}
                </span>
                <button
                  type="button"
                  className="secondary"
                  aria-label={`Done: appointment ${t.externalId}`}
                  onClick={() => void done(t.id)}
                >
                  Done
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>

      <div className="inbox">
        <section aria-labelledby="inbox-title" className="inbox-list">
          <h2 id="inbox-title">Inbox</h2>
          <div className="row inbox-tools">
            <div className="field">
              <label htmlFor="inbox-filter">Show</label>
              <select
                id="inbox-filter"
                value={filter}
                onChange={(e) => setFilter(e.target.value as Filter)}
              >
                <option value="all">All conversations</option>
                <option value="me">Assigned to me</option>
                <option value="none">Unassigned</option>
              </select>
            </div>
            <button type="button" className="secondary" onClick={() => void loadList()}>
              Refresh
            </button>
          </div>
          {list === null ? (
            <p className="muted">Loading…</p>
          ) : list.length === 0 ? (
            <p className="muted">No conversations.</p>
          ) : (
            <ul className="conversation-list" aria-label="Conversations">
              {list.map((c) => (
                <li key={c.id} className={c.id === openId ? 'open' : undefined}>
                  <ConversationRow
                    c={c}
                    canRead={canRead}
                    selected={c.id === openId}
                    onOpen={() => void open(c.id)}
                  />
                  {!canRead && (
                    <AssignControl
                      c={c}
                      me={user}
                      users={users}
                      onAssign={(uid) => void assign(c.id, uid)}
                    />
                  )}
                </li>
              ))}
            </ul>
          )}
          {list !== null && nextCursor !== null && (
            <button
              type="button"
              className="secondary show-more"
              disabled={loadingMore}
              onClick={() => void loadMore()}
            >
              Show more conversations
            </button>
          )}
        </section>

        {canRead && thread && thread.id === openId && (
          <ThreadView
            key={thread.id}
            thread={thread}
            masked={current?.phoneMasked ?? thread.phoneMasked}
            me={user}
            tasks={tasks}
            onAssign={(uid) => void assign(thread.id, uid)}
            onDone={(id) => void done(id)}
            onSent={() =>
              void refreshThread(thread.id).then(
                () => loadList(),
                (e: unknown) => setError(message(e, 'The conversation could not be refreshed.')),
              )
            }
            onOlder={older}
            onEmergencyAccess={() => void open(thread.id)}
          />
        )}
      </div>
    </main>
  );
}

function ConversationRow(props: {
  c: Summary;
  canRead: boolean;
  selected: boolean;
  onOpen: () => void;
}) {
  const { c, canRead, selected, onOpen } = props;
  const content = (
    <>
      <span className="who-line">
        <strong>{c.phoneMasked}</strong>
        {c.unread > 0 && <span className="badge unread">{c.unread} unread</span>}
      </span>
      <span className="hint">
        {when(c.lastActivityAt)} · {c.assignee ? `Assigned to ${c.assignee.email}` : 'Unassigned'}
      </span>
    </>
  );
  if (!canRead) return <div className="conversation">{content}</div>;
  return (
    <button
      type="button"
      className="conversation"
      aria-pressed={selected}
      onClick={onOpen}
      data-conversation={c.id}
    >
      {content}
    </button>
  );
}

function AssignControl(props: {
  c: Summary;
  me: User;
  users: Assignee[];
  onAssign: (userId: string | null) => void;
}) {
  const { c, me, users, onAssign } = props;
  if (users.length > 0) {
    const id = `assign-${c.id}`;
    return (
      <div className="field assign">
        <label htmlFor={id}>Assign {c.phoneMasked} to</label>
        <select
          id={id}
          value={c.assignee?.id ?? ''}
          onChange={(e) => onAssign(e.target.value === '' ? null : e.target.value)}
        >
          <option value="">Nobody</option>
          {users.map((u) => (
            <option key={u.id} value={u.id}>
              {u.email}
            </option>
          ))}
        </select>
      </div>
    );
  }
  return c.assignee?.id === me.id ? (
    <button type="button" className="secondary" onClick={() => onAssign(null)}>
      Unassign
    </button>
  ) : (
    <button type="button" className="secondary" onClick={() => onAssign(me.id)}>
      Assign to me
    </button>
  );
}

function ThreadView(props: {
  thread: Thread;
  masked: string;
  me: User;
  tasks: Task[];
  onAssign: (userId: string | null) => void;
  onDone: (taskId: string) => void;
  onSent: () => void;
  onOlder: () => Promise<{ shown: number; more: boolean } | undefined>;
  /** Emergency access was granted: show the thread again, with its secure content. */
  onEmergencyAccess: () => void;
}) {
  const { thread, masked, me, tasks, onAssign, onDone, onSent, onOlder, onEmergencyAccess } = props;
  const hasSecure = thread.items.some((i) => i.type.startsWith('secure'));
  const breakGlass = BREAK_GLASS_ROLES.includes(me.role);
  const heading = useRef<HTMLHeadingElement>(null);
  const messages = useRef<HTMLOListElement>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [olderStatus, setOlderStatus] = useState<string | null>(null);
  const [olderError, setOlderError] = useState<string | null>(null);

  const showOlder = async () => {
    setLoadingOlder(true);
    setOlderError(null);
    try {
      const r = await onOlder();
      setOlderStatus(`${r?.shown ?? 0} older messages shown.`);
      // The button goes once the beginning is reached: keep focus in the thread.
      if (r && !r.more) messages.current?.focus();
    } catch (err) {
      setOlderError(message(err, 'The older messages could not be loaded.'));
    } finally {
      setLoadingOlder(false);
    }
  };
  const [text, setText] = useState('');
  const [program, setProgram] = useState<Program>('care');
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState<string | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const taskFor = new Map(tasks.flatMap((t) => (t.inboundId ? [[t.inboundId, t]] : [])));

  useEffect(() => {
    heading.current?.focus();
  }, []);

  const reply = async (e: FormEvent) => {
    e.preventDefault();
    setSending(true);
    setSendError(null);
    setSent(null);
    try {
      const r = await api<{ guard?: { action?: string } }>(
        'POST',
        '/v1/messages',
        { to: thread.phone, program, body: text },
        { headers: { 'idempotency-key': idempotencyKey() } },
      );
      setText('');
      setSent(
        r.guard?.action === 'diverted'
          ? 'Sent securely: the patient gets a neutral notice with a portal link.'
          : 'Reply sent.',
      );
      onSent();
    } catch (err) {
      setSendError(message(err, 'The reply could not be sent.'));
    } finally {
      setSending(false);
    }
  };

  const optedOut = PROGRAMS.filter((p) => thread.consent[p] === 'opted_out');
  return (
    <section className="thread" aria-labelledby="thread-title">
      <h2 id="thread-title" ref={heading} tabIndex={-1}>
        Conversation with {masked}
      </h2>
      <dl className="thread-facts">
        <dt>Number</dt>
        <dd>{thread.phone}</dd>
        <dt>Consent</dt>
        <dd data-testid="thread-consent">
          {PROGRAMS.map((p) => (
            <span key={p} className={`badge ${thread.consent[p]}`}>
              {p}: {CONSENT_LABELS[thread.consent[p]]}
            </span>
          ))}
        </dd>
        <dt>Assigned to</dt>
        <dd>
          {thread.assignee ? thread.assignee.email : 'Nobody'}{' '}
          {thread.assignee?.id === me.id ? (
            <button type="button" className="link" onClick={() => onAssign(null)}>
              Unassign
            </button>
          ) : (
            <button type="button" className="link" onClick={() => onAssign(me.id)}>
              Assign to me
            </button>
          )}
        </dd>
      </dl>
      {hasSecure && (!thread.secureContent || breakGlass) && (
        // Kept while emergency access is on, so its dialog stays open to say until when.
        <div className="alert info">
          <p>
            {thread.secureContent
              ? 'Emergency access is on: secure content is shown to you for now. Every use is reviewed.'
              : 'Secure messages and portal replies are shown to providers only.' +
                (breakGlass
                  ? ' When a patient’s care needs one now, ask for emergency access with a reason: it is granted at once, for a short time, and every use is reviewed.'
                  : ' Their content is not available to your role.')}
          </p>
          {breakGlass && <BreakGlassButton onGranted={onEmergencyAccess} />}
        </div>
      )}
      <div className="older">
        {thread.olderCursor !== null ? (
          <button
            type="button"
            className="secondary"
            disabled={loadingOlder}
            onClick={() => void showOlder()}
          >
            Show older messages
          </button>
        ) : (
          <p className="hint">Beginning of the conversation.</p>
        )}
        <p className="sr-status" aria-live="polite">
          {olderStatus}
        </p>
        {olderError && (
          <p className="alert error" role="alert">
            {olderError}
          </p>
        )}
      </div>
      <ol className="messages" aria-label="Messages, oldest first" ref={messages} tabIndex={-1}>
        {thread.items.map((i) => (
          <li
            key={i.id}
            className={`msg ${i.type === 'inbound' || i.type === 'secure_reply' ? 'in' : 'out'}`}
          >
            <ItemView
              item={i}
              task={i.type === 'inbound' ? taskFor.get(i.id) : undefined}
              onDone={onDone}
            />
          </li>
        ))}
      </ol>
      <form className="reply" onSubmit={(e) => void reply(e)}>
        <h3>Reply</h3>
        {optedOut.length > 0 && (
          <p className="alert error">
            The patient opted out of: {optedOut.join(', ')}. Texts of those programs are refused.
          </p>
        )}
        <div className="row">
          <SelectField
            id="reply-program"
            label="Program"
            value={program}
            onChange={(v) => setProgram(v as Program)}
            options={PROGRAMS}
          />
        </div>
        <label htmlFor="reply-text">Reply text</label>
        <textarea
          id="reply-text"
          rows={3}
          required
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-describedby="reply-help"
        />
        <p id="reply-help" className="hint">
          Health information is never texted: the content guard diverts it to the secure portal.
        </p>
        {sendError && (
          <p className="alert error" role="alert">
            {sendError}
          </p>
        )}
        {sent && (
          <p className="alert info" role="status">
            {sent}
          </p>
        )}
        <button type="submit" disabled={sending || text.trim() === ''}>
          Send reply
        </button>
      </form>
    </section>
  );
}

function ItemView(props: { item: Item; task: Task | undefined; onDone: (id: string) => void }) {
  const { item, task, onDone } = props;
  switch (item.type) {
    case 'outbound':
      return (
        <>
          <p className="meta">
            {item.kind === 'secure_notice'
              ? 'Notice of a secure message'
              : item.kind === 'consent_reply'
                ? 'Automatic reply'
                : 'Text'}{' '}
            · {item.program} · {when(item.at)} ·{' '}
            <span className={`status ${item.status}`}>
              {STATUS_LABELS[item.status] ?? item.status}
            </span>
            {item.failureReason && ` (${item.failureReason})`}
          </p>
          {item.body !== undefined ? (
            <p className="body">{item.body}</p>
          ) : (
            <p className="body muted">
              {item.kind === 'secure_notice'
                ? 'The neutral notice with the portal link (not shown).'
                : 'A one-time code (not shown).'}
            </p>
          )}
        </>
      );
    case 'inbound':
      return (
        <>
          <p className="meta">
            From the patient · {when(item.at)}
            {task && <span className="badge task">Reschedule request</span>}
          </p>
          <p className="body">{item.body}</p>
          {task && (
            <button type="button" className="secondary" onClick={() => onDone(task.id)}>
              Done: reschedule request
            </button>
          )}
        </>
      );
    case 'secure':
      return (
        <>
          <p className="meta">
            Secure message (portal) · {item.program} · {when(item.at)} ·{' '}
            <span className="status">{STATUS_LABELS[item.status] ?? item.status}</span>
            {item.firstViewedAt && ` · opened ${when(item.firstViewedAt)}`}
          </p>
          {item.body !== undefined ? (
            <p className="body secure">{item.body}</p>
          ) : (
            <p className="body withheld">Secure content: for providers only.</p>
          )}
        </>
      );
    case 'secure_reply':
      return (
        <>
          <p className="meta">Secure reply from the patient (portal) · {when(item.at)}</p>
          {item.body !== undefined ? (
            <p className="body secure">{item.body}</p>
          ) : (
            <p className="body withheld">Secure content: for providers only.</p>
          )}
        </>
      );
  }
}
