/**
 * Bytes a stream received and its reader has not taken count against the connection's receive
 * budget (maxReceiveBuffer) until the reader takes them, or the application cancels or destroys
 * the stream. A stream that closed cleanly with bytes still unread, and that the application then
 * simply let go of (a reply read only in part, a request body never read), did neither: its bytes
 * were freed with it, but counted for as long as the connection lived. Enough of them (256 MiB by
 * default, over hours or days of a long-lived connection) and every new open was refused and every
 * new payload reset its stream. So such a stream's face is watched from its close: once it has been
 * garbage-collected, what it still held stops counting.
 */

/** What a closed stream still holds unread, and the budget it counts against. */
export interface Unread {
  /** The connection's budget. */
  readonly host: { accountReceive(delta: number): void };
  /** Bytes still counted; the stream's core lowers it as its reader takes them. */
  bytes: number;
}

/**
 * The ledger holds no reference to the face or its core (a registry holds it strongly): the face
 * could never be collected otherwise. Absent where the runtime has no FinalizationRegistry.
 */
const registry =
  typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<Unread>(releaseUnread) : null;

/** Counts `unread` against its host until `face` is collected, or releaseUnread() is called. */
export function watchUnread(face: object, unread: Unread): void {
  registry?.register(face, unread, unread);
}

/** What `unread` still counts stops counting (once). */
export function releaseUnread(unread: Unread): void {
  registry?.unregister(unread);
  if (unread.bytes <= 0) return;
  unread.host.accountReceive(-unread.bytes);
  unread.bytes = 0;
}
