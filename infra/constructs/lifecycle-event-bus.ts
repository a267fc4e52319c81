import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import type { ServiceFunction } from './service-function';

/** Properties of {@link LifecycleEventBus}. */
export interface LifecycleEventBusProps {
  /**
   * Shown in the console.
   * @default - says what the bus carries
   */
  readonly description?: string;
}

/**
 * The custom EventBridge bus the service publishes authorizer lifecycle events on (`authorized`,
 * `permissions_changed`, `revoked`, …; schema in docs/events.md, "Lifecycle events"). The platform's other
 * services subscribe with rules of their own on this bus. Its name is generated (never fixed), so a rebuilt
 * stack never collides with an old bus; it holds no data, so it goes with the stack.
 *
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus.html
 */
export class LifecycleEventBus extends Construct {
  /** The environment variable naming the bus for the functions that publish. */
  static readonly ENV = 'EVENT_BUS_NAME';

  readonly bus: events.EventBus;

  constructor(scope: Construct, id: string, props: LifecycleEventBusProps = {}) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', {
      description:
        props.description ??
        'WeChat token service: authorizer lifecycle events (source wechat-token-service)',
    });
  }

  /**
   * Lets `fn` publish here: the bus name as {@link LifecycleEventBus.ENV} and `events:PutEvents` on this
   * bus alone, in one call (as `bindTable` does for the table).
   */
  allowPublishing(fn: ServiceFunction): this {
    fn.addEnvironment(LifecycleEventBus.ENV, this.bus.eventBusName);
    this.bus.grantPutEventsTo(fn);
    return this;
  }
}
