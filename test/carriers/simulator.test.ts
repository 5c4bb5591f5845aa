/**
 * The in-process simulator through the carrier contract: it has no connection to drop, and
 * its receipts follow by themselves; throttling and refusals come from its `failWith` rule.
 */
import { CarrierError, SimulatorCarrier, type OutboundSms } from '../../src/carriers/index.js';
import { runCarrierContract } from './contract.js';

runCarrierContract('simulator', async () => {
  const received: { to: string; from: string; body: string }[] = [];
  let throttle = 0;
  let refuse = false;
  const adapter = new SimulatorCarrier({
    latencyMs: 10,
    failureRate: 0,
    failWith: (msg: OutboundSms) => {
      if (throttle > 0) {
        throttle -= 1;
        return new CarrierError('throttled', 'SIM_THROTTLED');
      }
      if (refuse) {
        refuse = false;
        return new CarrierError('invalid_recipient', 'SIM_INVALID');
      }
      received.push({ to: msg.to, from: msg.from, body: msg.body });
      return undefined;
    },
  });
  return {
    adapter,
    secrets: [],
    logLines: () => [],
    received: () => received,
    sendInbound: (from, to, body) => adapter.injectInbound(from, to, body),
    throttleNext: (n) => {
      throttle = n;
    },
    refuseNextPermanently: () => {
      refuse = true;
    },
    stop: () => adapter.close(),
  };
});
