/**
 * @module web/slot-inputs
 * How the console asks for each template slot type (the server's typed slots,
 * src/templates/slots.ts): the input type, a hint, and a neutral sample value for previews.
 * Also the slots a template body names, read the way the server reads them. Pure.
 */

export interface SlotInput {
  type: string;
  hint: string;
  /** A neutral value the slot accepts, for previews with sample values. */
  sample: string;
}

export const SLOT_INPUT: Record<string, SlotInput> = {
  firstName: { type: 'text', hint: 'Letters only, e.g. Ana', sample: 'Alex' },
  date: { type: 'date', hint: 'The day (no year is shown)', sample: '2026-12-08' },
  time: { type: 'time', hint: '24-hour, e.g. 14:30', sample: '10:30' },
  clinicName: { type: 'text', hint: 'e.g. Lakeside Clinic', sample: 'Lakeside Clinic' },
  location: { type: 'text', hint: 'e.g. 12 Main Street, Suite 4', sample: '12 Main Street' },
  providerName: { type: 'text', hint: 'e.g. Dr. Patel', sample: 'Dr. Lee' },
  link: { type: 'url', hint: 'An https address', sample: 'https://example.org/r' },
  phone: { type: 'tel', hint: 'A phone number', sample: '+16175550123' },
  code: { type: 'text', hint: '4–12 letters and digits', sample: 'AB12CD' },
};

/** The slot names a body uses, once each, in order of first use (`{{ name }}`). */
export function slotsOf(body: string): string[] {
  const found: string[] = [];
  for (const m of body.matchAll(/\{\{\s*([A-Za-z][A-Za-z0-9_]{0,39})\s*\}\}/g)) {
    const name = m[1]!;
    if (!found.includes(name)) found.push(name);
  }
  return found;
}

/** Sample values for `slots` (empty for a slot type the console does not know). */
export function sampleValues(slots: readonly string[]): Record<string, string> {
  return Object.fromEntries(slots.map((s) => [s, SLOT_INPUT[s]?.sample ?? '']));
}
