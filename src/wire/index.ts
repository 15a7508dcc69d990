/** The wire layer: bytes in, frames and payload values out. No sockets, timers or node:* here. */

export * from './admission/index.js';
export * from './constants.js';
export * from './decoder.js';
export * from './domain.js';
export * from './fin.js';
export * from './frame.js';
export * from './open.js';
export * from './ping.js';
export * from './reset.js';
export * from './unicase.js';
export * from './utf8.js';
