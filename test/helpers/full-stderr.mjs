// Preloaded into a CLI child by tests (NODE_OPTIONS=--import): SIGUSR2 makes every write to
// stderr (fd 2) fail with ENOSPC, as on a disk that filled up, until the next SIGUSR2. The child
// says so on stderr, as a JSON line of its own, before each change.
import fs from 'node:fs';

const writeSync = fs.writeSync;
let full = false;
fs.writeSync = function failingWriteSync(fd, ...rest) {
  if (fd === 2 && full) {
    const err = new Error('ENOSPC: no space left on device, write');
    throw Object.assign(err, { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }
  return writeSync.call(this, fd, ...rest);
};
process.on('SIGUSR2', () => {
  const msg = full ? 'test: stderr writable' : 'test: stderr full';
  writeSync(2, `${JSON.stringify({ level: 30, msg })}\n`);
  full = !full;
});
