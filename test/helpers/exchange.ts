import * as net from 'node:net';

/**
 * Connects to 127.0.0.1:`port`, sends `text` and half-closes; resolves with the whole answer, or
 * with `failed: CODE` if the connection failed (never rejects: tests compare the string).
 */
export function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let got = '';
    socket.on('data', (c: Buffer) => {
      got += String(c);
    });
    socket.on('end', () => {
      socket.end();
      resolve(got);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`failed: ${err.code ?? err.message}`));
    socket.end(text);
  });
}
