import { describe, expect, it } from 'vitest';
import { parseReceiptText, readDeliverSm } from './deliver.js';

const TEXT =
  'id:0A1B2C sub:001 dlvrd:001 submit date:2612071200 done date:2612071201 stat:DELIVRD err:000 text:Your lab results are';

describe('deliver_sm', () => {
  it('reads the Appendix B text form: id, state, error — and never the text', () => {
    expect(parseReceiptText(TEXT)).toEqual({ id: '0A1B2C', stat: 'DELIVRD', err: '000' });
    const r = readDeliverSm({ esm_class: 0x04, short_message: { message: TEXT } });
    expect(r).toEqual({ type: 'receipt', carrierMessageId: '0A1B2C', status: 'delivered' });
    expect(JSON.stringify(r)).not.toContain('lab results');
  });

  it('prefers the receipted_message_id and message_state TLVs', () => {
    expect(
      readDeliverSm({
        esm_class: 0x04,
        receipted_message_id: 'abc',
        message_state: 5,
        short_message: { message: 'id:abc stat:UNDELIV err:034' },
      }),
    ).toEqual({
      type: 'receipt',
      carrierMessageId: 'abc',
      status: 'failed',
      errorCode: 'UNDELIV:err=034',
    });
    expect(readDeliverSm({ esm_class: 0x04, receipted_message_id: 'x', message_state: 3 })).toEqual(
      { type: 'receipt', carrierMessageId: 'x', status: 'expired', errorCode: 'EXPIRED' },
    );
  });

  it('treats ENROUTE and ACCEPTD as not final', () => {
    expect(
      readDeliverSm({ esm_class: 0x04, short_message: { message: 'id:1 stat:ENROUTE err:0' } }),
    ).toMatchObject({ status: null });
  });

  it('restores ASCII the GSM decoding changed in a receipt id', () => {
    expect(parseReceiptText('id:a§b¡c stat:DELIVRD')?.id).toBe('a_b@c');
  });

  it('reads a mobile-originated message with international numbers', () => {
    expect(
      readDeliverSm({
        esm_class: 0,
        source_addr: '14155550177',
        source_addr_ton: 1,
        destination_addr: '16175550199',
        dest_addr_ton: 1,
        short_message: { message: 'STOP' },
      }),
    ).toEqual({ type: 'inbound', from: '+14155550177', to: '+16175550199', body: 'STOP' });
  });

  it('reads the concatenation of an inbound part', () => {
    const r = readDeliverSm({
      esm_class: 0x40,
      source_addr: '1415',
      destination_addr: '1617',
      short_message: { message: 'part', udh: [Buffer.of(0, 3, 9, 2, 1)] },
    });
    expect(r).toMatchObject({ type: 'inbound', part: { reference: 9, total: 2, sequence: 1 } });
  });

  it('calls what it cannot read unreadable', () => {
    expect(readDeliverSm({ esm_class: 0x04, short_message: { message: 'nonsense' } })).toEqual({
      type: 'unreadable',
    });
  });
});
