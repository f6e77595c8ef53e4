// membrane.integrations and membrane.integration(selector): the workspace defines them (workspace
// token); tenants read them.

import assert from 'node:assert/strict';

import { admin, ids, it, newIntegration, newTenant, raw, rejectsWith, unique, workspace, workspaceToken } from '../helpers.mjs';

export default function () {
  it('integrations.create() returns the integration; get() by key and by id return it', async () => {
    const key = unique('hub');
    const created = await admin().integrations.create({ key, name: 'Hub', logoUri: 'https://example.com/hub.png',
      baseUri: 'https://api.example.com/v1', authType: 'bearer' });
    assert.equal(typeof created.id, 'string');
    assert.ok(created.id.length > 0, 'id is set');
    assert.equal(created.key, key);
    assert.equal(created.name, 'Hub');
    assert.equal(created.logoUri, 'https://example.com/hub.png');
    assert.equal(created.baseUri, 'https://api.example.com/v1');
    assert.equal(created.authType, 'bearer');
    assert.ok(!created.archivedAt, 'not archived');

    const byKey = await admin().integration(key).get();
    assert.equal(byKey.id, created.id);
    assert.equal(byKey.key, key);
    assert.equal(byKey.name, 'Hub');
    const byId = await admin().integration(created.id).get();
    assert.equal(byId.id, created.id);
    assert.equal(byId.key, key);
    assert.equal(byId.name, 'Hub');
    assert.equal(byId.baseUri, 'https://api.example.com/v1');
    assert.equal(byId.authType, 'bearer');
  });

  it('integrations.find({search}) finds by key and name; findAll() returns every one once', async () => {
    const tag = unique('findint');
    const a = await newIntegration({ key: `${tag}-a`, name: `Alpha ${tag}` });
    const b = await newIntegration({ key: `${tag}-b`, name: 'Beta' });
    const other = await newIntegration();

    const found = await admin().integrations.find({ search: tag });
    assert.ok(Array.isArray(found.items), `find() returned ${JSON.stringify(found)}`);
    assert.deepEqual(ids(found.items), ids([a, b]));
    assert.ok(!found.cursor, 'one page: no cursor');
    assert.deepEqual((await admin().integrations.find({ search: `Alpha ${tag}` })).items.map((i) => i.id), [a.id]);

    const all = await admin().integrations.findAll();
    const allIds = all.map((i) => i.id);
    assert.equal(new Set(allIds).size, allIds.length, 'no integration twice');
    for (const i of [a, b, other]) assert.ok(allIds.includes(i.id), `findAll() has ${i.key}`);
  });

  it('integrations.find({limit}) pages with a cursor until the last page', async () => {
    const tag = unique('pageint');
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await newIntegration({ key: `${tag}-${i}`, name: `Page ${tag} ${i}` }));

    const seen = [];
    let cursor;
    for (let page = 0; page < 5; page++) {
      const res = await admin().integrations.find({ search: tag, limit: 2, cursor });
      assert.ok(res.items.length <= 2, `limit 2 gave ${res.items.length}`);
      seen.push(...res.items.map((i) => i.id));
      cursor = res.cursor;
      if (!cursor) break;
    }
    assert.ok(!cursor, 'the pages end');
    assert.equal(seen.length, 3, `three integrations over the pages: ${JSON.stringify(seen)}`);
    assert.deepEqual([...seen].sort(), ids(made));
  });

  it('integration(key).patch() changes what it sends and keeps the rest', async () => {
    const integ = await newIntegration({ name: 'Before', logoUri: 'https://example.com/a.png' });
    const patched = await admin().integration(integ.key).patch({ name: 'After' });
    assert.equal(patched.id, integ.id);
    assert.equal(patched.key, integ.key);
    assert.equal(patched.name, 'After');
    assert.equal(patched.logoUri, 'https://example.com/a.png', 'logoUri kept');

    const got = await admin().integration(integ.id).get();
    assert.equal(got.name, 'After');
    assert.equal(got.logoUri, 'https://example.com/a.png');

    const byObj = await admin().integration({ id: integ.id }).get();
    assert.equal(byObj.id, integ.id, 'integration({id}) addresses /integration?id=');
    assert.equal(byObj.name, 'After');
  });

  it('integration(id).archive() takes it out of find(); includeArchived shows it with archivedAt', async () => {
    const tag = unique('archint');
    const integ = await newIntegration({ key: tag });
    assert.equal(await admin().integration(integ.id).archive(), undefined, 'archive() resolves to nothing');

    assert.deepEqual((await admin().integrations.find({ search: tag })).items, [], 'archived: not listed by default');
    const withArchived = await admin().integrations.find({ search: tag, includeArchived: true });
    assert.deepEqual(withArchived.items.map((i) => i.id), [integ.id]);
    assert.ok(withArchived.items[0].archivedAt, 'archivedAt is set');
    assert.ok(!Number.isNaN(Date.parse(withArchived.items[0].archivedAt)), 'archivedAt is a date');
    assert.ok(!(await admin().integrations.findAll()).some((i) => i.id === integ.id), 'findAll() leaves it out');

    const restored = await admin().integration(integ.key).restore();
    assert.equal(restored.id, integ.id, `restore() returned ${JSON.stringify(restored)}`);
    assert.ok(!restored.archivedAt, 'archivedAt cleared');
    assert.deepEqual((await admin().integrations.find({ search: tag })).items.map((i) => i.id), [integ.id]);
  });

  it('a duplicate key is refused with already_exists (409)', async () => {
    const integ = await newIntegration();
    await rejectsWith(admin().integrations.create({ key: integ.key, name: 'Again' }), { key: 'already_exists' });
    const r = await raw('POST', '/integrations', workspaceToken(workspace()), { key: integ.key, name: 'Again' });
    assert.equal(r.status, 409, `POST /integrations with a taken key: ${r.status} ${JSON.stringify(r.data)}`);
  });

  it('a bad key is refused with a 4xx naming the field, never a 500', async () => {
    const r = await raw('POST', '/integrations', workspaceToken(workspace()), { key: 'has spaces!', name: 'Bad' });
    assert.ok(r.status >= 400 && r.status < 500, `POST /integrations with a bad key: ${r.status} ${JSON.stringify(r.data)}`);
    assert.equal(r.data.type, 'bad_request');
    assert.ok(Array.isArray(r.data.fields) && r.data.fields.some((f) => f.path === 'key'),
      `fields name key: ${JSON.stringify(r.data)}`);

    const err = await rejectsWith(admin().integrations.create({ key: unique('badauth'), name: 'Bad', authType: 'telepathy' }),
      { key: 'validation_error' });
    assert.ok(err.data.fields?.some((f) => f.path === 'authType'), `fields: ${JSON.stringify(err.data.fields)}`);
  });

  it('a tenant token reads integrations but cannot create, patch or archive them (access_denied)', async () => {
    const integ = await newIntegration({ name: 'Readable' });
    const { sdk } = await newTenant('intreader');

    assert.equal((await sdk.integration(integ.key).get()).id, integ.id);
    assert.equal((await sdk.integration(integ.id).get()).name, 'Readable');
    assert.deepEqual((await sdk.integrations.find({ search: integ.key })).items.map((i) => i.id), [integ.id]);

    const key = unique('tenant-made');
    await rejectsWith(sdk.integrations.create({ key, name: 'Nope' }), { key: 'access_denied' });
    await rejectsWith(admin().integration(key).get(), { key: 'not_found' });
    await rejectsWith(sdk.integration(integ.key).patch({ name: 'Hijacked' }), { key: 'access_denied' });
    await rejectsWith(sdk.integration(integ.key).archive(), { key: 'access_denied' });
    const still = await admin().integration(integ.id).get();
    assert.equal(still.name, 'Readable');
    assert.ok(!still.archivedAt);
  });

  it("integration('missing').get() is not_found; another workspace's integration is not_found", async () => {
    await rejectsWith(admin().integration(unique('missing')).get(), { key: 'not_found' });
    const theirs = await newIntegration({}, 'sdk2');
    await rejectsWith(admin('sdk1').integration(theirs.key).get(), { key: 'not_found' });
    await rejectsWith(admin('sdk1').integration(theirs.id).get(), { key: 'not_found' });
    assert.ok(!(await admin('sdk1').integrations.findAll()).some((i) => i.id === theirs.id));
  });
}
