/** Wire constants of the flex v3 protocol (PROTOCOL.md 1 and Appendix A). */

export const PROTOCOL_VERSION = 20260225;
/** Bytes of a frame header. */
export const HEADER_SIZE = 11;
/** Largest payload of one frame, bytes. */
export const MAX_PAYLOAD = 0xffff;

/** Command bytes (PROTOCOL.md 1.2 and 14). Bit 0 is the ACK flag. */
export const Cmd = {
  /** 0x00: the admission request and its response (PROTOCOL.md 2). */
  ADMIT: 0x00,
  /** 0x02: opens a stream. */
  OPEN: 0x02,
  /** 0x03: accepts or refuses an open. */
  OPEN_ACK: 0x03,
  /** 0x04: closes a stream. */
  CLOSE: 0x04,
  /** 0x05: acknowledges a close. */
  CLOSE_ACK: 0x05,
  /** 0x06: stream data. */
  DATA: 0x06,
  /** 0x07: returns credit for data read. */
  DATA_ACK: 0x07,
  /** 0x08: reserved (push message); nobody sends it. */
  PUSH_MESSAGE: 0x08,
  /** 0x09: reserved (push message ACK); nobody sends it. */
  PUSH_MESSAGE_ACK: 0x09,
  /** 0x0A: a ping, of a node or of the switcher. */
  PING: 0x0a,
  /** 0x0B: answers a ping. */
  PING_ACK: 0x0b,
  /** flexmux extension 14.2: half-close. */
  FIN: 0x0c,
  /** flexmux extension 14.3: reset with a reason. */
  RESET: 0x0e,
} as const;

export type CmdValue = (typeof Cmd)[keyof typeof Cmd];

const NAMES: Record<number, string> = {
  0: 'admit',
  2: 'open',
  3: 'open.ack',
  4: 'close',
  5: 'close.ack',
  6: 'data',
  7: 'data.ack',
  8: 'push',
  9: 'push.ack',
  10: 'ping',
  11: 'ping.ack',
  12: 'fin',
  14: 'reset',
};

/** A readable name for a command byte, as used in logs and metrics labels (Go's names for 0x02-0x0B). */
export function cmdName(cmd: number): string {
  return NAMES[cmd] ?? `<${cmd}>`;
}

/** Special virtual IPs (PROTOCOL.md 1.4). */
export const LOCAL_IP = 0x0000;
/** The switcher's own virtual IP: frames to it are consumed by the switcher, and it sends from it. */
export const SWITCHER_IP = 0xffff;

/** Capability bits carried after the window in OpenStream and its ACK (PROTOCOL.md 14.1). */
export const Caps = {
  /** 1: half-close (FIN, PROTOCOL.md 14.2). */
  HALF_CLOSE: 0x01,
  /** 2: reset with a reason code (PROTOCOL.md 14.3). */
  RESET: 0x02,
  /**
   * With HALF_CLOSE: a stream is released once its side has sent and received a FIN, without the
   * v3 close exchange (docs/protocol.md, "Release on FIN").
   */
  FIN_RELEASE: 0x04,
  /**
   * An empty data frame asks the receiver for the credit it owes, which it returns once its reader
   * has caught up; a receiver whose reader has not may answer with a data-ACK of 0 (an arrival
   * notice: all sent before the request has arrived). So a sender may keep less than the window on
   * its way without stalling (docs/protocol.md, "Prompt credit").
   */
  PROMPT_CREDIT: 0x08,
  /**
   * The acceptor takes data, FIN and RESET frames right behind an OpenStream, before its ACK is
   * out, and drops them without a reply when it refuses the open. A dialer that has seen it on a
   * direct link, or with EARLY_ROUTED through a switcher, may write before the ACK (docs/protocol.md,
   * "Early data").
   */
  EARLY_DATA: 0x10,
  /**
   * Set only by a flexmux switcher, in the ACK of a domain dial it forwards: it routes the frames a
   * dialer sends to FFFF from the dial's port along that open's resolution, so early data may
   * cross it (docs/protocol.md, "Early data"). Nodes never offer it, and acceptors drop it.
   */
  EARLY_ROUTED: 0x20,
} as const;
export const ALL_CAPS =
  Caps.HALF_CLOSE | Caps.RESET | Caps.FIN_RELEASE | Caps.PROMPT_CREDIT | Caps.EARLY_DATA;

/**
 * The credit both ends use when the negotiated window is 0 or negative as int32 (PROTOCOL.md 3.4):
 * a wire fact, since a Go peer applies it whatever flexmux is configured with.
 */
export const DEFAULT_WINDOW = 2 * 1024 * 1024;

/** Longest reset message (PROTOCOL.md 14.3). */
export const MAX_RESET_MESSAGE = 1024;
