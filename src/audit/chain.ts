/**
 * @module audit/chain
 * The canonical encoding and hash of one audit event: what links a chain together. Shared by
 * appending, verifying a database and verifying an exported file.
 */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedFields {
  org_id: string;
  seq: number;
  at: number;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string;
  details: string;
  prev_hash: string;
  subject_index?: string | null | undefined;
}

/**
 * SHA-256 over a fixed-order JSON array of every chained field. Events without a subject keep
 * the original `v1` encoding, so chains written before subjects existed still verify; events
 * with one use `v2`, which appends it (so adding, removing or changing it breaks the hash).
 */
export function hashEvent(e: ChainedFields): string {
  const subject = e.subject_index ?? null;
  const fields: (string | number)[] = [
    subject === null ? 'tidings-audit-v1' : 'tidings-audit-v2',
    e.org_id,
    Number(e.seq),
    Number(e.at),
    e.actor_type,
    e.actor_id,
    e.action,
    e.target_type,
    e.target_id,
    e.details,
    e.prev_hash,
  ];
  if (subject !== null) fields.push(subject);
  return createHash('sha256').update(JSON.stringify(fields), 'utf8').digest('hex');
}
