/**
 * JSON Schema 2020-12 → Draft 4, for the EventBridge schema registry, which accepts `OpenApi3` and
 * `JSONSchemaDraft4` only. The client ships its event schemas in 2020-12 (`client/schemas/`); this writes
 * the same constraints in Draft 4's words at synth time, so there is one source and nothing to keep in step.
 * A keyword with no Draft 4 equivalent is refused rather than dropped: a registry schema that checks less
 * than the client's would be a silent second contract.
 *
 * @see https://json-schema.org/draft-04/json-schema-validation
 * @see https://json-schema.org/draft/2020-12/release-notes
 */

export const DRAFT4_SCHEMA_URI = 'http://json-schema.org/draft-04/schema#';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonSchemaObject = { [key: string]: Json };

/** A keyword of the 2020-12 file that Draft 4 cannot express. */
export class UnsupportedSchemaKeywordError extends Error {
  override readonly name = 'UnsupportedSchemaKeywordError';
  constructor(
    readonly keyword: string,
    readonly path: string
  ) {
    super(`${path}: ${keyword} has no JSON Schema Draft 4 equivalent`);
  }
}

/** Draft 4 keywords that 2020-12 kept with the same meaning, and whose value is not a schema. */
const SAME = new Set([
  'type',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'format',
  'title',
  'description',
  'default',
]);
/** Annotations Draft 4 does not have: they check nothing, so they are left out. */
const DROPPED = new Set([
  '$schema',
  '$id',
  '$comment',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
]);
/** Keywords whose annotation-only siblings of `$ref` may stay (Draft 4 ignores a `$ref`'s siblings). */
const ANNOTATIONS = new Set(['title', 'description', 'default']);
const DEFS_REF = '#/$defs/';

/** `#/$defs/name` → `#/definitions/name`; any other reference is refused (it would not survive nesting). */
function ref(value: Json, path: string): string {
  if (typeof value !== 'string' || !value.startsWith(DEFS_REF)) {
    throw new UnsupportedSchemaKeywordError(`$ref ${JSON.stringify(value)}`, path);
  }
  return `#/definitions/${value.slice(DEFS_REF.length)}`;
}

/** A subschema: Draft 4 has no boolean schemas, so `true` is `{}` and `false` is `{"not":{}}`. */
function subschema(value: Json, path: string): JsonSchemaObject {
  if (value === true) return {};
  if (value === false) return { not: {} };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UnsupportedSchemaKeywordError(`schema ${JSON.stringify(value)}`, path);
  }
  return convert(value, path);
}

function schemaMap(value: Json, path: string): JsonSchemaObject {
  const map = value as Record<string, Json>;
  return Object.fromEntries(
    Object.entries(map).map(([name, schema]) => [name, subschema(schema, `${path}/${name}`)])
  );
}

function schemaList(value: Json, path: string): JsonSchemaObject[] {
  return (value as Json[]).map((schema, i) => subschema(schema, `${path}/${i}`));
}

function convert(schema: JsonSchemaObject, path: string): JsonSchemaObject {
  const out: JsonSchemaObject = {};
  const extra: JsonSchemaObject[] = [];
  for (const [keyword, value] of Object.entries(schema)) {
    const at = `${path}/${keyword}`;
    if (SAME.has(keyword)) out[keyword] = value;
    else if (DROPPED.has(keyword) || keyword === 'then' || keyword === 'else') continue;
    else if (keyword === 'const') out.enum = [value];
    else if (keyword === 'required') {
      // Draft 4 requires at least one name.
      if ((value as Json[]).length > 0) out.required = value;
    } else if (keyword === '$ref') out.$ref = ref(value, at);
    else if (keyword === '$defs') out.definitions = schemaMap(value, at);
    else if (keyword === 'properties' || keyword === 'patternProperties') {
      out[keyword] = schemaMap(value, at);
    } else if (keyword === 'additionalProperties') {
      out[keyword] = typeof value === 'boolean' ? value : subschema(value, at);
    } else if (keyword === 'items' || keyword === 'not') out[keyword] = subschema(value, at);
    else if (keyword === 'allOf' || keyword === 'anyOf' || keyword === 'oneOf') {
      out[keyword] = schemaList(value, at);
    } else if (keyword === 'if') {
      // if A then B else C  ≡  (A and B) or (not A and C); without else: not A or B.
      const condition = subschema(value, at);
      const then = 'then' in schema ? subschema(schema.then as Json, `${path}/then`) : {};
      const otherwise =
        'else' in schema ? subschema(schema.else as Json, `${path}/else`) : undefined;
      extra.push({
        anyOf: otherwise
          ? [{ allOf: [condition, then] }, { allOf: [{ not: condition }, otherwise] }]
          : [{ not: condition }, then],
      });
    } else if (keyword === 'exclusiveMinimum' || keyword === 'exclusiveMaximum') {
      const bound = keyword === 'exclusiveMinimum' ? 'minimum' : 'maximum';
      if (bound in schema) throw new UnsupportedSchemaKeywordError(`${keyword} with ${bound}`, at);
      out[bound] = value;
      out[keyword] = true;
    } else throw new UnsupportedSchemaKeywordError(keyword, at);
  }
  if (extra.length) {
    out.allOf = [...((out.allOf as JsonSchemaObject[] | undefined) ?? []), ...extra];
  }
  if ('$ref' in out) {
    const siblings = Object.keys(out).filter((k) => k !== '$ref' && !ANNOTATIONS.has(k));
    if (siblings.length) {
      // Draft 4 ignores everything beside a $ref: keep the constraints by moving the $ref into allOf.
      const { $ref, ...rest } = out;
      return { ...rest, allOf: [{ $ref: $ref as string }, ...((rest.allOf as Json[]) ?? [])] };
    }
  }
  return out;
}

/**
 * `schema` (JSON Schema 2020-12) as a Draft 4 schema with the same constraints: `$defs` become
 * `definitions` (and their `$ref`s follow), `const` a one-value `enum`, `if`/`then`/`else` an `anyOf`,
 * numeric `exclusiveMinimum`/`exclusiveMaximum` Draft 4's boolean form, boolean subschemas objects;
 * `$schema`, `$id` and annotations Draft 4 lacks are left out.
 *
 * @throws UnsupportedSchemaKeywordError for a keyword Draft 4 cannot express (`prefixItems`,
 *   `unevaluatedProperties`, `dependentRequired`, …) or a `$ref` other than `#/$defs/…`.
 */
export function toJsonSchemaDraft4(schema: JsonSchemaObject): JsonSchemaObject {
  return convert(schema, '#');
}
