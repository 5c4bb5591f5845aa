/**
 * @module integrations/hl7v2
 * HL7 v2 over MLLP: SIU scheduling and ADT patient messages from a scheduling system or an
 * interface engine become appointments and contacts (reminders). See docs/integrations.md.
 */
export { Hl7Listener, type Hl7ListenerOptions } from './listener.js';
export { buildAck } from './ack.js';
export { frame, MllpDecoder } from './mllp.js';
export { parseHl7, parseHl7Time, Hl7Problem, SIU_EVENTS, ADT_EVENTS } from './parse-message.js';
