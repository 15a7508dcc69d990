import { ProtocolError } from '../errors.js';
import { Cmd, cmdName, HEADER_SIZE, MAX_PAYLOAD } from './constants.js';
import { type Frame, payloadLength, readHeader } from './frame.js';

/**
 * Incremental decoder for a byte stream (TCP, TLS): accepts any chunking, holds at most one
 * partial frame, and hands each complete frame to `onFrame`. Payloads that lie inside one chunk
 * are zero-copy views of it; only a frame split across chunks is copied — unless `splitData` is
 * set: then a data frame split across chunks is handed over piece by piece (each piece a frame
 * with the same header and part of the payload), so stream data is never copied. Receivers that
 * count stream bytes, not frames, can take that.
 */
export interface FrameDecoderOptions {
  maxPayload?: number;
  /** Deliver data frames (0x06) that span chunks as several pieces instead of copying them. */
  splitData?: boolean;
}

export class FrameDecoder {
  private readonly onFrame: (frame: Frame) => void;
  private readonly maxPayload: number;
  private head = new Uint8Array(HEADER_SIZE);
  private headLen = 0;
  private pending: Frame | null = null;
  private body: Uint8Array | null = null;
  private bodyLen = 0;
  private readonly splitData: boolean;
  /** Header of a data frame being delivered in pieces, and how many payload bytes are left. */
  private dataFrame: Frame | null = null;
  private dataLeft = 0;
  /** A piece of dataFrame has been handed over: the next ones are `continued`. */
  private pieceSent = false;

  constructor(onFrame: (frame: Frame) => void, options: FrameDecoderOptions = {}) {
    this.onFrame = onFrame;
    this.maxPayload = options.maxPayload ?? MAX_PAYLOAD;
    this.splitData = options.splitData ?? false;
  }

  /** Bytes held for a frame that has not completed yet (a pending payload counts its header). */
  get buffered(): number {
    return this.pending === null ? this.headLen : HEADER_SIZE + this.bodyLen;
  }

  /** Feeds bytes. Throws ProtocolError for a payload over the limit; nothing else throws. */
  push(chunk: Uint8Array): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, n - off);
        this.dataLeft -= take;
        this.emitPiece(chunk.subarray(off, off + take));
        off += take;
        continue;
      }
      if (this.pending !== null) {
        off = this.fillBody(chunk, off);
        continue;
      }
      if (this.headLen === 0 && n - off >= HEADER_SIZE) {
        const f = readHeader(chunk, off);
        const len = this.checkLength(f);
        off += HEADER_SIZE;
        if (n - off >= len) {
          if (len > 0) f.payload = chunk.subarray(off, off + len);
          off += len;
          this.onFrame(f);
        } else {
          // The loop takes the payload bytes after it: a header that ends the chunk has none here,
          // and no empty piece is made (one would read as an empty data frame, which means
          // something on a PROMPT_CREDIT stream: a credit request).
          this.awaitPayload(f, len);
        }
        continue;
      }
      const take = Math.min(HEADER_SIZE - this.headLen, n - off);
      this.head.set(chunk.subarray(off, off + take), this.headLen);
      this.headLen += take;
      off += take;
      if (this.headLen === HEADER_SIZE) {
        this.headLen = 0;
        const f = readHeader(this.head, 0);
        const len = this.checkLength(f);
        if (len === 0) this.onFrame(f);
        else this.awaitPayload(f, len);
      }
    }
  }

  /**
   * Declares the end of the byte stream; a partial frame left over is a ProtocolError whose
   * message says how much of it had arrived (a peer that crashed mid-write, a proxy that cut the
   * connection, a truncated recording all read alike otherwise). Called once, at the end: push()
   * pays nothing for it.
   */
  end(): void {
    const cut = this.cutShort();
    if (cut === null) return;
    this.reset();
    throw new ProtocolError(`connection ended in the middle of a frame ${cut}`);
  }

  /** How much of the partial frame held now had arrived, for end()'s message; null if none is held. */
  private cutShort(): string | null {
    // A whole header whose payload has not started yet counts too: 0 of its payload arrived.
    if (this.dataLeft > 0) {
      const h = this.dataFrame!;
      const len = payloadLength(h.cmd, h.size);
      return `payload: ${len - this.dataLeft} of its ${len} bytes had arrived (command ${cmdName(h.cmd)})`;
    }
    if (this.pending !== null) {
      return `payload: ${this.bodyLen} of its ${this.body!.length} bytes had arrived (command ${cmdName(this.pending.cmd)})`;
    }
    if (this.headLen > 0) {
      return `header: ${this.headLen} of its ${HEADER_SIZE} bytes had arrived`;
    }
    return null;
  }

  reset(): void {
    this.dataFrame = null;
    this.dataLeft = 0;
    this.headLen = 0;
    this.pending = null;
    this.body = null;
    this.bodyLen = 0;
  }

  private checkLength(f: Frame): number {
    const len = payloadLength(f.cmd, f.size);
    if (len > this.maxPayload) {
      this.reset();
      throw new ProtocolError(`frame payload of ${len} bytes exceeds the limit of ${this.maxPayload}`);
    }
    return len;
  }

  private emitPiece(payload: Uint8Array): void {
    const h = this.dataFrame!;
    if (this.dataLeft === 0) this.dataFrame = null;
    const piece: Frame = {
      cmd: h.cmd,
      dstIP: h.dstIP,
      dstPort: h.dstPort,
      srcIP: h.srcIP,
      srcPort: h.srcPort,
      size: h.size,
      payload,
    };
    if (this.pieceSent) piece.continued = true;
    this.pieceSent = true;
    this.onFrame(piece);
  }

  /** A header whose payload of `len` bytes is yet to come: data in pieces (splitData), else whole. */
  private awaitPayload(f: Frame, len: number): void {
    if (this.splitData && f.cmd === Cmd.DATA) {
      this.dataFrame = f;
      this.pieceSent = false;
      this.dataLeft = len;
    } else this.startBody(f, len);
  }

  private startBody(f: Frame, len: number): void {
    this.pending = f;
    this.body = new Uint8Array(len);
    this.bodyLen = 0;
  }

  private fillBody(chunk: Uint8Array, off: number): number {
    const body = this.body!;
    const take = Math.min(body.length - this.bodyLen, chunk.length - off);
    body.set(chunk.subarray(off, off + take), this.bodyLen);
    this.bodyLen += take;
    if (this.bodyLen === body.length) {
      const f = this.pending!;
      f.payload = body;
      this.pending = null;
      this.body = null;
      this.bodyLen = 0;
      this.onFrame(f);
    }
    return off + take;
  }
}

/**
 * Decodes one WebSocket binary message as one frame (PROTOCOL.md 1.6). Unlike Go, a message
 * shorter than a header, or whose length disagrees with its size field, is a ProtocolError.
 */
export function decodeMessage(msg: Uint8Array, maxPayload = MAX_PAYLOAD): Frame {
  if (msg.length < HEADER_SIZE) {
    throw new ProtocolError(`WebSocket message of ${msg.length} bytes is shorter than a frame header`);
  }
  const f = readHeader(msg, 0);
  const len = payloadLength(f.cmd, f.size);
  if (msg.length !== HEADER_SIZE + len) {
    throw new ProtocolError(
      `WebSocket message of ${msg.length} bytes disagrees with its size field (${HEADER_SIZE} + ${len})`,
    );
  }
  if (len > maxPayload) {
    throw new ProtocolError(`frame payload of ${len} bytes exceeds the limit of ${maxPayload}`);
  }
  if (len > 0) f.payload = msg.subarray(HEADER_SIZE);
  return f;
}
