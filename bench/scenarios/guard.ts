/**
 * @module bench/scenarios/guard
 * The content guard alone: `scan()` on 160-character clinic texts (a mix of neutral
 * reminders, hard negatives and texts that carry PHI, English and Spanish), one after
 * another on one core, no I/O. The vocabularies are built during the warm-up, as a server
 * builds them on its first scan. Latency is per scan. Target (issue 5): ≥ 20,000 scans/s.
 */
import { scan } from '../../src/content-guard/index.js';
import { note, PeakRss, percentile, type ScenarioResult } from '../harness.js';

const SEEDS = [
  'Hi Maria, this is a reminder of your appointment with Dr. Patel on Tue 6/4 at 2:30 PM at Lakeside Family Medicine. Reply C to confirm.',
  'Your A1C was 9.1, please increase your metformin to 1000mg twice a day. Call us with questions.',
  'Flu shots available for all patients this month, walk-ins welcome at 455 Oak Ave, Suite 200.',
  'Your results are ready, please log in to the patient portal to view them. Confirmation code MRI-4X7Q.',
  'Su cita de quimioterapia es el martes a las 9. Por favor llegue 15 minutos antes.',
  'Your balance of $45.00 is due by 6/1. Pay online or call billing at (503) 555-0188.',
  'Valley Oncology will be closed Monday due to snow. We will call you to reschedule.',
  "You're due for your flu shot! Book online or call 555-0144. Reply STOP to opt out.",
];

/** Each seed padded or cut to exactly 160 characters. */
const TEXTS = SEEDS.map((s) => (s + ' Thank you for choosing us.'.repeat(6)).slice(0, 160));

export interface GuardSize {
  scans: number;
  warmup: number;
}

export function runGuard(size: GuardSize): Promise<ScenarioResult> {
  note(`guard: warm-up, ${size.warmup} scans`);
  let secure = 0;
  for (let i = 0; i < size.warmup; i++) scan(TEXTS[i % TEXTS.length]!);
  note(`guard: ${size.scans} scans of 160 characters`);
  // Latency is sampled on every 16th scan: timing each one would cost as much as the scan.
  const latencies = new Float64Array(Math.ceil(size.scans / 16));
  const rss = new PeakRss().start();
  const t0 = performance.now();
  for (let i = 0; i < size.scans; i++) {
    const text = TEXTS[i % TEXTS.length]!;
    if ((i & 15) === 0) {
      const s = performance.now();
      if (scan(text).verdict === 'secure') secure++;
      latencies[i >> 4] = performance.now() - s;
    } else if (scan(text).verdict === 'secure') secure++;
  }
  const seconds = (performance.now() - t0) / 1000;
  return Promise.resolve({
    scenario: 'guard',
    messages: size.scans,
    seconds,
    perSecond: size.scans / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    rssMb: rss.stop(),
    extra: { chars: 160, secureShare: Math.round((secure / size.scans) * 100) / 100 },
  });
}
