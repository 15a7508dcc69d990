/**
 * A small JSON Schema (2020-12 subset) checker for the admin API's OpenAPI document: the keywords
 * that document uses (`$ref` into `#/components/schemas`, `type` with a list, `properties`,
 * `required`, `additionalProperties`, `items`, `oneOf`, `const`, `enum`, `minimum`, `maximum`,
 * `maxLength`, `pattern`, `format: date-time`). Any other keyword is an error of the checker, so
 * that a schema it cannot read is not passed as met.
 *
 * Closed objects: an object schema with `properties` and no `additionalProperties` is taken as
 * listing every property, so a field the server sends that the document does not describe is
 * reported (JSON Schema itself would allow it; the point here is that the document is complete).
 */

type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$ref',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'oneOf',
  'const',
  'enum',
  'minimum',
  'maximum',
  'maxLength',
  'pattern',
  'format',
  'description',
  'default',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The ways `value` fails `schema` (empty when it conforms), each as `path: what`. `doc` is the
 * OpenAPI document, for `$ref`s.
 */
export function schemaErrors(doc: Schema, schema: Schema, value: unknown, path = '$'): string[] {
  for (const k of Object.keys(schema)) {
    if (!KNOWN.has(k)) throw new Error(`${path}: the checker does not know the keyword ${k}`);
  }
  if (typeof schema.$ref === 'string') {
    const name = /^#\/components\/schemas\/(\w+)$/.exec(schema.$ref)?.[1];
    const target =
      name === undefined ? undefined : (doc.components as { schemas: Record<string, Schema> }).schemas[name];
    if (target === undefined) return [`${path}: unresolved $ref ${schema.$ref}`];
    return schemaErrors(doc, target, value, path);
  }
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as Schema[]).filter((s) => schemaErrors(doc, s, value, path).length === 0);
    if (passing.length === 1) return [];
    if (passing.length > 1) return [`${path}: matches ${passing.length} of oneOf`];
    const each = (schema.oneOf as Schema[]).map((s) => schemaErrors(doc, s, value, path).join('; '));
    return [`${path}: matches none of oneOf (${each.map((e, i) => `#${i}: ${e}`).join(' | ')})`];
  }
  const out: string[] = [];
  if ('const' in schema && value !== schema.const) out.push(`${path}: not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    out.push(`${path}: ${JSON.stringify(value)} not in enum`);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) {
      return [...out, `${path}: ${t} where ${types.join('|')} was described`];
    }
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) out.push(`${path}: ${value} < minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) out.push(`${path}: ${value} > maximum`);
  }
  if (typeof value === 'string') {
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) {
      out.push(`${path}: longer than maxLength`);
    }
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      out.push(`${path}: does not match ${schema.pattern}`);
    }
    if (schema.format === 'date-time' && !RFC3339.test(value)) out.push(`${path}: not a date-time`);
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((v, i) => {
      out.push(...schemaErrors(doc, schema.items as Schema, v, `${path}[${i}]`));
    });
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) {
      if (!(r in obj)) out.push(`${path}: missing ${r}`);
    }
    const extra = schema.additionalProperties;
    for (const [k, v] of Object.entries(obj)) {
      const p = props[k];
      if (p !== undefined) out.push(...schemaErrors(doc, p, v, `${path}.${k}`));
      else if (typeof extra === 'object' && extra !== null) {
        out.push(...schemaErrors(doc, extra as Schema, v, `${path}.${k}`));
      } else if (extra === false || (extra === undefined && schema.properties !== undefined)) {
        out.push(`${path}.${k}: not described`);
      }
    }
  }
  return out;
}
