/**
 * @module carriers
 * Carrier adapters behind one interface; one folder per carrier.
 */
export * from './types.js';
export { SimulatorCarrier, type SimulatorOptions } from './simulator/index.js';
export { SmppCarrier, createSmppAdapter, type SmppOptions, type SmppStats } from './smpp/index.js';
