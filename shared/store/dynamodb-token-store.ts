import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as authCodes from './dynamodb/auth-codes';
import * as authorizations from './dynamodb/authorizations';
import * as authorizerScan from './dynamodb/authorizer-scan';
import * as authorizerTickets from './dynamodb/authorizer-tickets';
import * as budgets from './dynamodb/budgets';
import * as leases from './dynamodb/leases';
import * as outbox from './dynamodb/outbox';
import * as pendingEvents from './dynamodb/pending-events';
import * as runs from './dynamodb/runs';
import { Table } from './dynamodb/table';
import * as tickets from './dynamodb/tickets';
import * as tokens from './dynamodb/tokens';
import type { TokenStore } from './token-store';

type Args<M extends keyof TokenStore> = Parameters<TokenStore[M]>;

/**
 * `TokenStore` on one DynamoDB table. Every write is a single-item conditional write, so no transactions are
 * needed (dynalite, used in tests and the sandbox, has none) and a lost race surfaces as
 * `ConcurrentUpdateError`. Reads are strongly consistent: a reader right after a refresh sees the new token.
 *
 * This class only routes the port to `dynamodb/`, where each record kind's write rules sit in one file:
 * `leases.ts` (claim, release, the holder's save), `tickets.ts`, `tokens.ts` (component and authorizer
 * tokens), `authorizer-tickets.ts` (the authorizers' `getticket` tickets), `authorizations.ts` (authorizations stored and ended), `authorizer-scan.ts` (the operators'
 * listing), `auth-codes.ts`, `outbox.ts`, `runs.ts` and `budgets.ts`; `items.ts` holds the key scheme and
 * `table.ts` the one way to DynamoDB.
 *
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */
export class DynamoDbTokenStore implements TokenStore {
  readonly #table: Table;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#table = new Table(client, tableName);
  }

  getTicket(...a: Args<'getTicket'>) {
    return tickets.getTicket(this.#table, ...a);
  }
  putTicket(...a: Args<'putTicket'>) {
    return tickets.putTicket(this.#table, ...a);
  }

  getComponentToken(...a: Args<'getComponentToken'>) {
    return tokens.getComponentToken(this.#table, ...a);
  }
  getAuthorizer(...a: Args<'getAuthorizer'>) {
    return tokens.getAuthorizer(this.#table, ...a);
  }
  getAuthCode(...a: Args<'getAuthCode'>) {
    return authCodes.getAuthCode(this.#table, ...a);
  }

  claim(...a: Args<'claim'>) {
    return leases.claim(this.#table, ...a);
  }
  release(...a: Args<'release'>) {
    return leases.release(this.#table, ...a);
  }

  saveComponentToken(...a: Args<'saveComponentToken'>) {
    return tokens.saveComponentToken(this.#table, ...a);
  }
  saveAuthorizerToken(...a: Args<'saveAuthorizerToken'>) {
    return tokens.saveAuthorizerToken(this.#table, ...a);
  }
  replaceRefreshToken(...a: Args<'replaceRefreshToken'>) {
    return tokens.replaceRefreshToken(this.#table, ...a);
  }

  saveAuthorization(...a: Args<'saveAuthorization'>) {
    return authorizations.saveAuthorization(this.#table, ...a);
  }
  endAuthorization(...a: Args<'endAuthorization'>) {
    return authorizations.endAuthorization(this.#table, ...a);
  }

  duePartitions(...a: Args<'duePartitions'>) {
    return tokens.duePartitions(...a);
  }
  listDueAuthorizers(...a: Args<'listDueAuthorizers'>) {
    return tokens.listDueAuthorizers(this.#table, ...a);
  }

  putAuthCode(...a: Args<'putAuthCode'>) {
    return authCodes.putAuthCode(this.#table, ...a);
  }
  finishAuthCode(...a: Args<'finishAuthCode'>) {
    return authCodes.finishAuthCode(this.#table, ...a);
  }
  listPendingAuthCodes(...a: Args<'listPendingAuthCodes'>) {
    return authCodes.listPendingAuthCodes(this.#table, ...a);
  }

  getAuthorizerTicket(...a: Args<'getAuthorizerTicket'>) {
    return authorizerTickets.getAuthorizerTicket(this.#table, ...a);
  }
  saveAuthorizerTicket(...a: Args<'saveAuthorizerTicket'>) {
    return authorizerTickets.saveAuthorizerTicket(this.#table, ...a);
  }
  noteTicketServed(...a: Args<'noteTicketServed'>) {
    return authorizerTickets.noteTicketServed(this.#table, ...a);
  }
  ticketDuePartitions(...a: Args<'ticketDuePartitions'>) {
    return authorizerTickets.ticketDuePartitions(...a);
  }
  listDueTickets(...a: Args<'listDueTickets'>) {
    return authorizerTickets.listDueTickets(this.#table, ...a);
  }
  retireTicket(...a: Args<'retireTicket'>) {
    return authorizerTickets.retireTicket(this.#table, ...a);
  }

  spendBudget(...a: Args<'spendBudget'>) {
    return budgets.spendBudget(this.#table, ...a);
  }

  settlePendingEvent(...a: Args<'settlePendingEvent'>) {
    return pendingEvents.settlePendingEvent(this.#table, ...a);
  }
  listAuthorizersWithPendingEvents(...a: Args<'listAuthorizersWithPendingEvents'>) {
    return pendingEvents.listAuthorizersWithPendingEvents(this.#table, ...a);
  }
  putOutboxEvent(...a: Args<'putOutboxEvent'>) {
    return outbox.putOutboxEvent(this.#table, ...a);
  }
  listDueOutboxEvents(...a: Args<'listDueOutboxEvents'>) {
    return outbox.listDueOutboxEvents(this.#table, ...a);
  }
  markOutboxEventPublished(...a: Args<'markOutboxEventPublished'>) {
    return outbox.markOutboxEventPublished(this.#table, ...a);
  }
  deferOutboxEvent(...a: Args<'deferOutboxEvent'>) {
    return outbox.deferOutboxEvent(this.#table, ...a);
  }

  listAuthorizers(...a: Args<'listAuthorizers'>) {
    return authorizerScan.listAuthorizers(this.#table, ...a);
  }

  putRunRecord(...a: Args<'putRunRecord'>) {
    return runs.putRunRecord(this.#table, ...a);
  }
  getRunRecord(...a: Args<'getRunRecord'>) {
    return runs.getRunRecord(this.#table, ...a);
  }
}
