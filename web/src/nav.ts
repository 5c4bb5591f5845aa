/**
 * @module web/nav
 * The console's pages and who sees each: the same roles the API routes declare, so a page
 * is never offered to someone whose every call would be refused. `staff` never reaches
 * secure-message content; `auditor` gets read-only pages only.
 */
import type { Role } from './api';

export type PageId =
  | 'compose'
  | 'consent'
  | 'patients'
  | 'settings'
  | 'dashboard'
  | 'audit'
  | 'compliance'
  | 'conversations'
  | 'templates'
  | 'appointments'
  | 'campaigns';

export interface PageDef {
  id: PageId;
  title: string;
  path: string;
  roles: readonly Role[];
}

export const PAGES: readonly PageDef[] = [
  // POST /v1/messages and /v1/guard/check: provider, staff.
  { id: 'compose', title: 'Compose', path: '/console/compose', roles: ['provider', 'staff'] },
  // POST /v1/consents/lookup: every role (read-only here).
  {
    id: 'consent',
    title: 'Consent',
    path: '/console/consent',
    roles: ['admin', 'provider', 'staff', 'auditor'],
  },
  // /v1/contacts…: every role sees masked details and consent; reveal and recording are
  // for admin, provider and staff; disclosures for admin and auditor (the page hides the rest).
  {
    id: 'patients',
    title: 'Patients',
    path: '/console/patients',
    roles: ['admin', 'provider', 'staff', 'auditor'],
  },
  // GET /v1/stats (counts only): admin, auditor.
  {
    id: 'dashboard',
    title: 'Dashboard',
    path: '/console/dashboard',
    roles: ['admin', 'auditor'],
  },
  // /v1/audit-events, /v1/audit/verify, /v1/audit/export, /v1/audit/disclosures: admin,
  // auditor (all reads).
  { id: 'audit', title: 'Audit', path: '/console/audit', roles: ['admin', 'auditor'] },
  // GET /v1/compliance/report, GET /v1/risk/alerts: admin, auditor; resuming an alert: admin.
  {
    id: 'compliance',
    title: 'Compliance',
    path: '/console/compliance',
    roles: ['admin', 'auditor'],
  },
  // /v1/users, /v1/api-keys, /v1/senders, /v1/settings…, /v1/policy…: admin only.
  { id: 'settings', title: 'Settings', path: '/console/settings', roles: ['admin'] },
  // GET /v1/conversations (list, assignment): admin, provider, staff; threads (bodies) for
  // provider and staff only, secure content for provider only (the API decides).
  {
    id: 'conversations',
    title: 'Conversations',
    path: '/console/conversations',
    roles: ['admin', 'provider', 'staff'],
  },
  // GET /v1/templates(/…/preview): admin, provider, staff; writing them: admin only.
  {
    id: 'templates',
    title: 'Templates',
    path: '/console/templates',
    roles: ['admin', 'provider', 'staff'],
  },
  // GET /v1/appointments, /v1/appointments/:id/preview: admin, provider, staff (read-only).
  {
    id: 'appointments',
    title: 'Appointments',
    path: '/console/appointments',
    roles: ['admin', 'provider', 'staff'],
  },
  // GET /v1/campaigns(/:id): admin, staff, provider; validate, create, start, pause: admin,
  // staff (providers see them read-only).
  {
    id: 'campaigns',
    title: 'Campaigns',
    path: '/console/campaigns',
    roles: ['admin', 'staff', 'provider'],
  },
];

export function pagesFor(role: Role): PageDef[] {
  return PAGES.filter((p) => p.roles.includes(role));
}

/** The page a path names, if the role may see it; else the role's first page. */
export function pageForPath(path: string, role: Role): PageDef | undefined {
  const mine = pagesFor(role);
  return mine.find((p) => p.path === path) ?? mine[0];
}
