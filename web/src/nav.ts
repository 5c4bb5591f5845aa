/**
 * @module web/nav
 * The console's pages and who sees each: the same roles the API routes declare, so a page
 * is never offered to someone whose every call would be refused. `staff` never reaches
 * secure-message content; `auditor` gets read-only pages only.
 */
import type { Role } from './api';

export type PageId = 'compose' | 'consent';

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
];

export function pagesFor(role: Role): PageDef[] {
  return PAGES.filter((p) => p.roles.includes(role));
}

/** The page a path names, if the role may see it; else the role's first page. */
export function pageForPath(path: string, role: Role): PageDef | undefined {
  const mine = pagesFor(role);
  return mine.find((p) => p.path === path) ?? mine[0];
}
