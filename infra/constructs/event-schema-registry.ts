import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import { Construct } from 'constructs';
import { DRAFT4_SCHEMA_URI, type JsonSchemaObject, toJsonSchemaDraft4 } from './json-schema-draft4';

/** One event contract: a `detail` schema the client ships, and the `detail-type`s that carry it. */
export interface EventContract {
  /** The schema's name in the registry after `<source>@`, e.g. `LifecycleEvent`; also its definition. */
  readonly name: string;
  /** The JSON Schema 2020-12 file of the `detail`, in `client/schemas/`. */
  readonly file: string;
  /**
   * The `detail-type`s of the events whose `detail` it describes.
   * @default - the schema's own `type` enum (a lifecycle event's `detail-type` is its `type`)
   */
  readonly detailTypes?: readonly string[];
}

/** Properties of {@link EventSchemaRegistry}. */
export interface EventSchemaRegistryProps {
  /** The contracts to register, one schema each. */
  readonly contracts: readonly EventContract[];
  /**
   * The events' EventBridge `source`.
   * @default 'wechat-token-service'
   */
  readonly source?: string;
  /**
   * Where the schema files are read from at synth time.
   * @default - the repository's `client/schemas/`
   */
  readonly schemaDir?: string;
  /**
   * Shown in the console.
   * @default - says what the registry holds
   */
  readonly description?: string;
}

const CLIENT_SCHEMAS = fileURLToPath(new URL('../../client/schemas/', import.meta.url));

/**
 * The stack's EventBridge schema registry, holding the contract of every event the service puts on its bus
 * (`AWS::EventSchemas::Schema`, one per contract), so that consumers find it next to the bus, browse it in
 * the console and generate code bindings from it. The source of each is the client's JSON Schema 2020-12
 * file, read at synth time; the registry accepts only `OpenApi3` and `JSONSchemaDraft4`, so each is
 * registered as a Draft 4 schema of the whole event as a rule's target receives it (the EventBridge
 * envelope, its `detail` the client's schema converted by {@link toJsonSchemaDraft4}). The registry's name
 * is generated, like the bus's; it holds no data, so it goes with the stack.
 *
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-schema-registry.html
 */
export class EventSchemaRegistry extends Construct {
  readonly registry: eventschemas.CfnRegistry;
  /** The registered schemas, by contract name. */
  readonly schemas: Readonly<Record<string, eventschemas.CfnSchema>>;

  constructor(scope: Construct, id: string, props: EventSchemaRegistryProps) {
    super(scope, id);
    const source = props.source ?? 'wechat-token-service';
    this.registry = new eventschemas.CfnRegistry(this, 'Registry', {
      description:
        props.description ??
        `WeChat token service: the events it publishes on its bus (source ${source})`,
    });
    const schemas: Record<string, eventschemas.CfnSchema> = {};
    for (const contract of props.contracts) {
      const file = `${props.schemaDir ?? CLIENT_SCHEMAS}/${contract.file}`;
      const detail = JSON.parse(readFileSync(file, 'utf8')) as JsonSchemaObject;
      const detailTypes = contract.detailTypes ?? typeEnum(contract, detail);
      schemas[contract.name] = new eventschemas.CfnSchema(this, contract.name, {
        registryName: this.registry.attrRegistryName,
        schemaName: `${source}@${contract.name}`,
        type: 'JSONSchemaDraft4',
        description: `${contract.name}: detail-type ${detailTypes.join(', ')}; from client/schemas/${contract.file}`,
        content: JSON.stringify(eventSchema(source, { ...contract, detailTypes }, detail)),
      });
    }
    this.schemas = schemas;
  }
}

/** The `enum` of the schema's `type` property: the detail-types of a contract that names none. */
function typeEnum(contract: EventContract, detail: JsonSchemaObject): readonly string[] {
  const properties = detail.properties as Record<string, { enum?: unknown }> | undefined;
  const values = properties?.type?.enum;
  if (!Array.isArray(values) || !values.every((v) => typeof v === 'string') || !values.length) {
    throw new Error(
      `${contract.file}: no detailTypes given and no string enum on its type property`
    );
  }
  return values as string[];
}

/**
 * The Draft 4 schema of an event on the bus with `detail` as its detail: the fields the service sets
 * required, those EventBridge adds typed; the detail's own definitions hoisted next to it.
 */
export function eventSchema(
  source: string,
  contract: EventContract & { detailTypes: readonly string[] },
  detail: JsonSchemaObject
): JsonSchemaObject {
  const { definitions, ...converted } = toJsonSchemaDraft4(detail);
  const nested = (definitions ?? {}) as Record<string, JsonSchemaObject>;
  if (contract.name in nested) {
    throw new Error(`${contract.file}: a definition is named ${contract.name}, like the contract`);
  }
  const text = { type: 'string' } as const;
  return {
    $schema: DRAFT4_SCHEMA_URI,
    title: contract.name,
    description: `An event on the token service's bus as a rule's target receives it; detail: ${contract.file} of @wechat-token-service/client, in Draft 4.`,
    type: 'object',
    required: ['source', 'detail-type', 'time', 'detail'],
    properties: {
      version: text,
      id: text,
      source: { enum: [source] },
      'detail-type': { enum: [...contract.detailTypes] },
      account: text,
      time: text,
      region: text,
      resources: { type: 'array', items: text },
      detail: { $ref: `#/definitions/${contract.name}` },
    },
    definitions: { [contract.name]: converted, ...nested },
  };
}
