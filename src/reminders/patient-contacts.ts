/**
 * @module reminders/patient-contacts
 * The patients the scheduling feeds brought in (`reminder_contacts`, owned by reminders), as
 * the staff console finds and shows them: a search by name or number that answers masked
 * details (initials, the last four digits), one patient's masked details, and the audited
 * reveal of the full details (45 CFR 164.312(b); the audit event names who looked and which
 * fields, never the details themselves).
 *
 * Names are encrypted with a random nonce, so a name search decrypts the organisation's
 * contacts in batches and matches word prefixes (at most MAX_SCANNED contacts); a full number
 * is found through its blind index, and four or more digits match the end of each number.
 */
import type { Store } from '../store/index.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { decrypt, blindIndex, rowAad, type Keyring } from '../crypto/index.js';
import { AppError } from '../errors/index.js';
import {
  maskDateOfBirth,
  maskName,
  maskPhone,
  nameMatches,
  normalisePhone,
  type PhonePolicy,
} from '../contacts/index.js';
import type { KeyringService } from '../orgs/index.js';

/** Contacts a search reads at most (a name search decrypts each one). */
export const MAX_SCANNED = 50_000;
const BATCH = 500;
export const MAX_SEARCH_RESULTS = 25;
/** The columns a contact's row is read with (decryptRow needs them all). */
const ROW_COLUMNS = [
  'id',
  'name_enc',
  'phone_enc',
  'phone_index',
  'dob_enc',
  'created_at',
  'updated_at',
] as const;

export const CONTACT_FIELDS = ['name', 'phone', 'dob'] as const;
export type ContactField = (typeof CONTACT_FIELDS)[number];
export const REVEAL_PURPOSES = ['view', 'compose'] as const;
export type RevealPurpose = (typeof REVEAL_PURPOSES)[number];

/** A patient as a list shows them: masked. */
export interface ContactSummary {
  id: string;
  name: string | null;
  phone: string | null;
}

/** One patient's details, masked. */
export interface ContactDetails extends ContactSummary {
  dob: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The revealed details (only the fields asked for; the rest null). */
export interface RevealedContact {
  id: string;
  name: string | null;
  phone: string | null;
  dob: string | null;
}

type Row = {
  id: string;
  name_enc: string | null;
  phone_enc: string | null;
  phone_index: string | null;
  dob_enc: string | null;
  created_at: number | string | bigint;
  updated_at: number | string | bigint;
};

interface Plain {
  name: string | null;
  phone: string | null;
  dob: string | null;
}

export class PatientContacts {
  constructor(
    private readonly store: Store,
    private readonly keyrings: KeyringService,
    private readonly phone: PhonePolicy,
  ) {}

  private decryptRow(keyring: Keyring, orgId: string, r: Row, fields: readonly ContactField[]) {
    const aad = (col: string) => rowAad(orgId, 'reminder_contacts', r.id, col);
    const out: Plain = { name: null, phone: null, dob: null };
    if (fields.includes('name') && r.name_enc !== null) {
      const n = JSON.parse(decrypt(keyring, aad('name'), r.name_enc)) as {
        given?: string;
        family?: string;
      };
      const full = `${n.given ?? ''} ${n.family ?? ''}`.trim();
      out.name = full === '' ? null : full;
    }
    if (fields.includes('phone') && r.phone_enc !== null) {
      out.phone = decrypt(keyring, aad('phone'), r.phone_enc);
    }
    if (fields.includes('dob') && r.dob_enc !== null) {
      out.dob = decrypt(keyring, aad('dob'), r.dob_enc);
    }
    return out;
  }

  private summary(id: string, p: Plain): ContactSummary {
    return {
      id,
      name: p.name === null ? null : maskName(p.name),
      phone: p.phone === null ? null : maskPhone(p.phone),
    };
  }

  private async row(orgId: string, id: string): Promise<Row> {
    const r = await this.store.db
      .selectFrom('reminder_contacts')
      .select(ROW_COLUMNS)
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r) throw new AppError('not_found', 'No such contact.');
    return r;
  }

  private async audit(
    orgId: string,
    actor: Actor,
    entry: {
      action: 'contact.searched' | 'contact.read' | 'contact.revealed';
      targetId: string;
      targetType: string;
      details?: Record<string, string | number>;
      subjectIndex?: string | null;
    },
  ) {
    await this.store.transaction((tx) =>
      appendAudit(tx, this.store.dialect, [
        {
          orgId,
          actor,
          action: entry.action,
          targetType: entry.targetType,
          targetId: entry.targetId,
          ...(entry.details ? { details: entry.details } : {}),
          ...(entry.subjectIndex ? { subjectIndex: entry.subjectIndex } : {}),
        },
      ]),
    );
  }

  /**
   * Patients whose name words begin with the query's words, or whose number is the query (or
   * ends with its digits, four or more), masked. Audited with the count only: the query
   * itself is PHI and is not kept.
   */
  async search(orgId: string, query: string, actor: Actor): Promise<{ data: ContactSummary[] }> {
    const q = query.trim();
    const digits = q.replace(/\D/g, '');
    const byNumber = /^[+\d\s().-]+$/.test(q);
    if (byNumber ? digits.length < 4 : q.replace(/\s/g, '').length < 2) {
      throw new AppError(
        'validation_failed',
        'Type at least two letters of a name or four digits of a number.',
      );
    }
    const keyring = await this.keyrings.get(orgId);
    const found: ContactSummary[] = [];
    if (byNumber) {
      let e164: string | null = null;
      try {
        e164 = normalisePhone(q, this.phone);
      } catch {
        e164 = null;
      }
      if (e164 !== null) {
        const rows = await this.store.db
          .selectFrom('reminder_contacts')
          .select(ROW_COLUMNS)
          .where('org_id', '=', orgId)
          .where('phone_index', '=', blindIndex(keyring, e164))
          .orderBy('id')
          .limit(MAX_SEARCH_RESULTS)
          .execute();
        for (const r of rows) {
          found.push(this.summary(r.id, this.decryptRow(keyring, orgId, r, ['name', 'phone'])));
        }
      }
    }
    if (found.length === 0) {
      await this.scan(orgId, keyring, (id, p) => {
        const hit = byNumber
          ? p.phone !== null && p.phone.replace(/\D/g, '').endsWith(digits)
          : p.name !== null && nameMatches(p.name, q);
        if (hit) found.push(this.summary(id, p));
        return found.length < MAX_SEARCH_RESULTS;
      });
    }
    found.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.id.localeCompare(b.id));
    await this.audit(orgId, actor, {
      action: 'contact.searched',
      targetType: 'organisation',
      targetId: orgId,
      details: { by: byNumber ? 'number' : 'name', results: found.length },
    });
    return { data: found };
  }

  /** Decrypts names and numbers in batches until `visit` says stop or MAX_SCANNED is reached. */
  private async scan(
    orgId: string,
    keyring: Keyring,
    visit: (id: string, p: Plain) => boolean,
  ): Promise<void> {
    let after = '';
    for (let scanned = 0; scanned < MAX_SCANNED; scanned += BATCH) {
      const rows = await this.store.db
        .selectFrom('reminder_contacts')
        .select(ROW_COLUMNS)
        .where('org_id', '=', orgId)
        .where('id', '>', after)
        .orderBy('id')
        .limit(BATCH)
        .execute();
      for (const r of rows) {
        if (!visit(r.id, this.decryptRow(keyring, orgId, r, ['name', 'phone']))) return;
      }
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  /** One patient's details, masked (audited as a read of the patient's record). */
  async get(orgId: string, id: string, actor: Actor): Promise<ContactDetails> {
    const r = await this.row(orgId, id);
    const keyring = await this.keyrings.get(orgId);
    const p = this.decryptRow(keyring, orgId, r, CONTACT_FIELDS);
    await this.audit(orgId, actor, {
      action: 'contact.read',
      targetType: 'contact',
      targetId: id,
      subjectIndex: r.phone_index,
    });
    return {
      ...this.summary(id, p),
      dob: p.dob === null ? null : maskDateOfBirth(),
      createdAt: new Date(Number(r.created_at)).toISOString(),
      updatedAt: new Date(Number(r.updated_at)).toISOString(),
    };
  }

  /**
   * The full details asked for, each reveal an audit event naming the caller, the fields and
   * why (`view` on the patient page, `compose` to text them); never the details themselves.
   */
  async reveal(
    orgId: string,
    id: string,
    fields: readonly ContactField[],
    purpose: RevealPurpose,
    actor: Actor,
  ): Promise<RevealedContact> {
    const r = await this.row(orgId, id);
    const keyring = await this.keyrings.get(orgId);
    const wanted = CONTACT_FIELDS.filter((f) => fields.includes(f));
    const p = this.decryptRow(keyring, orgId, r, wanted);
    await this.audit(orgId, actor, {
      action: 'contact.revealed',
      targetType: 'contact',
      targetId: id,
      details: { fields: wanted.join(','), purpose },
      subjectIndex: r.phone_index,
    });
    return { id, ...p };
  }

  /**
   * The patient's number, for the services that take one (consent ledger, accounting of
   * disclosures); they audit what they do with it. `not_found` without one.
   */
  async phoneOf(orgId: string, id: string): Promise<string> {
    const r = await this.row(orgId, id);
    if (r.phone_enc === null) throw new AppError('not_found', 'This contact has no phone number.');
    const keyring = await this.keyrings.get(orgId);
    return decrypt(keyring, rowAad(orgId, 'reminder_contacts', id, 'phone'), r.phone_enc);
  }
}
