/**
 * @module templates/templates
 * Organisation templates: create, read, change, delete (each change audited in its own
 * transaction), and render one with a caller's variables. A template is scanned by the
 * content guard when saved, with every slot filled by a neutral sample, and each variable is
 * checked against its slot's type when rendered, so a text built from a template is safe by
 * construction; the send pipeline scans the result again all the same. Owns `templates`.
 */
import type { Selectable } from 'kysely';
import type { Db, Store } from '../store/index.js';
import type { TemplatesTable } from '../store/schema.js';
import { appendAudit, type Actor } from '../audit/index.js';
import { AppError } from '../errors/index.js';
import { newId } from '../ids/index.js';
import type { PhonePolicy } from '../contacts/index.js';
import {
  countSegments,
  MAX_SEGMENTS,
  PROGRAMS,
  type Encoding,
  type Program,
} from '../messaging/index.js';
import { fillTemplate, parseTemplate, type ParsedTemplate } from './parse-template.js';
import {
  formatSlot,
  SLOT_LONGEST,
  SLOT_SAMPLES,
  type Scanner,
  type SlotContext,
  type SlotType,
} from './slots.js';

/** Longest template body, in characters (10 GSM-7 segments are 1,530). */
export const MAX_TEMPLATE_CHARS = 1000;
export const MAX_TEMPLATE_NAME = 64;
/** Most templates one list returns. */
export const MAX_TEMPLATES_LISTED = 1000;

const TEMPLATE_NAME = /^[\p{L}\p{N}][\p{L}\p{M}\p{N} _.'’-]*$/u;
/** Control characters other than a line feed have no place in a text. */
const CONTROL = /(?!\n)\p{Cc}/u;
/** A variable's name as it may be quoted in an error; anything else is not repeated back. */
const QUOTABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;

export interface TemplateInput {
  name: string;
  body: string;
  /** Defaults to `care`. */
  program?: Program | undefined;
}

export interface TemplateChange {
  name?: string | undefined;
  body?: string | undefined;
  program?: Program | undefined;
}

export interface TemplateView {
  id: string;
  name: string;
  body: string;
  program: Program;
  /** The slots the body uses, once each, in order of first use. */
  slots: SlotType[];
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
}

export interface RenderedTemplate {
  /** The text to send. */
  body: string;
  templateId: string;
  templateName: string;
  /** The template's program (a send may name another). */
  program: Program;
}

export interface PreviewResult {
  body: string;
  segments: number;
  encoding: Encoding;
}

export interface TemplatesOptions {
  /** The installation's regions, for `{{phone}}`. */
  phone: PhonePolicy;
  /** The content guard's scan (content-guard `scan`). */
  scan: Scanner;
  now?: () => number;
}

type Row = Selectable<TemplatesTable>;

function actorRef(a: Actor): string {
  return `${a.type}:${a.id}`;
}

function isProgram(p: string): p is Program {
  return (PROGRAMS as readonly string[]).includes(p);
}

function checkName(name: string): string {
  const n = name.normalize('NFC').trim();
  if (n.length === 0 || n.length > MAX_TEMPLATE_NAME || !TEMPLATE_NAME.test(n)) {
    throw new AppError(
      'validation_failed',
      `The template name must be 1–${MAX_TEMPLATE_NAME} letters, digits, spaces and _ . ' - , starting with a letter or digit.`,
    );
  }
  if (n.toLowerCase().startsWith('tpl_')) {
    throw new AppError('validation_failed', 'A template name must not start with "tpl_".');
  }
  return n;
}

function checkProgram(p: string | undefined): Program {
  if (p === undefined) return 'care';
  if (!isProgram(p)) {
    throw new AppError('validation_failed', `The program must be one of ${PROGRAMS.join(', ')}.`);
  }
  return p;
}

/** Unique-index violations on either database. */
function isUniqueViolation(e: unknown): boolean {
  const x = e as { code?: unknown; message?: unknown };
  return (
    x.code === '23505' ||
    x.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    (typeof x.message === 'string' && x.message.includes('UNIQUE constraint failed'))
  );
}

export class Templates {
  private readonly now: () => number;
  private readonly slotContext: SlotContext;

  constructor(
    private readonly store: Store,
    private readonly opts: TemplatesOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.slotContext = { scan: opts.scan, phone: opts.phone };
  }

  /**
   * Checks a body as a save would: its syntax, that every slot is a type, that the content
   * guard allows it with neutral samples in the slots, and that its longest rendering fits
   * 10 segments. Returns it with line endings as `\n`; throws a coded AppError otherwise.
   */
  checkBody(body: string): { body: string; parsed: ParsedTemplate } {
    const b = body.replace(/\r\n?/g, '\n').normalize('NFC');
    if (b.trim().length === 0 || b.length > MAX_TEMPLATE_CHARS) {
      throw new AppError(
        'validation_failed',
        `The template body must be 1–${MAX_TEMPLATE_CHARS} characters.`,
      );
    }
    if (CONTROL.test(b)) {
      throw new AppError(
        'validation_failed',
        'The template body must not contain control characters other than line breaks.',
      );
    }
    const parsed = parseTemplate(b);
    const verdict = this.opts.scan(fillTemplate(parsed, SLOT_SAMPLES));
    if (verdict.verdict === 'secure') {
      const categories = [...new Set(verdict.findings.map((f) => f.category))].sort();
      throw new AppError(
        'template_contains_phi',
        `The template would reveal health information in a text (${categories.join(', ') || 'sender'}); send such content as a secure message.`,
      );
    }
    if (countSegments(fillTemplate(parsed, SLOT_LONGEST)).segments > MAX_SEGMENTS) {
      throw new AppError('template_too_long');
    }
    return { body: b, parsed };
  }

  async create(orgId: string, input: TemplateInput, actor: Actor): Promise<TemplateView> {
    const name = checkName(input.name);
    const program = checkProgram(input.program);
    const { body } = this.checkBody(input.body);
    const at = this.now();
    const row: Row = {
      org_id: orgId,
      id: newId('tpl'),
      name,
      body,
      program,
      created_by: actorRef(actor),
      created_at: at,
      updated_by: actorRef(actor),
      updated_at: at,
    };
    await this.write(async (tx) => {
      await this.assertNameFree(tx, orgId, name, null);
      await tx.insertInto('templates').values(row).execute();
      await appendAudit(
        tx,
        this.store.dialect,
        [
          {
            orgId,
            actor,
            action: 'template.created',
            targetType: 'template',
            targetId: row.id,
            details: { program, slots: parseTemplate(body).slots.join(',') },
          },
        ],
        at,
      );
    });
    return view(row);
  }

  /** The organisation's templates, by name. */
  async list(orgId: string): Promise<TemplateView[]> {
    const rows = await this.store.db
      .selectFrom('templates')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('name')
      .limit(MAX_TEMPLATES_LISTED)
      .execute();
    return rows.map(view);
  }

  /** One template by id (`tpl_…`) or name; `template_not_found` if the organisation has none. */
  async get(orgId: string, ref: string): Promise<TemplateView> {
    return view(await this.find(this.store.db, orgId, ref));
  }

  async update(
    orgId: string,
    ref: string,
    change: TemplateChange,
    actor: Actor,
  ): Promise<TemplateView> {
    const name = change.name === undefined ? undefined : checkName(change.name);
    const program = change.program === undefined ? undefined : checkProgram(change.program);
    const body = change.body === undefined ? undefined : this.checkBody(change.body).body;
    const at = this.now();
    return this.write(async (tx) => {
      const cur = await this.find(tx, orgId, ref, true);
      if (name !== undefined && name !== cur.name) {
        await this.assertNameFree(tx, orgId, name, cur.id);
      }
      const next: Row = {
        ...cur,
        name: name ?? cur.name,
        body: body ?? cur.body,
        program: program ?? cur.program,
        updated_by: actorRef(actor),
        updated_at: at,
      };
      await tx
        .updateTable('templates')
        .set({
          name: next.name,
          body: next.body,
          program: next.program,
          updated_by: next.updated_by,
          updated_at: next.updated_at,
        })
        .where('org_id', '=', orgId)
        .where('id', '=', cur.id)
        .execute();
      const changed = [
        ...(next.name !== cur.name ? ['name'] : []),
        ...(next.body !== cur.body ? ['body'] : []),
        ...(next.program !== cur.program ? ['program'] : []),
      ];
      await appendAudit(
        tx,
        this.store.dialect,
        [
          {
            orgId,
            actor,
            action: 'template.updated',
            targetType: 'template',
            targetId: cur.id,
            details: {
              changed: changed.join(','),
              program: next.program,
              slots: parseTemplate(next.body).slots.join(','),
            },
          },
        ],
        at,
      );
      return view(next);
    });
  }

  async delete(orgId: string, ref: string, actor: Actor): Promise<void> {
    const at = this.now();
    await this.write(async (tx) => {
      const cur = await this.find(tx, orgId, ref, true);
      await tx
        .deleteFrom('templates')
        .where('org_id', '=', orgId)
        .where('id', '=', cur.id)
        .execute();
      await appendAudit(
        tx,
        this.store.dialect,
        [
          {
            orgId,
            actor,
            action: 'template.deleted',
            targetType: 'template',
            targetId: cur.id,
            details: { name: cur.name },
          },
        ],
        at,
      );
    });
  }

  /**
   * The text of template `ref` (id or name) with `variables` in its slots. Every slot must
   * have a variable and every variable a slot; each value must have its slot type's form and
   * (for types that carry words) pass the content guard. Errors name the slot, never the
   * value: `template_not_found` (404), `template_variable_missing`,
   * `template_variable_unexpected`, `template_variable_invalid` (400),
   * `template_variable_contains_phi` (422).
   */
  async render(
    orgId: string,
    ref: string,
    variables: Readonly<Record<string, unknown>>,
  ): Promise<RenderedTemplate> {
    const row = await this.find(this.store.db, orgId, ref);
    const body = this.fill(parseTemplate(row.body), variables);
    return {
      body,
      templateId: row.id,
      templateName: row.name,
      program: isProgram(row.program) ? row.program : 'care',
    };
  }

  /** What `render` would send, with its segment count and encoding (for the console). */
  async preview(
    orgId: string,
    ref: string,
    variables: Readonly<Record<string, unknown>>,
  ): Promise<PreviewResult> {
    const { body } = await this.render(orgId, ref, variables);
    const s = countSegments(body);
    return { body, segments: s.segments, encoding: s.encoding };
  }

  /** Checks `variables` against the template's slots and fills them in. */
  private fill(parsed: ParsedTemplate, variables: Readonly<Record<string, unknown>>): string {
    const given = Object.keys(variables);
    const missing = parsed.slots.filter((s) => !Object.hasOwn(variables, s));
    if (missing.length > 0) {
      throw new AppError(
        'template_variable_missing',
        `The template needs ${missing.length === 1 ? 'the variable' : 'the variables'} ${missing.join(', ')}.`,
      );
    }
    const extra = given.filter((k) => !(parsed.slots as readonly string[]).includes(k));
    if (extra.length > 0) {
      const names = extra.filter((k) => QUOTABLE_NAME.test(k));
      throw new AppError(
        'template_variable_unexpected',
        names.length > 0
          ? `The template does not use ${names.length === 1 ? 'the variable' : 'the variables'} ${names.join(', ')}.`
          : 'A variable was given that the template does not use.',
      );
    }
    const values: Partial<Record<SlotType, string>> = {};
    for (const slot of parsed.slots) {
      const r = formatSlot(slot, variables[slot], this.slotContext);
      if (r.ok) {
        values[slot] = r.text;
      } else if (r.problem === 'format') {
        throw new AppError('template_variable_invalid', `The variable ${slot} must be ${r.rule}.`);
      } else {
        throw new AppError(
          'template_variable_contains_phi',
          `The variable ${slot} would reveal health information in a text (${r.categories.join(', ') || 'sender'}).`,
        );
      }
    }
    return fillTemplate(parsed, values);
  }

  private async find(db: Db, orgId: string, ref: string, forUpdate = false): Promise<Row> {
    let q = db
      .selectFrom('templates')
      .selectAll()
      .where('org_id', '=', orgId)
      .where(
        ref.startsWith('tpl_') ? 'id' : 'name',
        '=',
        ref.startsWith('tpl_') ? ref : ref.normalize('NFC').trim(),
      );
    if (forUpdate && this.store.dialect === 'postgres') q = q.forUpdate();
    const row = await q.executeTakeFirst();
    if (!row) throw new AppError('template_not_found');
    return row;
  }

  private async assertNameFree(
    tx: Db,
    orgId: string,
    name: string,
    exceptId: string | null,
  ): Promise<void> {
    const other = await tx
      .selectFrom('templates')
      .select('id')
      .where('org_id', '=', orgId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (other && other.id !== exceptId) throw new AppError('template_name_taken');
  }

  /** A write transaction in which a concurrent save of the same name reads as `template_name_taken`. */
  private async write<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    try {
      return await this.store.transaction(fn);
    } catch (e) {
      if (isUniqueViolation(e)) throw new AppError('template_name_taken');
      throw e;
    }
  }
}

function view(r: Row): TemplateView {
  return {
    id: r.id,
    name: r.name,
    body: r.body,
    program: isProgram(r.program) ? r.program : 'care',
    slots: [...parseTemplate(r.body).slots],
    createdBy: r.created_by,
    createdAt: new Date(Number(r.created_at)).toISOString(),
    updatedBy: r.updated_by,
    updatedAt: new Date(Number(r.updated_at)).toISOString(),
  };
}
