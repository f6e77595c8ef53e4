// membrane.actions and membrane.action(selector): workspace actions (templates). The workspace
// token defines them; tenant tokens read them and cannot change them.

import assert from 'node:assert/strict';

import { admin, ids, it, newAction, newIntegration, newTenant, raw, rejectsWith, unique, workspace, workspaceToken } from '../helpers.mjs';

const TEMPLATE = { method: 'GET', path: '/deals', query: { limit: '100' } };

export default function () {
  it('actions.create() returns the action with its integration, type and config', async () => {
    const integ = await newIntegration();
    const key = unique('list-deals');
    const a = await admin().actions.create({ key, name: 'List deals', integrationKey: integ.key, type: 'http-request', config: TEMPLATE });
    assert.equal(typeof a.id, 'string');
    assert.ok(a.id.length > 0, 'id is set');
    assert.equal(a.key, key);
    assert.equal(a.name, 'List deals');
    assert.equal(a.integrationId, integ.id);
    assert.equal(a.type, 'http-request');
    assert.deepEqual(a.config, TEMPLATE);
    assert.ok(!a.isCustomized, 'a template is not customized');
    assert.ok(!a.archivedAt);
  });

  it('action(key).get(), action(id).get() and action({key, integrationKey}).get() return the template', async () => {
    const integ = await newIntegration();
    const other = await newIntegration();
    const a = await newAction(integ.key);

    for (const got of [
      await admin().action(a.key).get(),
      await admin().action(a.id).get(),
      await admin().action({ key: a.key, integrationKey: integ.key }).get(),
      await admin().action({ key: a.key, integrationId: integ.id }).get(),
    ]) {
      assert.equal(got.id, a.id);
      assert.equal(got.key, a.key);
      assert.equal(got.integrationId, integ.id);
      assert.equal(got.type, 'http-request');
      assert.deepEqual(got.config, TEMPLATE);
    }
    // The object selector names the integration: the wrong one finds nothing.
    await rejectsWith(admin().action({ key: a.key, integrationKey: other.key }).get(), { key: 'not_found' });
    await rejectsWith(admin().action(unique('missing')).get(), { key: 'not_found' });
  });

  it('actions.find({integrationKey}) lists exactly that integration\'s actions', async () => {
    const integ = await newIntegration();
    const other = await newIntegration();
    const a = await newAction(integ.key);
    const b = await newAction(integ.key, { config: { method: 'POST', path: '/contacts' } });
    const elsewhere = await newAction(other.key);

    const page = await admin().actions.find({ integrationKey: integ.key });
    assert.ok(Array.isArray(page.items), `find() returned ${JSON.stringify(page)}`);
    assert.deepEqual(ids(page.items), ids([a, b]));
    assert.ok(!page.cursor, 'one page: no cursor');
    const gotB = page.items.find((x) => x.id === b.id);
    assert.deepEqual(gotB.config, { method: 'POST', path: '/contacts' });
    assert.equal(gotB.integrationId, integ.id);

    assert.deepEqual(ids((await admin().actions.find({ integrationId: other.id })).items), [elsewhere.id]);
    const all = await admin().actions.findAll();
    for (const x of [a, b, elsewhere]) assert.ok(all.some((y) => y.id === x.id), `findAll() has ${x.key}`);
    assert.equal(new Set(all.map((x) => x.id)).size, all.length, 'no action twice');
  });

  it('integration(i).actions.list() and integration(i).action(key).get() show the integration\'s templates', async () => {
    const integ = await newIntegration();
    const other = await newIntegration();
    const a = await newAction(integ.key);
    const b = await newAction(integ.key);
    const elsewhere = await newAction(other.key);

    const listed = await admin().integration(integ.key).actions.list();
    assert.deepEqual(ids(listed.items), ids([a, b]));
    assert.deepEqual(ids((await admin().integration(other.id).actions.list()).items), [elsewhere.id]);
    const got = await admin().integration(integ.key).action(a.key).get();
    assert.equal(got.id, a.id);
    assert.deepEqual(got.config, TEMPLATE);
    await rejectsWith(admin().integration(other.key).action(a.key).get(), { key: 'not_found' });
  });

  it('actions.find({limit}) pages with a cursor until the last page', async () => {
    const integ = await newIntegration();
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await newAction(integ.key));
    const seen = [];
    let cursor;
    for (let page = 0; page < 5; page++) {
      const res = await admin().actions.find({ integrationKey: integ.key, limit: 2, cursor });
      assert.ok(res.items.length <= 2 && res.items.length > 0, `page ${page}: ${res.items.length} items`);
      seen.push(...res.items.map((x) => x.id));
      cursor = res.cursor;
      if (!cursor) break;
    }
    assert.ok(!cursor, 'the pages end');
    assert.deepEqual(seen.sort(), ids(made));
  });

  it('action(key).patch() changes the template; archive() takes it out of find()', async () => {
    const integ = await newIntegration();
    const a = await newAction(integ.key);
    const renamed = await admin().action(a.key).patch({ name: 'Renamed' });
    assert.equal(renamed.id, a.id);
    assert.equal(renamed.name, 'Renamed');
    assert.deepEqual(renamed.config, TEMPLATE, 'config kept');

    const moved = await admin().action(a.id).patch({ config: { path: '/v2/deals' } });
    assert.deepEqual(moved.config, { ...TEMPLATE, path: '/v2/deals' }, 'a config patch merges into the config');
    assert.equal(moved.name, 'Renamed');
    assert.deepEqual((await admin().action(a.key).get()).config, { ...TEMPLATE, path: '/v2/deals' });

    await admin().action(a.key).archive();
    assert.deepEqual((await admin().actions.find({ integrationKey: integ.key })).items, []);
    const withArchived = await admin().actions.find({ integrationKey: integ.key, includeArchived: true });
    assert.deepEqual(ids(withArchived.items), [a.id]);
    assert.ok(withArchived.items[0].archivedAt, 'archivedAt is set');
  });

  it('a config that does not fit the action type is refused with the path of the problem', async () => {
    const integ = await newIntegration();
    const key = unique('bad');
    const err = await rejectsWith(admin().actions.create({ key, name: 'Bad', integrationKey: integ.key, type: 'http-request',
      config: { method: 'FETCH', path: '/x' } }), { key: 'validation_error' });
    assert.ok(Array.isArray(err.data.fields) && err.data.fields.some((f) => f.path === 'config.method'),
      `fields: ${JSON.stringify(err.data.fields)}`);
    await rejectsWith(admin().action(key).get(), { key: 'not_found' });

    const r = await raw('POST', '/actions', workspaceToken(workspace()),
      { key, name: 'Bad', integrationKey: integ.key, type: 'http-request', config: { method: 'GET', path: '/x', typo: 1 } });
    assert.equal(r.status, 422, `an unknown config key: ${r.status} ${JSON.stringify(r.data)}`);
    assert.ok(r.data.fields?.some((f) => f.path.startsWith('config')), JSON.stringify(r.data));
  });

  it('a tenant token reads actions but cannot create, patch or archive them (access_denied)', async () => {
    const integ = await newIntegration();
    const a = await newAction(integ.key);
    const { sdk } = await newTenant('act-reader');

    assert.deepEqual(ids((await sdk.actions.find({ integrationKey: integ.key })).items), [a.id]);
    const got = await sdk.action(a.key).get();
    assert.equal(got.id, a.id);
    assert.deepEqual(got.config, TEMPLATE);
    assert.equal((await sdk.action({ key: a.key, integrationKey: integ.key }).get()).id, a.id);

    const key = unique('tenant-made');
    await rejectsWith(sdk.actions.create({ key, name: 'Nope', integrationKey: integ.key, type: 'http-request', config: TEMPLATE }),
      { key: 'access_denied' });
    await rejectsWith(admin().action(key).get(), { key: 'not_found' });
    await rejectsWith(sdk.action(a.key).patch({ name: 'Hijacked' }), { key: 'access_denied' });
    await rejectsWith(sdk.action(a.key).archive(), { key: 'access_denied' });
    const still = await admin().action(a.id).get();
    assert.equal(still.name, a.name);
    assert.ok(!still.archivedAt);
  });

  it("another workspace's actions are not visible", async () => {
    const integ = await newIntegration({}, 'sdk2');
    const a = await newAction(integ.key, {}, 'sdk2');
    await rejectsWith(admin('sdk1').action(a.id).get(), { key: 'not_found' });
    await rejectsWith(admin('sdk1').action(a.key).get(), { key: 'not_found' });
    assert.ok(!(await admin('sdk1').actions.findAll()).some((x) => x.id === a.id));
  });
}
