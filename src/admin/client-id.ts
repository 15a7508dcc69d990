/**
 * A client connection's id (Client.id, the ID column of `flexmux clients`) as the admin API takes
 * it in `DELETE /api/v1/clients/{domain}`, as `?id=` or as a JSON body's `"id"`: one rule for both.
 * The switcher's admin server and `flexmux kick --id` both read it here, so the command refuses,
 * as bad usage, exactly what the server would answer with a 400: an id it passed on used to come
 * back as an admin failure.
 */

/** Digits only, at most 15 of them: every such number is a safe integer, whatever its value. */
const CLIENT_ID = /^[0-9]{1,15}$/;

/**
 * The largest id, fifteen nines: ids are counters, far below it, and every whole number up to it
 * is exact as a double, so an id in a JSON body means the connection it names.
 */
export const MAX_CLIENT_ID = 999_999_999_999_999;

/** What an id must be, for the messages of both sides. */
export const CLIENT_ID_RULE = 'a whole number of at most 15 digits: the id of a client as listed';

/** The id `text` names, or undefined when it is not one. */
export function parseClientId(text: string): number | undefined {
  return CLIENT_ID.test(text) ? Number(text) : undefined;
}

/** Whether a JSON body's `id` is an id: a whole number from 0 to MAX_CLIENT_ID, what `?id=` takes. */
export function isClientId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_CLIENT_ID;
}
