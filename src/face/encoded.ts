import { StringDecoder } from 'node:string_decoder';
import { Deque } from '../util/deque.js';

/**
 * The bytes behind a readable buffer of strings. Once a reader calls setEncoding, Node decodes
 * what is pushed and counts its buffer in characters (UTF-16 units), not in the bytes that credit
 * and the receive budget count: three bytes per '€', half a byte per hex digit. A decoder that
 * mirrors Node's (same class, same input) tells how many characters each pushed chunk makes; the
 * reader takes characters in order, so the characters still buffered tell the bytes still unread.
 * A chunk the reader has taken part of counts in proportion (exact for fixed-width encodings).
 */
export class EncodedBacklog {
  private decoder: StringDecoder;
  /** Pushed chunks not wholly taken: characters made and bytes behind them. */
  private readonly chunks = new Deque<{ chars: number; bytes: number }>(8);
  /** Characters made by everything pushed. */
  private chars = 0;
  /** Bytes pushed. */
  private bytes = 0;
  /** Characters and bytes of the chunks wholly taken (dropped from `chunks`). */
  private charsGone = 0;
  private bytesGone = 0;
  /** Bytes pushed that made no character yet (the start of one, held by the decoder). */
  private carry = 0;

  /** `buffered`: the chunks in the readable buffer when the encoding was set (Node decodes them). */
  constructor(encoding: BufferEncoding, buffered: Iterable<Uint8Array>) {
    this.decoder = new StringDecoder(encoding);
    let chars = 0;
    let bytes = 0;
    for (const b of buffered) {
      chars += this.decoder.write(b as Buffer).length;
      bytes += b.length;
    }
    this.note(chars, bytes);
  }

  /** Another setEncoding: Node starts a new decoder, and what the old one held is lost. */
  reencode(encoding: BufferEncoding): void {
    this.decoder = new StringDecoder(encoding);
    this.drop();
  }

  /** `chunk` is about to be pushed. */
  add(chunk: Uint8Array): void {
    this.note(this.decoder.write(chunk as Buffer).length, chunk.length);
  }

  /** The end is about to be pushed: Node flushes its decoder. */
  end(): void {
    this.note(this.decoder.end().length, 0);
    this.drop();
  }

  /** Bytes pushed and not taken, given the characters still in the readable buffer. */
  unread(bufferedChars: number): number {
    const taken = this.chars - bufferedChars;
    for (let c = this.chunks.peek(); c !== undefined; c = this.chunks.peek()) {
      if (this.charsGone + c.chars > taken) {
        const part = Math.floor((c.bytes * (taken - this.charsGone)) / c.chars);
        return this.bytes - this.bytesGone - part;
      }
      this.chunks.shift();
      this.charsGone += c.chars;
      this.bytesGone += c.bytes;
    }
    return this.bytes - this.bytesGone;
  }

  private note(chars: number, bytes: number): void {
    this.bytes += bytes;
    this.carry += bytes;
    if (chars === 0) return;
    this.chunks.push({ chars, bytes: this.carry });
    this.chars += chars;
    this.carry = 0;
  }

  /** Bytes that will make no character count as taken: the reader never gets them. */
  private drop(): void {
    this.bytesGone += this.carry;
    this.carry = 0;
  }
}
