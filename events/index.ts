export * from './catalogue.js';
export * from './identity.js';
export * from './record.js';
export * from './ids.js';
export * from './chain.js';
