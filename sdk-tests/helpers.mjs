// Tokens, clients and assertions shared by the suites.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import jwt from 'jsonwebtoken';
import { BadRequestError, MembraneClient } from '@membranehq/sdk';

import { current, markFailed } from './harness.mjs';

/** it is node:test's test, noting failures so the harness prints the server's output. */
export function it(name, fn) {
  return test(name, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      markFailed();
      throw err;
    }
  });
}

/** unique returns a name no other test or run uses. */
export function unique(prefix) {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export function workspace(key = 'sdk1') {
  const ws = current().workspaces[key];
  if (!ws) throw new Error(`no workspace ${key}`);
  return ws;
}

/** client is the SDK's client, unchanged, against the server under test. */
export function client(token) {
  return new MembraneClient({ token, apiUri: current().apiUri });
}

/** membraneToken is the token Membrane's documentation prescribes: {id, name, fields}, iss, HS512. */
export function membraneToken({ id, name, fields }, ws = workspace(), opts = {}) {
  const payload = { id };
  if (name !== undefined) payload.name = name;
  if (fields !== undefined) payload.fields = fields;
  return jwt.sign(payload, ws.secret, { issuer: ws.key, expiresIn: 7200, algorithm: 'HS512', ...opts });
}

/** tenantryToken is Tenantry's own tenant token form: {workspaceKey, tenantKey, name}, HS256. */
export function tenantryToken({ tenantKey, name }, ws = workspace()) {
  const payload = { workspaceKey: ws.key, tenantKey };
  if (name !== undefined) payload.name = name;
  return jwt.sign(payload, ws.secret, { expiresIn: 3600, algorithm: 'HS256' });
}

/** workspaceToken is a workspace (admin) token, for the company's backend. */
export function workspaceToken(ws = workspace()) {
  return jwt.sign({ workspaceKey: ws.key, isAdmin: true }, ws.secret, { expiresIn: 3600 });
}

export function admin(key = 'sdk1') {
  return client(workspaceToken(workspace(key)));
}

/**
 * rejectsWith asserts that promise rejects with the SDK's error class for a Membrane error body
 * ({type, key, message}) and returns the error.
 */
export async function rejectsWith(promise, { cls = BadRequestError, type = 'bad_request', key }) {
  let err;
  try {
    const value = await promise;
    assert.fail(`expected a rejection with key ${key}, got ${JSON.stringify(value)}`);
  } catch (e) {
    if (e?.code === 'ERR_ASSERTION') throw e;
    err = e;
  }
  assert.ok(err instanceof cls,
    `want ${cls.name}, got ${err?.constructor?.name}: ${err?.message}` +
    (err?.response ? ` (HTTP ${err.response.status} ${JSON.stringify(err.response.data)})` : ''));
  assert.equal(err.isMembraneError, true, 'isMembraneError');
  assert.equal(err.data.type, type, 'data.type');
  assert.equal(err.data.key, key, `data.key (message: ${err.message})`);
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0, 'the error has a message');
  return err;
}

/** raw sends a request without the SDK, for what the SDK does not expose (the status code). */
export async function raw(method, path, token, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(current().apiUri + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = text;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, data };
}

/**
 * newTenant provisions a tenant through its first token (Membrane's documented form) and returns
 * its SDK client, its id and internalId.
 */
export async function newTenant(prefix = 'tenant', ws = 'sdk1') {
  const internalId = unique(prefix);
  const sdk = client(membraneToken({ id: internalId, name: `Tenant ${internalId}` }, workspace(ws)));
  const me = await sdk.self.get();
  assert.equal(me.internalId, internalId, `self.get() for a new tenant returned ${JSON.stringify(me)}`);
  return { sdk, id: me.id, internalId };
}

/** newIntegration creates an integration with a workspace token and a unique key. */
export async function newIntegration(props = {}, ws = 'sdk1') {
  const key = props.key ?? unique('app');
  const integration = await admin(ws).integrations.create({ name: `App ${key}`, ...props, key });
  assert.equal(integration.key, key, `integrations.create() returned ${JSON.stringify(integration)}`);
  return integration;
}

/** newAction creates an http-request action template (GET /deals?limit=100) on an integration. */
export async function newAction(integrationKey, props = {}, ws = 'sdk1') {
  const key = props.key ?? unique('list-deals');
  const action = await admin(ws).actions.create({
    name: `Action ${key}`,
    integrationKey,
    type: 'http-request',
    config: { method: 'GET', path: '/deals', query: { limit: '100' } },
    ...props,
    key,
  });
  assert.equal(action.key, key, `actions.create() returned ${JSON.stringify(action)}`);
  return action;
}

/** newConnection creates a connection for a tenant's client to an integration. */
export async function newConnection(sdk, integrationKey, props = {}) {
  const conn = await sdk.connections.create({ integrationKey, name: `Conn ${unique('c')}`, credentials: { apiKey: unique('secret') }, ...props });
  assert.equal(typeof conn.id, 'string', `connections.create() returned ${JSON.stringify(conn)}`);
  return conn;
}

/** ids returns the ids of a list's items, sorted. */
export function ids(items) {
  return items.map((x) => x.id).sort();
}
