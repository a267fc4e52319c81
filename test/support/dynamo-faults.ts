import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  type GetCommandInput,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';

export type DocumentCommand = 'Get' | 'Put' | 'Update' | 'Query';
type Input = Record<string, unknown>;

interface Planned {
  command: DocumentCommand;
  when: (input: Input) => boolean;
  error: () => Error;
  remaining: number;
}

export const throttled = () =>
  new ProvisionedThroughputExceededException({
    message: 'The level of configured provisioned throughput for the table was exceeded.',
    $metadata: { httpStatusCode: 400 },
  });

export const conditionFailed = () =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
  });

/** Matches an update on `pk` whose condition mentions `fragment` (e.g. the lease claim or the owner's save). */
export const updateOf =
  (pk: string, fragment: string | RegExp) =>
  (input: Input): boolean =>
    (input.Key as { pk?: string } | undefined)?.pk === pk &&
    (typeof fragment === 'string'
      ? String(input.ConditionExpression ?? '').includes(fragment) ||
        String(input.UpdateExpression ?? '').includes(fragment)
      : fragment.test(`${input.ConditionExpression} ${input.UpdateExpression}`));

/**
 * A document client mocked with aws-sdk-client-mock that forwards every command to the real (dynalite)
 * client, except the faults planned with `failNext`.
 */
export function faultyDocument(real: DynamoDBDocumentClient) {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'mock', secretAccessKey: 'mock' },
    })
  );
  const mock = mockClient(client);
  const plan: Planned[] = [];
  const injected: { command: DocumentCommand; input: Input; error: string }[] = [];
  /** Throws the first planned fault that matches, or forwards the command with `send`. */
  const forward = async <Output>(
    command: DocumentCommand,
    input: Input,
    send: () => Promise<Output>
  ): Promise<Output> => {
    const fault = plan.find((p) => p.command === command && p.remaining > 0 && p.when(input));
    if (fault) {
      fault.remaining -= 1;
      const error = fault.error();
      injected.push({ command, input, error: error.name });
      throw error;
    }
    return send();
  };
  mock
    .on(GetCommand)
    .callsFake((input: GetCommandInput) =>
      forward('Get', input, () => real.send(new GetCommand(input)))
    );
  mock
    .on(PutCommand)
    .callsFake((input: PutCommandInput) =>
      forward('Put', input, () => real.send(new PutCommand(input)))
    );
  mock
    .on(UpdateCommand)
    .callsFake((input: UpdateCommandInput) =>
      forward('Update', input, () => real.send(new UpdateCommand(input)))
    );
  mock
    .on(QueryCommand)
    .callsFake((input: QueryCommandInput) =>
      forward('Query', input, () => real.send(new QueryCommand(input)))
    );
  return {
    client,
    mock,
    injected,
    failNext(
      command: DocumentCommand,
      when: (input: Input) => boolean,
      error: () => Error,
      times = 1
    ) {
      plan.push({ command, when, error, remaining: times });
    },
  };
}
