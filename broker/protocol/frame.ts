// Request and response headers around the generated message bodies.
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import { ApiKey, type ApiSpec } from './messages/index.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Reads apiKey, apiVersion and correlationId: enough to answer or reject any request. */
export function readRequestHeaderStart(r: Reader): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  return { apiKey, apiVersion, correlationId, clientId: null };
}

/** Reads the rest of the header. ClientId keeps its int16 length even in header v2. */
export function readRequestHeaderRest(r: Reader, header: RequestHeader, flexible: boolean): void {
  header.clientId = r.nullableString();
  if (flexible) r.skipTaggedFields();
}

export function isFlexible(api: ApiSpec<unknown, unknown>, version: number): boolean {
  return api.flexibleMin >= 0 && version >= api.flexibleMin;
}

/**
 * Writes a size-prefixed response frame: size, correlation id, a tagged-field section for
 * flexible versions (response header v1) except ApiVersions, whose header is always v0.
 */
export function encodeResponse<Res>(api: ApiSpec<unknown, Res>, version: number, correlationId: number, body: Res): Buffer[] {
  const w = new Writer(512);
  w.int32(0); // size, patched below
  w.int32(correlationId);
  if (isFlexible(api, version) && api.key !== ApiKey.ApiVersions) w.unsignedVarint(0);
  api.writeResponse(w, body, version);
  const chunks = w.finish();
  chunks[0]!.writeInt32BE(w.length - 4, 0);
  return chunks;
}

/** Writes a size-prefixed request frame (used by tests and the operator's admin client). */
export function encodeRequest<Req>(api: ApiSpec<Req, unknown>, version: number, correlationId: number, clientId: string | null, body: Req): Buffer {
  const w = new Writer(512);
  w.int32(0);
  w.int16(api.key);
  w.int16(version);
  w.int32(correlationId);
  w.nullableString(clientId);
  if (isFlexible(api, version)) w.unsignedVarint(0);
  api.writeRequest(w, body, version);
  const frame = w.toBuffer();
  frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}
