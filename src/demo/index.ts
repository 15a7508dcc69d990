/** The browser demo page and its server side (node-only). */
export { type DemoHandler, type DemoOptions, demoHandler } from './handler.js';
export { type DemoListenOptions, listenDemo } from './listen.js';
