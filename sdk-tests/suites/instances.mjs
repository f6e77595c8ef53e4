// Connection-level elements (Membrane's "instances"): a tenant's customization of a workspace
// template, tied to one of its connections. connection(c).action(key) …, actionInstances,
// actionInstance(id), and the same for flows, data sources and field mappings.

import assert from 'node:assert/strict';

import { admin, ids, it, newAction, newConnection, newIntegration, newTenant, raw, rejectsWith, unique } from '../helpers.mjs';

const TEMPLATE = { method: 'GET', path: '/deals', query: { limit: '100' } };

/** setup makes an integration, an action template on it, a tenant and one connection. */
async function setup(prefix) {
  const integ = await newIntegration();
  const action = await newAction(integ.key);
  const tenant = await newTenant(prefix);
  const conn = await newConnection(tenant.sdk, integ.key);
  return { integ, action, tenant, sdk: tenant.sdk, conn };
}

export default function () {
  it('connection(c).action(key).get({autoCreate:true}) returns a connection-level action with the template\'s config', async () => {
    const { integ, action, tenant, sdk, conn } = await setup('ca-get');
    const el = await sdk.connection(conn.id).action(action.key).get({ autoCreate: true });
    assert.equal(typeof el.id, 'string', `get({autoCreate}) returned ${JSON.stringify(el)}`);
    assert.ok(el.id.length > 0, 'id is set');
    assert.notEqual(el.id, action.id, 'its own id, not the template\'s');
    assert.equal(el.key, action.key);
    assert.equal(el.parentId, action.id, 'parentId is the template');
    assert.equal(el.connectionId, conn.id);
    assert.equal(el.integrationId, integ.id);
    assert.equal(el.tenantId ?? el.userId, tenant.id);
    assert.equal(el.type, 'http-request');
    assert.deepEqual(el.config, TEMPLATE);
    assert.equal(el.isCustomized, false);

    // Asking again gives the same element, not a second one.
    const again = await sdk.connection(conn.id).action(action.key).get({ autoCreate: true });
    assert.equal(again.id, el.id);
    assert.equal((await sdk.connection(conn.id).action(action.key).get()).id, el.id, 'get() without autoCreate finds it');
  });

  it('patch({config}) merges onto the template; template changes show through; reset() returns to the template', async () => {
    const { action, sdk, conn } = await setup('ca-patch');
    const at = sdk.connection(conn.id).action(action.key);
    const el = await at.get({ autoCreate: true });

    const patched = await at.patch({ config: { query: { limit: '25' } } });
    assert.equal(patched.id, el.id);
    assert.deepEqual(patched.config, { method: 'GET', path: '/deals', query: { limit: '25' } });
    assert.equal(patched.isCustomized, true);

    const got = await at.get();
    assert.equal(got.id, el.id);
    assert.deepEqual(got.config, { method: 'GET', path: '/deals', query: { limit: '25' } }, 'limit 25, the rest from the template');
    assert.equal(got.isCustomized, true);
    // The template itself is untouched.
    assert.deepEqual((await admin().action(action.key).get()).config, TEMPLATE);

    // The workspace moves the template: the connection-level action follows, keeping its override.
    const moved = await admin().action(action.key).patch({ config: { path: '/v2/deals' } });
    assert.deepEqual(moved.config, { method: 'GET', path: '/v2/deals', query: { limit: '100' } });
    const follows = await at.get();
    assert.deepEqual(follows.config, { method: 'GET', path: '/v2/deals', query: { limit: '25' } });
    assert.equal(follows.isCustomized, true);

    const reset = await at.reset();
    assert.equal(reset.id, el.id, `reset() returns the element: ${JSON.stringify(reset)}`);
    assert.deepEqual(reset.config, { method: 'GET', path: '/v2/deals', query: { limit: '100' } });
    assert.equal(reset.isCustomized, false);
    const after = await at.get();
    assert.equal(after.id, el.id);
    assert.deepEqual(after.config, { method: 'GET', path: '/v2/deals', query: { limit: '100' } }, 'back to the template');
    assert.equal(after.isCustomized, false);

    // And it keeps following the template.
    await admin().action(action.key).patch({ config: { query: { limit: '50' } } });
    assert.deepEqual((await at.get()).config, { method: 'GET', path: '/v2/deals', query: { limit: '50' } });
  });

  it("one tenant's customization does not change what another tenant's connection gets", async () => {
    const { integ, action, sdk, conn } = await setup('ca-iso-a');
    const other = await newTenant('ca-iso-b');
    const otherConn = await newConnection(other.sdk, integ.key);

    await sdk.connection(conn.id).action(action.key).get({ autoCreate: true });
    await sdk.connection(conn.id).action(action.key).patch({ config: { query: { limit: '5' } } });

    const theirs = await other.sdk.connection(otherConn.id).action(action.key).get({ autoCreate: true });
    assert.deepEqual(theirs.config, TEMPLATE);
    assert.equal(theirs.isCustomized, false);
    assert.deepEqual((await sdk.connection(conn.id).action(action.key).get()).config.query, { limit: '5' });
  });

  it('connection(c).action(key).create() (PUT, empty body) makes the connection-level action', async () => {
    const { action, sdk, conn } = await setup('ca-create');
    const made = await sdk.connection(conn.id).action(action.key).create();
    assert.equal(typeof made.id, 'string', `create() returned ${JSON.stringify(made)}`);
    assert.equal(made.parentId, action.id);
    assert.deepEqual(made.config, TEMPLATE);
    assert.equal((await sdk.connection(conn.id).action(action.key).get()).id, made.id);
  });

  it('connection(c).actions.list(), actionInstances.find({connectionId}) and actionInstance(id).get() show it', async () => {
    const { integ, action, tenant, sdk, conn } = await setup('ca-list');
    const second = await newAction(integ.key);
    const otherConn = await newConnection(sdk, integ.key);
    const el = await sdk.connection(conn.id).action(action.key).get({ autoCreate: true });
    await sdk.connection(conn.id).action(action.key).patch({ config: { query: { limit: '25' } } });
    const el2 = await sdk.connection(conn.id).action(second.key).get({ autoCreate: true });
    const elsewhere = await sdk.connection(otherConn.id).action(action.key).get({ autoCreate: true });

    const listed = await sdk.connection(conn.id).actions.list();
    assert.ok(Array.isArray(listed.items), `actions.list() returned ${JSON.stringify(listed)}`);
    const mine = listed.items.filter((x) => x.connectionId === conn.id);
    assert.deepEqual(ids(mine), ids([el, el2]), 'this connection\'s actions');
    assert.ok(!listed.items.some((x) => x.id === elsewhere.id), 'not another connection\'s');
    const listedEl = listed.items.find((x) => x.id === el.id);
    assert.deepEqual(listedEl.config, { method: 'GET', path: '/deals', query: { limit: '25' } });
    assert.equal(listedEl.isCustomized, true);

    const found = await sdk.actionInstances.find({ connectionId: conn.id });
    assert.ok(Array.isArray(found.items), `actionInstances.find() returned ${JSON.stringify(found)}`);
    assert.deepEqual(ids(found.items), ids([el, el2]));
    assert.deepEqual(ids((await sdk.actionInstances.find()).items), ids([el, el2, elsewhere]), 'every one of the tenant\'s');
    assert.deepEqual(ids((await admin().actionInstances.find({ connectionId: conn.id })).items), ids([el, el2]),
      'the workspace token lists them too');

    const byId = await sdk.actionInstance(el.id).get();
    assert.equal(byId.id, el.id);
    assert.equal(byId.connectionId, conn.id);
    assert.equal(byId.parentId, action.id);
    assert.equal(byId.tenantId ?? byId.userId, tenant.id);
    assert.deepEqual(byId.config, { method: 'GET', path: '/deals', query: { limit: '25' } });
    assert.equal(byId.isCustomized, true);
    assert.equal((await admin().actionInstance(el.id).get()).id, el.id);

    const bySelector = await sdk.actionInstance({ parentKey: second.key, connectionId: conn.id }).get();
    assert.equal(bySelector.id, el2.id, 'actionInstance({parentKey, connectionId})');
  });

  it("tenant B cannot read A's connection-level action, by id or through A's connection (not_found)", async () => {
    const { action, sdk, conn } = await setup('ca-owner');
    const b = await newTenant('ca-intruder');
    const el = await sdk.connection(conn.id).action(action.key).get({ autoCreate: true });

    await rejectsWith(b.sdk.actionInstance(el.id).get(), { key: 'not_found' });
    await rejectsWith(b.sdk.connection(conn.id).action(action.key).get({ autoCreate: true }), { key: 'not_found' });
    await rejectsWith(b.sdk.connection(conn.id).action(action.key).patch({ config: { query: { limit: '1' } } }), { key: 'not_found' });
    await rejectsWith(b.sdk.connection(conn.id).action(action.key).reset(), { key: 'not_found' });
    assert.deepEqual((await b.sdk.actionInstances.find({ connectionId: conn.id })).items, []);
    assert.deepEqual((await sdk.connection(conn.id).action(action.key).get()).config, TEMPLATE, 'A\'s is unchanged');
  });

  it('a connection-level patch that breaks the type\'s schema is refused with the config path', async () => {
    const { action, sdk, conn } = await setup('ca-bad');
    await sdk.connection(conn.id).action(action.key).get({ autoCreate: true });
    const err = await rejectsWith(sdk.connection(conn.id).action(action.key).patch({ config: { method: 'FETCH' } }),
      { key: 'validation_error' });
    assert.ok(err.data.fields?.some((f) => f.path === 'config.method'), `fields: ${JSON.stringify(err.data.fields)}`);
    const got = await sdk.connection(conn.id).action(action.key).get();
    assert.deepEqual(got.config, TEMPLATE);
    assert.equal(got.isCustomized, false);
  });

  it('connection(c).action(key).archive() deletes it: the connection gets the template again', async () => {
    const { action, sdk, conn } = await setup('ca-delete');
    const at = sdk.connection(conn.id).action(action.key);
    const el = await at.get({ autoCreate: true });
    await at.patch({ config: { query: { limit: '7' } } });
    await at.archive();
    await rejectsWith(at.get(), { key: 'not_found' });
    await rejectsWith(sdk.actionInstance(el.id).get(), { key: 'not_found' });
    assert.deepEqual((await sdk.actionInstances.find({ connectionId: conn.id })).items, []);
    const fresh = await at.get({ autoCreate: true });
    assert.deepEqual(fresh.config, TEMPLATE);
    assert.equal(fresh.isCustomized, false);
  });

  it('a workspace token reaches a tenant\'s connection-level action through the connection', async () => {
    const { action, tenant, sdk, conn } = await setup('ca-ws');
    const el = await admin().connection(conn.id).action(action.key).get({ autoCreate: true });
    assert.equal(el.connectionId, conn.id);
    assert.equal(el.tenantId ?? el.userId, tenant.id);
    const patched = await admin().connection(conn.id).action(action.key).patch({ config: { query: { limit: '3' } } });
    assert.equal(patched.id, el.id);
    const seen = await sdk.connection(conn.id).action(action.key).get();
    assert.equal(seen.id, el.id, 'the tenant sees the same element');
    assert.deepEqual(seen.config.query, { limit: '3' });
    assert.equal(seen.isCustomized, true);
    await rejectsWith(admin('sdk2').connection(conn.id).action(action.key).get({ autoCreate: true }), { key: 'not_found' });
  });

  it('connection(c).action(missing).get({autoCreate:true}) is not_found', async () => {
    const { sdk, conn } = await setup('ca-missing');
    await rejectsWith(sdk.connection(conn.id).action(unique('no-such-action')).get({ autoCreate: true }), { key: 'not_found' });
    const r = await raw('GET', `/connections/${conn.id}/actions/${unique('nope')}?autoCreate=true`, sdk.token);
    assert.equal(r.status, 404, JSON.stringify(r.data));
  });

  // Flows, data sources and field mappings: the same three levels.

  it('flows: find(), flow(key).get(), connection-level get({autoCreate}), patch replaces arrays, flowInstances', async () => {
    const { integ, action, tenant, sdk, conn } = await setup('flow');
    const steps = [{ key: 's1', action: action.key, input: { a: 1 } }, { key: 's2', action: action.key }];
    const key = unique('sync-deals');
    const flow = await admin().flows.create({ key, name: 'Sync deals', integrationKey: integ.key, config: { steps } });
    assert.equal(flow.key, key);
    assert.equal(flow.integrationId, integ.id);
    assert.deepEqual(flow.config, { steps });

    assert.deepEqual(ids((await admin().flows.find({ integrationKey: integ.key })).items), [flow.id]);
    assert.deepEqual(ids((await sdk.flows.find({ integrationId: integ.id })).items), [flow.id], 'a tenant token reads flows');
    assert.equal((await sdk.flow(key).get()).id, flow.id);
    await rejectsWith(sdk.flows.create({ key: unique('tenant-flow'), name: 'Nope', integrationKey: integ.key }), { key: 'access_denied' });

    const at = sdk.connection(conn.id).flow(key);
    const fi = await at.get({ autoCreate: true });
    assert.equal(typeof fi.id, 'string');
    assert.notEqual(fi.id, flow.id);
    assert.equal(fi.flowId, flow.id, 'flowId is the template');
    assert.equal(fi.connectionId, conn.id);
    assert.equal(fi.tenantId ?? fi.userId, tenant.id);
    assert.deepEqual(fi.config, { steps });
    assert.equal(fi.isCustomized, false);

    // Arrays are replaced by a merge patch, not merged.
    const patched = await at.patch({ config: { steps: [{ key: 'only', action: action.key }] } });
    assert.deepEqual(patched.config, { steps: [{ key: 'only', action: action.key }] });
    assert.equal(patched.isCustomized, true);
    assert.deepEqual((await admin().flow(key).get()).config, { steps }, 'the template is untouched');

    const listed = await sdk.flowInstances.find({ connectionId: conn.id });
    assert.deepEqual(ids(listed.items), [fi.id]);
    assert.deepEqual(ids((await sdk.connection(conn.id).flows.list()).items), [fi.id]);
    const byId = await sdk.flowInstance(fi.id).get();
    assert.equal(byId.id, fi.id);
    assert.deepEqual(byId.config, { steps: [{ key: 'only', action: action.key }] });
    assert.equal((await sdk.flowInstance({ flowKey: key, connectionId: conn.id }).get()).id, fi.id, 'flowInstance({flowKey, connectionId})');

    const other = await newTenant('flow-other');
    await rejectsWith(other.sdk.flowInstance(fi.id).get(), { key: 'not_found' });

    const reset = await at.reset();
    assert.deepEqual(reset.config, { steps });
    assert.equal(reset.isCustomized, false);
  });

  it('data sources: find(), connection-level get({autoCreate}), top-level collection properties, dataSourceInstances', async () => {
    const { integ, sdk, conn } = await setup('ds');
    const key = unique('contacts');
    const ds = await admin().dataSources.create({ key, name: 'Contacts', integrationKey: integ.key,
      config: { collectionKey: 'contacts', pullUpdatesIntervalSeconds: 300 } });
    assert.deepEqual(ds.config, { collectionKey: 'contacts', pullUpdatesIntervalSeconds: 300 });

    assert.deepEqual(ids((await admin().dataSources.find({ integrationKey: integ.key })).items), [ds.id]);
    assert.deepEqual(ids((await sdk.dataSources.find({ integrationKey: integ.key })).items), [ds.id]);
    assert.equal((await sdk.dataSource(key).get()).id, ds.id);

    const at = sdk.connection(conn.id).dataSource(key);
    const dsi = await at.get({ autoCreate: true });
    assert.equal(dsi.dataSourceId, ds.id, 'dataSourceId is the template');
    assert.equal(dsi.connectionId, conn.id);
    assert.deepEqual(dsi.config, { collectionKey: 'contacts', pullUpdatesIntervalSeconds: 300 });
    assert.equal(dsi.isCustomized, false);

    // Membrane's SDK sends a data source's properties at the top level.
    const patched = await at.patch({ collectionParameters: { owner: 'me' } });
    assert.deepEqual(patched.config, { collectionKey: 'contacts', pullUpdatesIntervalSeconds: 300, collectionParameters: { owner: 'me' } });
    assert.equal(patched.isCustomized, true);

    assert.deepEqual(ids((await sdk.dataSourceInstances.find({ connectionId: conn.id })).items), [dsi.id]);
    assert.deepEqual(ids((await sdk.connection(conn.id).dataSources.list()).items), [dsi.id]);
    const bySel = await sdk.dataSourceInstance({ dataSourceKey: key, connectionId: conn.id }).get();
    assert.equal(bySel.id, dsi.id, 'dataSourceInstance({dataSourceKey, connectionId})');
    assert.deepEqual(bySel.config.collectionParameters, { owner: 'me' });
    assert.equal((await sdk.dataSourceInstance(dsi.id).get()).id, dsi.id);
  });

  it('field mappings: find(), connection-level get({autoCreate}), importValue merges, fieldMappingInstances', async () => {
    const { integ, sdk, conn } = await setup('fm');
    const key = unique('contact-fields');
    // Top-level direction/importValue, as Membrane's SDK sends them, become the config.
    const fm = await admin().fieldMappings.create({ key, name: 'Contact fields', integrationKey: integ.key,
      direction: 'import', importValue: { name: { $var: '$.name' } } });
    assert.deepEqual(fm.config, { direction: 'import', importValue: { name: { $var: '$.name' } } });

    assert.deepEqual(ids((await admin().fieldMappings.find({ integrationKey: integ.key })).items), [fm.id]);
    assert.deepEqual(ids((await sdk.fieldMappings.find({ integrationKey: integ.key })).items), [fm.id]);
    assert.equal((await sdk.fieldMapping(key).get()).id, fm.id);

    const fmi = await sdk.connection(conn.id).fieldMapping(key).get({ autoCreate: true });
    assert.equal(fmi.fieldMappingId, fm.id, 'fieldMappingId is the template');
    assert.equal(fmi.connectionId, conn.id);
    assert.deepEqual(fmi.config, { direction: 'import', importValue: { name: { $var: '$.name' } } });
    assert.equal(fmi.isCustomized, false);

    // PATCH /field-mapping-instance?fieldMappingKey=&connectionId= {importValue}: objects merge.
    const patched = await sdk.fieldMappingInstance({ fieldMappingKey: key, connectionId: conn.id })
      .patch({ importValue: { email: { $var: '$.email' } } });
    assert.equal(patched.id, fmi.id);
    assert.deepEqual(patched.config, { direction: 'import', importValue: { name: { $var: '$.name' }, email: { $var: '$.email' } } });
    assert.equal(patched.isCustomized, true);

    assert.deepEqual(ids((await sdk.fieldMappingInstances.find({ connectionId: conn.id })).items), [fmi.id]);
    assert.deepEqual(ids((await sdk.connection(conn.id).fieldMappings.list()).items), [fmi.id]);
    const byId = await sdk.fieldMappingInstance(fmi.id).get();
    assert.deepEqual(byId.config.importValue, { name: { $var: '$.name' }, email: { $var: '$.email' } });

    // null removes a key (RFC 7386).
    const removed = await sdk.connection(conn.id).fieldMapping(key).patch({ importValue: { name: null } });
    assert.deepEqual(removed.config.importValue, { email: { $var: '$.email' } });

    // reset() goes through GET (getId) and POST /field-mapping-instances/{id}/reset.
    await sdk.fieldMappingInstance({ fieldMappingKey: key, connectionId: conn.id }).reset();
    const after = await sdk.fieldMappingInstance(fmi.id).get();
    assert.deepEqual(after.config, { direction: 'import', importValue: { name: { $var: '$.name' } } });
    assert.equal(after.isCustomized, false);
  });
}
