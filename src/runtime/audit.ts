/**
 * @module runtime/audit
 * What the audit service is handed from elsewhere: a key wrapper over the configured master
 * keys (for its signing keys), and the blind index of a patient's number in an organisation
 * (for the accounting of disclosures). Audit itself looks no key up and knows no phone rules.
 */
import { AppError } from '../errors/index.js';
import { blindIndex, unwrapKey, wrapKey } from '../crypto/index.js';
import { normaliseLookupPhone, type PhonePolicy } from '../contacts/index.js';
import type { KeyWrapper } from '../audit/index.js';
import type { KeyringService, MasterKeySource } from '../orgs/index.js';

/** Wraps with the newest configured master key; unwraps with whichever one is named. */
export function masterKeyWrapper(masters: MasterKeySource): KeyWrapper {
  return {
    wrap: (key, aad) => {
      const newest = masters.reload()[0];
      if (!newest) throw new AppError('master_key_missing');
      return { wrapped: wrapKey(newest.key, key, aad), masterKeyId: newest.id };
    },
    unwrap: (wrapped, aad, masterKeyId) => {
      const find = (keys: readonly { id: string; key: Buffer }[]) =>
        keys.find((m) => m.id === masterKeyId);
      const m = find(masters.keys()) ?? find(masters.reload());
      if (!m) {
        throw new AppError(
          'master_key_missing',
          `Master key ${masterKeyId} wraps an audit signing key but is not configured on this server.`,
        );
      }
      return unwrapKey(m.key, wrapped, aad);
    },
  };
}

/** The blind index messaging stores for `phone` in the organisation. */
export function subjectIndexOf(
  keyrings: KeyringService,
  phone: PhonePolicy,
): (orgId: string, number: string) => Promise<string> {
  return async (orgId, number) => {
    const e164 = normaliseLookupPhone(number, phone);
    return blindIndex(await keyrings.get(orgId), e164);
  };
}
