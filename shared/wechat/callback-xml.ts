import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { EpochMs } from '../clock';
import { isAppId } from '../config';
import { AppIdMismatchError, MalformedMessageError, PayloadTooLargeError } from '../errors';

/**
 * Parsing of the authorization-event pushes (授权事件): the encrypted envelope WeChat POSTs and the decrypted
 * payload inside it. The parser is locked down: no DTD, no entities (so no XXE or billion laughs), values
 * kept as strings, duplicate elements rejected, and a size limit far above any real push.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorize_event.html
 */

/** Real pushes are under 1 KB; anything near this is not WeChat. */
export const MAX_EVENT_BODY_BYTES = 16 * 1024;
const MAX_DEPTH = 4;
/**
 * Messages nest deeper than authorization events: a menu's photo event has
 * `<SendPicsInfo><PicList><item><PicMd5Sum>` (depth 5 under the root).
 */
const MAX_MESSAGE_DEPTH = 6;

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  allowBooleanAttributes: false,
});

type Node = XmlValue;

function checkDepth(node: Node, depth: number, repeats: boolean, maxDepth = MAX_DEPTH): void {
  if (depth > maxDepth) throw new MalformedMessageError('XML is nested too deeply');
  if (Array.isArray(node)) {
    if (!repeats) throw new MalformedMessageError('XML repeats an element');
    for (const item of node) checkDepth(item, depth, repeats, maxDepth);
    return;
  }
  if (typeof node === 'object') {
    for (const child of Object.values(node)) checkDepth(child, depth + 1, repeats, maxDepth);
  }
}

/** An element of a parsed document: text, nested elements by name, or a repeated element's values. */
export type XmlValue = string | { [name: string]: XmlValue } | XmlValue[];

/**
 * The `<xml>` root of a small document, parsed by the locked-down parser: `maxBytes` and the DTD/entity ban
 * are checked before any parsing, then well-formedness and the single `<xml>` root.
 */
function parseXmlRoot(xml: string, what: string, maxBytes: number): XmlValue {
  if (Buffer.byteLength(xml, 'utf8') > maxBytes) {
    throw new PayloadTooLargeError(`${what} is larger than ${maxBytes} bytes`);
  }
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(xml)) {
    throw new MalformedMessageError(`${what} contains a DTD or entity declaration`);
  }
  if (!xml.trim()) throw new MalformedMessageError(`${what} is empty`);
  if (XMLValidator.validate(xml) !== true) {
    throw new MalformedMessageError(`${what} is not well-formed XML`);
  }
  let document: Record<string, Node | Node[]>;
  try {
    document = parser.parse(xml) as Record<string, Node | Node[]>;
  } catch {
    throw new MalformedMessageError(`${what} is not well-formed XML`);
  }
  const roots = Object.keys(document);
  const root = document.xml;
  if (roots.length !== 1 || root === undefined) {
    throw new MalformedMessageError(`${what} must have a single <xml> root`);
  }
  if (Array.isArray(root)) throw new MalformedMessageError('XML repeats an element');
  return root;
}

/**
 * Parses a small `<xml>…</xml>` document into its top-level text fields. The envelope is flat; a decrypted
 * payload may carry nested elements (`notify_third_fasteregister` has `<info>…</info>`, protocol §11.5),
 * which are allowed with `nested` (depth-limited) and skipped: only top-level text is read. A repeated
 * top-level element is always refused (which one would count?).
 */
export function parseXmlFields(
  xml: string,
  what: string,
  options: { nested: boolean } = { nested: false }
): Record<string, string> {
  const root = parseXmlRoot(xml, what, MAX_EVENT_BODY_BYTES);
  if (typeof root !== 'object') return {};
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(root)) {
    if (Array.isArray(value)) throw new MalformedMessageError('XML repeats an element');
    if (typeof value === 'string') {
      fields[name] = value;
      continue;
    }
    checkDepth(value, 2, options.nested);
    if (!options.nested) {
      throw new MalformedMessageError(`${what} element ${name.slice(0, 40)} must hold text`);
    }
  }
  return fields;
}

/**
 * Parses a decrypted message or event of an authorized account (消息与事件) keeping every element: text as
 * strings, nested elements as objects (a menu's `SendPicsInfo`, `ScanCodeInfo`), an element repeated inside
 * one as an array (`PicList`'s `item`s). Depth-limited like the authorization events; a repeated top-level
 * element is refused.
 *
 * @see ../../docs/wechat-protocol.md §13
 */
export function parseXmlTree(
  xml: string,
  what: string,
  maxBytes: number
): Record<string, XmlValue> {
  const root = parseXmlRoot(xml, what, maxBytes);
  if (typeof root !== 'object' || Array.isArray(root)) return {};
  for (const value of Object.values(root)) {
    if (Array.isArray(value)) throw new MalformedMessageError('XML repeats an element');
    checkDepth(value, 2, true, MAX_MESSAGE_DEPTH);
  }
  return root;
}

/** The encrypted envelope WeChat POSTs to the authorization-event URL. */
export interface EventEnvelope {
  appId?: string;
  encrypt: string;
}

/**
 * Reads the envelope (`AppId`, `Encrypt`). A push addressed to another component appid is rejected before
 * any decryption.
 */
export function parseEnvelope(xml: string, componentAppId: string): EventEnvelope {
  const fields = parseXmlFields(xml, 'event body');
  if (!fields.Encrypt) throw new MalformedMessageError('event body has no Encrypt element');
  if (fields.AppId !== undefined && fields.AppId !== componentAppId) {
    throw new AppIdMismatchError('event is addressed to another component appid');
  }
  return { appId: fields.AppId, encrypt: fields.Encrypt };
}

interface EventBase {
  /** The component appid the payload names. */
  appId: string;
  /** WeChat's CreateTime. */
  createTime: EpochMs;
}

export type AuthEvent =
  | (EventBase & { infoType: 'component_verify_ticket'; ticket: string })
  | (EventBase & {
      infoType: 'authorized' | 'updateauthorized';
      authorizerAppId: string;
      authorizationCode: string;
      authorizationCodeExpiresAt: EpochMs;
      preAuthCode?: string;
    })
  | (EventBase & { infoType: 'unauthorized'; authorizerAppId: string })
  | (EventBase & { infoType: 'unknown'; rawInfoType: string });

/** InfoTypes are lower-case words today; any other name a push may carry is acknowledged, only logged. */
const INFO_TYPE = /^[A-Za-z0-9_.-]{1,64}$/;

function seconds(value: string | undefined, field: string): number {
  if (!value || !/^\d{1,12}$/.test(value)) {
    throw new MalformedMessageError(`event ${field} must be a number of seconds`);
  }
  return Number(value) * 1000;
}

function appIdField(fields: Record<string, string>, field: string): string {
  const value = fields[field];
  if (!isAppId(value)) throw new MalformedMessageError(`event ${field} is not an appid`);
  return value;
}

/**
 * Turns a decrypted payload into a typed event. Unknown `InfoType`s (e.g. `notify_third_fasteregister`)
 * come back as `unknown`, to be acknowledged and logged, never acted on.
 *
 * @throws MalformedMessageError for a missing `InfoType`, `CreateTime` or required field.
 * @throws AppIdMismatchError when the payload names another component appid.
 */
export function parseAuthEvent(xml: string, componentAppId: string): AuthEvent {
  const fields = parseXmlFields(xml, 'decrypted event', { nested: true });
  if (fields.AppId !== componentAppId) {
    throw new AppIdMismatchError('decrypted event names another component appid');
  }
  const infoType = fields.InfoType;
  if (!infoType) throw new MalformedMessageError('event has no InfoType');
  if (!INFO_TYPE.test(infoType)) throw new MalformedMessageError('event InfoType is malformed');
  const base = { appId: componentAppId, createTime: seconds(fields.CreateTime, 'CreateTime') };
  switch (infoType) {
    case 'component_verify_ticket': {
      const ticket = fields.ComponentVerifyTicket;
      if (!ticket) throw new MalformedMessageError('ticket event has no ComponentVerifyTicket');
      return { ...base, infoType, ticket };
    }
    case 'authorized':
    case 'updateauthorized': {
      const code = fields.AuthorizationCode;
      if (!code) throw new MalformedMessageError('authorization event has no AuthorizationCode');
      const expiry = seconds(fields.AuthorizationCodeExpiredTime, 'AuthorizationCodeExpiredTime');
      return {
        ...base,
        infoType,
        authorizerAppId: appIdField(fields, 'AuthorizerAppid'),
        authorizationCode: code,
        // WeChat sends an absolute time; tolerate a relative one (seconds from CreateTime).
        authorizationCodeExpiresAt: expiry >= base.createTime ? expiry : base.createTime + expiry,
        ...(fields.PreAuthCode ? { preAuthCode: fields.PreAuthCode } : {}),
      };
    }
    case 'unauthorized':
      return { ...base, infoType, authorizerAppId: appIdField(fields, 'AuthorizerAppid') };
    default:
      return { ...base, infoType: 'unknown', rawInfoType: infoType };
  }
}
