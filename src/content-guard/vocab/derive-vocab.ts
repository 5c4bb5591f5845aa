/**
 * @module content-guard/vocab/derive-vocab
 * Writes `derived.ts` from the public-domain seed lists (ICD-10-CM category titles from
 * CDC/NCHS, FDA Orange Book and Drugs@FDA drug names; see docs/content-guard.md) and a
 * plain English word list (Debian's `wamerican`, SCOWL) used only to curate:
 *
 * - medications: single words of drug names, 5+ letters, that are not everyday English
 *   words (drops ALCOHOL, OXYGEN, STERILE, WATER, ALLAY, TODAY …); brand words that are also
 *   first names go to a name-like list that needs a medication cue;
 * - conditions: words of ICD-10-CM titles that are medical jargon (not everyday English,
 *   or with a disease suffix such as -itis, -osis, -oma), less a list of generic words;
 * - fuzzy-safe words: every English word and first name one edit away from a vocabulary
 *   word, so that fuzzy matching never turns an ordinary word into a finding.
 *
 * Run after `npm run build`:
 *   node dist/src/content-guard/vocab/derive-vocab.js ../shared/vocab /usr/share/dict/words
 * (a third argument names another output file).
 */
import fs from 'node:fs';
import path from 'node:path';
import { FuzzyIndex, MIN_FUZZY_LENGTH } from '../fuzzy.js';
import { listOf } from '../normalise.js';
import { FIRST_NAMES, NAME_LIKE_BRANDS, TERMS } from './curated.js';

/** ICD-10-CM title words that are not conditions (anatomy, qualifiers, external causes). */
const ICD_GENERIC = new Set(
  listOf(`
    german, african, hansen, huntington, cushing, paget, merkel, bartholin, pinta, carate,
    foodborne, intoxications, zoonotic, neonatorum, sequelae, intraoperative, postprocedural,
    subclinical, compressions, nonspecific, noninfective, callosities, exogenous, intra,
    corrosions, underdosing, infectives, medicaments, nonopioid, reattachment, nonmotor,
    noncollision, nontraffic, nonpowered, nonmotorized, nonvenomous, nightwear, overexertion,
    nonadministration, liveborn, reconstructive, psychosocial, biomechanical, fascia, sacral,
    mucosa, ascorbic, purine, pyrimidine, folate, mechanism, metabolism, organism, diagnosis,
    terrorism, gastro, tubulo, articular, autonomic, pleura, ureter, adnexa, meninges,
    conjunctiva, sclera, ciliary, choroid, eustachian, tympanic, vestibular, gingiva,
    perineum, prepuce, synovium, arterioles, mediastinum, oropharynx, nasopharynx,
    hypopharynx, pyriform, parotid, retroperitoneum, autosomes, neutrophils, polymorphonuclear,
    lipoprotein, glycoprotein, porphyrin, bilirubin, cerebrospinal, micturition, aliphatic,
    radiological, ophthalmological, otorhinolaryngological, otorhinorlaryngological,
    immunological, hematological, gastroenterology, musculoskeletal, genitourinary,
    intrathoracic, intrahepatic, intracranial, intraspinal, intravascular, intrauterine,
    perinatal, antenatal, puerperium, chronicus, avulsion
  `),
);

/** Words of drug names that name a company or a place, not a drug. */
const NOT_DRUGS = new Set(
  listOf(`
    bayer, colgate, pfizer, bengal, sulla, merck, lilly, abbott, bracco, lemmon, medica, ortho,
    micro, hydro, nitro, derma, soleil, fortis, genesa, pytest, readi, banan, steri, germa,
    fallback, compro, proval, preven, entero, cysto, angio, cillin, mycin, liqui, methyl, ethyl,
    phenyl, pheny, tetra, diphen, ovine, glycol, lauryl, cetyl, benzyl, oleate, malate, tannic,
    cupric, iodide, indium, nitric, xylose, maltol, lysine, biotin, inulin, lipase, gesic,
    contin, diskus, soltab, zydis, axetil, pegol, tropin, revex
  `),
);

const DISEASE_SUFFIX =
  /(?:itis|osis|oma|emia|aemia|pathy|plasia|algia|iasis|trophy|rrhea|plegia|cele|uria)$/;

function readTsv(file: string): string[][] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}

function words(s: string): string[] {
  return s
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
}

function chunk(list: readonly string[]): string {
  const lines: string[] = [];
  let line = '';
  for (const w of list) {
    if (line.length + w.length + 1 > 94) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines
    .map((l) => `  '${l} ' +`)
    .join('\n')
    .replace(/ ' \+$/, "'");
}

function main(vocabDir: string, dictFile: string, outFile: string): void {
  const dictLines = fs.readFileSync(dictFile, 'utf8').split('\n');
  const english = new Set(dictLines.filter((w) => /^[a-z]+$/.test(w)));
  const properNames = new Set(
    dictLines.filter((w) => /^[A-Z][a-z]+$/.test(w)).map((w) => w.toLowerCase()),
  );
  const firstNames = new Set([...listOf(FIRST_NAMES), ...listOf(NAME_LIKE_BRANDS)]);
  const curated = new Set(Object.values(TERMS).flatMap((b) => listOf(b)));

  const medications = new Set<string>();
  const nameLike = new Set<string>();
  for (const [name] of readTsv(path.join(vocabDir, 'drugs-us.tsv'))) {
    for (const w of words(name ?? '')) {
      if (w.length < 5 || curated.has(w)) continue;
      if (firstNames.has(w)) nameLike.add(w);
      else if (!english.has(w) && !NOT_DRUGS.has(w)) medications.add(w);
    }
  }
  for (const w of nameLike) medications.delete(w);

  const conditions = new Set<string>();
  for (const [, title] of readTsv(path.join(vocabDir, 'conditions-icd10cm.tsv'))) {
    for (const w of words(title ?? '')) {
      if (w.length < 5 || ICD_GENERIC.has(w) || curated.has(w) || medications.has(w)) continue;
      if (!english.has(w) || DISEASE_SUFFIX.test(w)) conditions.add(w);
    }
  }
  for (const w of conditions) nameLike.delete(w);

  // Every single-word vocabulary entry that fuzzy matching may reach.
  const fuzzy = new FuzzyIndex<true>();
  const vocabulary = new Set<string>([...curated, ...medications, ...conditions]);
  for (const w of vocabulary) if (!w.includes(' ')) fuzzy.add(w, true);
  const safe = new Set<string>();
  for (const w of [...english, ...properNames, ...firstNames]) {
    if (w.length < MIN_FUZZY_LENGTH || vocabulary.has(w)) continue;
    if (fuzzy.find(w)) safe.add(w);
  }

  const sorted = (s: Set<string>) => [...s].sort();
  const out = `/**
 * @module content-guard/vocab/derived
 * GENERATED by derive-vocab.ts from public-domain US-government lists (FDA Orange Book and
 * Drugs@FDA drug names; CDC/NCHS ICD-10-CM category titles, April 2026) and curated with
 * an English word list (SCOWL via Debian wamerican). Do not edit by hand: change the
 * script or curated.ts and run it again. Sources and licences: docs/content-guard.md.
 */

/** Drug names (generic and brand words) that are not everyday English words. */
export const DERIVED_MEDICATIONS =
${chunk(sorted(medications))};

/** Brand words that are also first names: medications only beside a medication cue. */
export const DERIVED_NAME_LIKE_MEDICATIONS =
${chunk(sorted(nameLike))};

/** Medical words of ICD-10-CM category titles. */
export const DERIVED_CONDITIONS =
${chunk(sorted(conditions))};

/** English words and names one edit from a vocabulary word: never fuzzy-matched. */
export const FUZZY_SAFE_WORDS =
${chunk(sorted(safe))};
`;
  fs.writeFileSync(outFile, out);
  process.stderr.write(
    `medications ${medications.size}, name-like ${nameLike.size}, conditions ${conditions.size}, fuzzy-safe ${safe.size}\n`,
  );
}

const [
  vocabDir = '../shared/vocab',
  dictFile = '/usr/share/dict/words',
  outFile = path.resolve(import.meta.dirname, '../../../../src/content-guard/vocab/derived.ts'),
] = process.argv.slice(2);
main(vocabDir, dictFile, outFile);
