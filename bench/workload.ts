/**
 * @module bench/workload
 * The messages the benchmarks send: fictitious US recipients written the ways integrators
 * write them, and the short operational texts clinics actually send (no PHI, so the pipeline
 * takes its ordinary path). Deterministic, so two runs send the same traffic.
 */
import type { SendRequest } from '../src/messaging/index.js';

/**
 * NANP 555-0100 to 555-0199 is reserved for fiction in every area code, and libphonenumber
 * treats those numbers as valid: 20 area codes × 100 lines = 2,000 distinct recipients that
 * can never belong to a real person.
 */
const AREA_CODES = [
  201, 212, 213, 305, 312, 415, 503, 512, 602, 617, 646, 702, 713, 718, 773, 801, 858, 917, 919,
  978,
];

const BODIES = [
  'Reminder: you have an appointment at Lakeside Clinic on Tuesday 14 May at 10:30. Reply C to confirm or R to reschedule.',
  'Lakeside Pharmacy: your order is ready for pickup. We are open 8am to 8pm, Monday to Saturday.',
  'You have a new message from Northside Family Medicine. Please call us at (617) 555-0100 when convenient.',
  'Your check-in for tomorrow is open. Please arrive 15 minutes early and bring a photo ID.',
  'Lakeside Clinic will be closed on Monday for the public holiday. For urgent needs call (617) 555-0100; for emergencies call 911. Reply STOP to opt out of these notices.',
  '¿Tiene preguntas sobre su cita? Llame a la clínica al (617) 555-0100. Responda STOP para cancelar.',
  'Thanks for visiting Harbor Dental today. We would love your feedback: reply 1 to 5.',
  'Your lab has your sample. We will text you when your portal message is ready to view.',
];

/** The same 10-digit number in the formats integrators send. */
function formatted(area: number, line: string, style: number): string {
  switch (style % 4) {
    case 0:
      return `+1${area}55501${line}`;
    case 1:
      return `(${area}) 555-01${line}`;
    case 2:
      return `${area}-555-01${line}`;
    default:
      return `+1 ${area} 555 01${line}`;
  }
}

/** The i-th request of the workload. */
export function sendRequest(i: number): SendRequest {
  const area = AREA_CODES[i % AREA_CODES.length] ?? 617;
  const line = String(Math.floor(i / AREA_CODES.length) % 100).padStart(2, '0');
  return {
    to: formatted(area, line, Math.floor(i / 7)),
    body: BODIES[i % BODIES.length] ?? 'Reminder from Lakeside Clinic.',
    program: 'care',
  };
}
