// membrane.connections and membrane.connection(id): a tenant's connections to the workspace's
// integrations. Tenants own them; the workspace token sees every tenant's.

import assert from 'node:assert/strict';

import { admin, ids, it, newConnection, newIntegration, newTenant, raw, rejectsWith, unique, workspace, workspaceToken } from '../helpers.mjs';

function assertConnection(c, { name, integrationId, tenantId }) {
  assert.equal(typeof c, 'object', `got ${JSON.stringify(c)}`);
  assert.equal(typeof c.id, 'string');
  assert.ok(c.id.length > 0, 'id is set');
  if (name !== undefined) assert.equal(c.name, name);
  if (integrationId !== undefined) assert.equal(c.integrationId, integrationId);
  if (tenantId !== undefined) {
    assert.equal(c.tenantId ?? c.userId, tenantId, 'tenantId (or userId) is the tenant');
    if (c.userId !== undefined) assert.equal(c.userId, tenantId, 'userId is the tenant (Membrane calls tenants users)');
  }
  assert.ok(!('credentials' in c), `no credentials without includeSecrets: ${JSON.stringify(c)}`);
  assert.ok(c.createdAt && !Number.isNaN(Date.parse(c.createdAt)), 'createdAt is a date');
  assert.ok(c.updatedAt && !Number.isNaN(Date.parse(c.updatedAt)), 'updatedAt is a date');
}

export default function () {
  it('connections.create({integrationKey, name, credentials}) returns a connected connection without its credentials', async () => {
    const integ = await newIntegration();
    const { sdk, id: tenantId } = await newTenant('conn-create');
    const c = await sdk.connections.create({ integrationKey: integ.key, name: 'My HS', credentials: { apiKey: 'k-1' } });
    assertConnection(c, { name: 'My HS', integrationId: integ.id, tenantId });
    assert.equal(c.connected, true, 'connected');
    assert.equal(c.state, 'READY');
    assert.ok(!c.archivedAt, 'not archived');
    assert.ok(!c.isDeactivated, 'not deactivated');
  });

  it('connection(id).get() sends includeSecrets=false (no credentials); get({includeSecrets:true}) returns them', async () => {
    const integ = await newIntegration();
    const { sdk, id: tenantId } = await newTenant('conn-secrets');
    const creds = { apiKey: unique('key'), nested: { a: 1 } };
    const c = await sdk.connections.create({ integrationKey: integ.key, name: 'Secret', credentials: creds });

    const got = await sdk.connection(c.id).get();
    assertConnection(got, { name: 'Secret', integrationId: integ.id, tenantId });
    assert.equal(got.id, c.id);

    const withSecrets = await sdk.connection(c.id).get({ includeSecrets: true });
    assert.equal(withSecrets.id, c.id);
    assert.deepEqual(withSecrets.credentials, creds);

    // The workspace sees it as well, with and without secrets.
    const seen = await admin().connection(c.id).get();
    assertConnection(seen, { name: 'Secret', integrationId: integ.id, tenantId });
    assert.deepEqual((await admin().connection(c.id).get({ includeSecrets: true })).credentials, creds);
  });

  it('connections.find({integrationKey, connected:true}) lists only the tenant\'s connections to that integration', async () => {
    const hub = await newIntegration();
    const other = await newIntegration();
    const { sdk, id: tenantId } = await newTenant('conn-find');
    const a = await newConnection(sdk, hub.key, { name: 'A' });
    const b = await newConnection(sdk, hub.key, { name: 'B' });
    const elsewhere = await newConnection(sdk, other.key, { name: 'Other' });
    // Another tenant's connection to the same integration is never listed.
    const { sdk: sdkB } = await newTenant('conn-find-b');
    const theirs = await newConnection(sdkB, hub.key);

    const page = await sdk.connections.find({ integrationKey: hub.key, connected: true });
    assert.ok(Array.isArray(page.items), `find() returned ${JSON.stringify(page)}`);
    assert.deepEqual(ids(page.items), ids([a, b]), 'several connections to one integration');
    assert.ok(!page.cursor, 'one page: no cursor');
    for (const c of page.items) assertConnection(c, { integrationId: hub.id, tenantId });

    assert.deepEqual(ids((await sdk.connections.find()).items), ids([a, b, elsewhere]), 'all of mine, no one else\'s');
    assert.deepEqual(ids((await sdk.connections.find({ integrationId: other.id })).items), [elsewhere.id]);
    assert.deepEqual((await sdk.connections.find({ integrationKey: hub.key, connected: false })).items, [],
      'none disconnected');
    assert.ok(!(await sdk.connections.find({ limit: 100 })).items.some((c) => c.id === theirs.id));
  });

  it('connections.find({limit}) pages with a cursor until the last page', async () => {
    const integ = await newIntegration();
    const { sdk } = await newTenant('conn-page');
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await newConnection(sdk, integ.key, { name: `P${i}` }));

    const seen = [];
    let cursor;
    for (let page = 0; page < 5; page++) {
      const res = await sdk.connections.find({ integrationKey: integ.key, limit: 2, cursor });
      assert.ok(res.items.length <= 2, `limit 2 gave ${res.items.length}`);
      assert.ok(res.items.length > 0, `page ${page} is not empty`);
      seen.push(...res.items.map((c) => c.id));
      cursor = res.cursor;
      if (!cursor) break;
    }
    assert.ok(!cursor, 'the pages end');
    assert.equal(seen.length, 3, `three connections over the pages: ${JSON.stringify(seen)}`);
    assert.deepEqual([...seen].sort(), ids(made));
  });

  it('connection(id).patch({name}) renames it and keeps its credentials', async () => {
    const integ = await newIntegration();
    const { sdk } = await newTenant('conn-patch');
    const c = await newConnection(sdk, integ.key, { name: 'Old', credentials: { apiKey: 'keep-me' } });

    const patched = await sdk.connection(c.id).patch({ name: 'Renamed' });
    assert.equal(patched.id, c.id);
    assert.equal(patched.name, 'Renamed');
    assert.equal(patched.integrationId, integ.id);
    assert.ok(!('credentials' in patched), 'PATCH does not echo credentials');

    const got = await sdk.connection(c.id).get({ includeSecrets: true });
    assert.equal(got.name, 'Renamed');
    assert.deepEqual(got.credentials, { apiKey: 'keep-me' });

    const recred = await sdk.connection(c.id).patch({ credentials: { apiKey: 'new' } });
    assert.equal(recred.name, 'Renamed', 'name kept');
    assert.deepEqual((await sdk.connection(c.id).get({ includeSecrets: true })).credentials, { apiKey: 'new' });
  });

  it('connection(id).archive() takes it out of find(); includeArchived lists it with archivedAt', async () => {
    const integ = await newIntegration();
    const { sdk } = await newTenant('conn-archive');
    const keep = await newConnection(sdk, integ.key, { name: 'Keep' });
    const gone = await newConnection(sdk, integ.key, { name: 'Gone' });

    await sdk.connection(gone.id).archive();
    assert.deepEqual(ids((await sdk.connections.find({ integrationKey: integ.key })).items), [keep.id]);
    assert.deepEqual(ids((await sdk.connections.find({ integrationKey: integ.key, connected: true })).items), [keep.id]);
    const all = await sdk.connections.find({ integrationKey: integ.key, includeArchived: true });
    assert.deepEqual(ids(all.items), ids([keep, gone]));
    const archived = all.items.find((c) => c.id === gone.id);
    assert.ok(archived.archivedAt && !Number.isNaN(Date.parse(archived.archivedAt)), `archivedAt: ${JSON.stringify(archived)}`);
    assert.notEqual(archived.connected, true, 'an archived connection is not connected');
  });

  it('patch({disconnected:true}) makes it DISCONNECTED: connected:false lists it, connected:true does not', async () => {
    const integ = await newIntegration();
    const { sdk } = await newTenant('conn-disc');
    const up = await newConnection(sdk, integ.key, { name: 'Up' });
    const down = await newConnection(sdk, integ.key, { name: 'Down' });
    const patched = await sdk.connection(down.id).patch({ disconnected: true });
    assert.equal(patched.connected, false);
    assert.equal(patched.disconnected, true);
    assert.equal(patched.state, 'DISCONNECTED');
    assert.deepEqual(ids((await sdk.connections.find({ integrationKey: integ.key, connected: true })).items), [up.id]);
    assert.deepEqual(ids((await sdk.connections.find({ integrationKey: integ.key, connected: false })).items), [down.id]);
    assert.deepEqual(ids((await sdk.connections.find({ integrationKey: integ.key })).items), ids([up, down]), 'both listed without the filter');

    const again = await sdk.connection(down.id).patch({ disconnected: false });
    assert.equal(again.connected, true);
    assert.equal(again.state, 'READY');
  });

  it("tenant B cannot get, patch or archive tenant A's connection (not_found)", async () => {
    const integ = await newIntegration();
    const { sdk: a } = await newTenant('conn-owner');
    const { sdk: b } = await newTenant('conn-intruder');
    const c = await newConnection(a, integ.key, { name: 'Private', credentials: { apiKey: 'a-secret' } });

    await rejectsWith(b.connection(c.id).get(), { key: 'not_found' });
    await rejectsWith(b.connection(c.id).get({ includeSecrets: true }), { key: 'not_found' });
    await rejectsWith(b.connection(c.id).patch({ name: 'Hijacked' }), { key: 'not_found' });
    await rejectsWith(b.connection(c.id).archive(), { key: 'not_found' });
    assert.deepEqual((await b.connections.find({ integrationKey: integ.key })).items, []);

    const still = await a.connection(c.id).get({ includeSecrets: true });
    assert.equal(still.name, 'Private');
    assert.ok(!still.archivedAt);
    assert.deepEqual(still.credentials, { apiKey: 'a-secret' });

    // And another workspace's token does not reach it either.
    await rejectsWith(admin('sdk2').connection(c.id).get(), { key: 'not_found' });
  });

  it("the workspace token lists every tenant's connections and filters them by tenantId", async () => {
    const integ = await newIntegration();
    const ta = await newTenant('conn-ws-a');
    const tb = await newTenant('conn-ws-b');
    const ca = await newConnection(ta.sdk, integ.key);
    const cb = await newConnection(tb.sdk, integ.key);

    assert.deepEqual(ids((await admin().connections.find({ integrationKey: integ.key })).items), ids([ca, cb]));
    const onlyA = await admin().connections.find({ integrationKey: integ.key, tenantId: ta.id });
    assert.deepEqual(ids(onlyA.items), [ca.id]);
    assertConnection(onlyA.items[0], { integrationId: integ.id, tenantId: ta.id });
  });

  it('connections.create() with an unknown integration is refused naming integrationKey, never a 500', async () => {
    const { sdk } = await newTenant('conn-unknown');
    const err = await rejectsWith(sdk.connections.create({ integrationKey: unique('no-such-app'), name: 'X' }), { key: 'validation_error' });
    assert.ok(err.data.fields?.some((f) => f.path === 'integrationKey'), `fields: ${JSON.stringify(err.data.fields)}`);
    await rejectsWith(sdk.connections.create({ name: 'No integration' }), { key: 'validation_error' });
    assert.deepEqual((await sdk.connections.find()).items, [], 'nothing was created');
  });

  it('a workspace token creates a connection for the tenant it names (tenantId: id or internalId)', async () => {
    const integ = await newIntegration();
    const t = await newTenant('conn-ws-create');
    const byInternal = await admin().connections.create({ integrationKey: integ.key, name: 'By internalId', tenantId: t.internalId,
      credentials: { apiKey: 'w' } });
    assertConnection(byInternal, { name: 'By internalId', integrationId: integ.id, tenantId: t.id });
    const byId = await admin().connections.create({ integrationId: integ.id, name: 'By id', tenantId: t.id });
    assertConnection(byId, { name: 'By id', integrationId: integ.id, tenantId: t.id });
    assert.deepEqual(ids((await t.sdk.connections.find({ integrationKey: integ.key })).items), ids([byInternal, byId]),
      'the tenant sees both as its own');
    assert.deepEqual((await t.sdk.connection(byInternal.id).get({ includeSecrets: true })).credentials, { apiKey: 'w' });

    const err = await rejectsWith(admin().connections.create({ integrationKey: integ.key, name: 'Whose?' }), { key: 'validation_error' });
    assert.ok(err.data.fields?.some((f) => f.path === 'tenantId'), `fields: ${JSON.stringify(err.data.fields)}`);
  });

  it('connection(id).put() replaces name and meta but keeps write-only credentials', async () => {
    const integ = await newIntegration();
    const { sdk } = await newTenant('conn-put');
    const c = await newConnection(sdk, integ.key, { name: 'Before', meta: { a: 1 }, credentials: { apiKey: 'kept' } });
    const put = await sdk.connection(c.id).put({ name: 'After' });
    assert.equal(put.id, c.id);
    assert.equal(put.name, 'After');
    assert.deepEqual(put.meta, {}, 'PUT replaces: meta it does not send is gone');
    assert.deepEqual((await sdk.connection(c.id).get({ includeSecrets: true })).credentials, { apiKey: 'kept' });
  });

  it("archiving a tenant deactivates its connections; restoring reactivates exactly those", async () => {
    const integ = await newIntegration();
    const t = await newTenant('conn-deact');
    const live = await newConnection(t.sdk, integ.key, { name: 'Live' });
    const before = await newConnection(t.sdk, integ.key, { name: 'Archived before' });
    await t.sdk.connection(before.id).archive();

    await admin().customer(t.id).archive();
    const during = await admin().connection(live.id).get();
    assert.equal(during.isDeactivated, true, `deactivated: ${JSON.stringify(during)}`);
    assert.notEqual(during.connected, true, 'a deactivated connection is not connected');
    assert.deepEqual((await admin().connections.find({ tenantId: t.id, connected: true })).items, []);

    await admin().customer(t.id).restore();
    const after = await admin().connection(live.id).get();
    assert.ok(!after.isDeactivated, `reactivated: ${JSON.stringify(after)}`);
    assert.equal(after.connected, true);
    assert.deepEqual(ids((await t.sdk.connections.find({ integrationKey: integ.key, connected: true })).items), [live.id]);
    const stillArchived = await admin().connection(before.id).get();
    assert.ok(stillArchived.archivedAt, 'the connection archived before stays archived');
  });

  it('GET /connections/{id} status codes: 200 for the owner, 404 for a stranger', async () => {
    const integ = await newIntegration();
    const t = await newTenant('conn-raw');
    const c = await newConnection(t.sdk, integ.key);
    const r = await raw('GET', `/connections/${c.id}?includeSecrets=false`, workspaceToken(workspace()));
    assert.equal(r.status, 200, JSON.stringify(r.data));
    assert.equal(r.data.id, c.id);
    const r2 = await raw('GET', `/connections/${c.id}`, workspaceToken(workspace('sdk2')));
    assert.equal(r2.status, 404, JSON.stringify(r2.data));
    assert.equal(r2.data.key, 'not_found');
  });
}
