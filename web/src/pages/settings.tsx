/**
 * @module web/pages/settings
 * The admin's Settings page: one tab per area, each a small component in settings/ that
 * talks to that area's /v1 endpoints. Tabs follow the WAI-ARIA tabs pattern (arrow keys,
 * Home and End move between them). The tab is kept in the page's state, not the address
 * bar: there is nothing in these views worth linking to, and nothing that must not leak.
 */
import { useRef, useState, type KeyboardEvent } from 'react';
import type { SessionInfo, User } from '../api';
import { ApiKeysSection } from './settings/api-keys';
import { ConsentTextsSection } from './settings/consent-texts';
import { GuardSection } from './settings/guard';
import { LegalHoldsSection } from './settings/legal-holds';
import { MessagingSection } from './settings/messaging';
import { PolicySection } from './settings/policy';
import { RetentionSection } from './settings/retention';
import { SendersSection } from './settings/senders';
import { SessionSection } from './settings/session';
import { UsersSection } from './settings/users';
import { WebhookSection } from './settings/webhook';

const TABS = [
  ['users', 'Users & roles'],
  ['keys', 'API keys'],
  ['senders', 'Senders'],
  ['messaging', 'Quiet hours & caps'],
  ['consent', 'Keywords & texts'],
  ['guard', 'Content guard'],
  ['retention', 'Retention'],
  ['holds', 'Legal holds'],
  ['webhook', 'Webhook'],
  ['session', 'Session'],
  ['policy', 'Texting policy'],
] as const;
type TabId = (typeof TABS)[number][0];

export function Settings({ user, session }: { user: User; session: SessionInfo }) {
  const [tab, setTab] = useState<TabId>('users');
  const refs = useRef(new Map<TabId, HTMLButtonElement>());

  const onKey = (e: KeyboardEvent, i: number) => {
    const n = TABS.length;
    const to =
      e.key === 'ArrowRight' || e.key === 'ArrowDown'
        ? (i + 1) % n
        : e.key === 'ArrowLeft' || e.key === 'ArrowUp'
          ? (i - 1 + n) % n
          : e.key === 'Home'
            ? 0
            : e.key === 'End'
              ? n - 1
              : null;
    if (to === null) return;
    e.preventDefault();
    const id = TABS[to]![0];
    setTab(id);
    refs.current.get(id)?.focus();
  };

  const title = TABS.find(([id]) => id === tab)![1];
  return (
    <main id="main" className="page settings">
      <h1>Settings</h1>
      <div className="tabs" role="tablist" aria-label="Settings">
        {TABS.map(([id, label], i) => (
          <button
            key={id}
            ref={(el) => {
              if (el) refs.current.set(id, el);
            }}
            type="button"
            role="tab"
            id={`tab-${id}`}
            aria-selected={tab === id}
            aria-controls={`panel-${id}`}
            tabIndex={tab === id ? 0 : -1}
            onClick={() => setTab(id)}
            onKeyDown={(e) => onKey(e, i)}
          >
            {label}
          </button>
        ))}
      </div>
      <section
        className="tab-panel"
        role="tabpanel"
        id={`panel-${tab}`}
        aria-labelledby={`tab-${tab}`}
        key={tab}
      >
        <h2 className="panel-title">{title}</h2>
        {tab === 'users' && <UsersSection selfId={user.id} />}
        {tab === 'keys' && <ApiKeysSection />}
        {tab === 'senders' && <SendersSection />}
        {tab === 'messaging' && <MessagingSection />}
        {tab === 'consent' && <ConsentTextsSection />}
        {tab === 'guard' && <GuardSection />}
        {tab === 'retention' && <RetentionSection />}
        {tab === 'holds' && <LegalHoldsSection />}
        {tab === 'webhook' && <WebhookSection />}
        {tab === 'session' && <SessionSection idleMinutes={session.idleTimeoutMinutes} />}
        {tab === 'policy' && <PolicySection />}
      </section>
    </main>
  );
}
