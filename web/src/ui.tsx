/**
 * @module web/ui
 * The pieces the console's pages repeat: an error or notice line, a labelled field, a
 * scrollable table region with its header row, the loading / empty / loaded states of a list,
 * the "patient number" look-up form, and how times and API errors are written. Each renders
 * the same markup the pages wrote by hand, so labels, roles and ids stay as they were.
 */
import {
  useState,
  type FormEvent,
  type InputHTMLAttributes,
  type ReactNode,
  type Ref,
} from 'react';
import { ApiError } from './api';

/** The API's message for `e`, or `fallback` when it is not an API error (never raw details). */
export function errorText(e: unknown, fallback: string): string {
  return e instanceof ApiError ? e.message : fallback;
}

/** A time in the browser's locale, date and time in full. */
export function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** A time in the browser's locale, short: "7 Dec 2026, 10:00". */
export function whenShort(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "1 segment", "3 segments". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** An error announced at once (role=alert), or nothing. */
export function ErrorAlert({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="alert error" role="alert">
      {error}
    </p>
  );
}

/** A notice announced politely (role=status), or nothing. */
export function InfoNotice({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p className="alert info" role="status">
      {text}
    </p>
  );
}

type InputProps = Omit<InputHTMLAttributes<HTMLInputElement>, 'id' | 'value' | 'onChange'>;

/**
 * A labelled input in a `.field`. With `hint`, a hint line below it that the input is
 * described by (`{id}-hint`).
 */
export function TextField(
  props: InputProps & {
    id: string;
    label: ReactNode;
    value: string;
    onChange: (value: string) => void;
    hint?: ReactNode;
    inputRef?: Ref<HTMLInputElement>;
  },
) {
  const { id, label, value, onChange, hint, inputRef, ...rest } = props;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        ref={inputRef}
        {...rest}
        {...(hint !== undefined ? { 'aria-describedby': `${id}-hint` } : {})}
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
      {hint !== undefined && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
    </div>
  );
}

/** An option as a value, or as [value, label]. */
export type Choice = string | readonly [string, string];

/**
 * A labelled select in a `.field`. `any` adds a first option with the empty value (e.g.
 * "All programs"); `children` are further options after `options`.
 */
export function SelectField(props: {
  id: string;
  label: ReactNode;
  value: string;
  onChange: (value: string) => void;
  options: readonly Choice[];
  any?: string;
  required?: boolean;
  children?: ReactNode;
}) {
  const { id, label, value, onChange, options, any, required, children } = props;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        {...(required ? { required } : {})}
        value={value}
        onChange={(e) => onChange(e.target.value)}
      >
        {any !== undefined && <option value="">{any}</option>}
        {options.map((o) => {
          const [v, l] = typeof o === 'string' ? [o, o] : o;
          return (
            <option key={v} value={v}>
              {l}
            </option>
          );
        })}
        {children}
      </select>
    </div>
  );
}

/**
 * A table that scrolls sideways on a phone, in a focusable region named by the heading
 * `labelledBy` (or by `label`). `contained` also limits its height.
 */
export function TableRegion(props: {
  labelledBy?: string;
  label?: string;
  contained?: boolean;
  children: ReactNode;
}) {
  return (
    <div
      className={props.contained ? 'table-scroll contained' : 'table-scroll'}
      role="region"
      {...(props.labelledBy ? { 'aria-labelledby': props.labelledBy } : {})}
      {...(props.label ? { 'aria-label': props.label } : {})}
      tabIndex={0}
    >
      {props.children}
    </div>
  );
}

/** A table's header row; `action` adds a last column for a row's button, named for readers only. */
export function TableHead({ columns, action }: { columns: readonly string[]; action?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th scope="col" key={c}>
            {c}
          </th>
        ))}
        {action && (
          <th scope="col">
            <span className="visually-hidden">Action</span>
          </th>
        )}
      </tr>
    </thead>
  );
}

/** A row's button (e.g. "Open"), named for its row by `label`. */
export function RowButton(props: { label: string; onClick: () => void; children: ReactNode }) {
  return (
    <button
      type="button"
      className="secondary compact"
      aria-label={props.label}
      onClick={props.onClick}
    >
      {props.children}
    </button>
  );
}

/** A list's states: loading (null), empty (the `empty` line), or `children` for the items. */
function ListStates<T>(props: {
  items: readonly T[] | null;
  empty: string;
  children: (items: readonly T[]) => ReactNode;
}) {
  if (props.items === null) return <p role="status">Loading…</p>;
  if (props.items.length === 0) return <p className="muted">{props.empty}</p>;
  return <>{props.children(props.items)}</>;
}

/**
 * A list as a table: loading while `items` is null, the `empty` line when there are none,
 * else a table in a region named by the heading `labelledBy`, one `row` per item.
 */
export function ListTable<T>(props: {
  items: readonly T[] | null;
  empty: string;
  labelledBy: string;
  columns: readonly string[];
  action?: boolean;
  contained?: boolean;
  testId?: string;
  row: (item: T) => ReactNode;
}) {
  return (
    <ListStates items={props.items} empty={props.empty}>
      {(items) => (
        <TableRegion
          labelledBy={props.labelledBy}
          {...(props.contained ? { contained: true } : {})}
        >
          <table {...(props.testId ? { 'data-testid': props.testId } : {})}>
            <TableHead columns={props.columns} {...(props.action ? { action: true } : {})} />
            <tbody>{items.map(props.row)}</tbody>
          </table>
        </TableRegion>
      )}
    </ListStates>
  );
}

/**
 * The look-up of one patient number: a telephone field and a submit button. The number goes
 * to `onLookup` (which sends it in a request body), never into an address.
 */
export function PhoneLookup(props: {
  id: string;
  button: string;
  onLookup: (phone: string) => Promise<void>;
}) {
  const [phone, setPhone] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void props.onLookup(phone);
  };
  return (
    <form className="row lookup" onSubmit={submit}>
      <TextField
        id={props.id}
        label="Patient number"
        type="tel"
        autoComplete="off"
        required
        value={phone}
        onChange={setPhone}
      />
      <button type="submit">{props.button}</button>
    </form>
  );
}
