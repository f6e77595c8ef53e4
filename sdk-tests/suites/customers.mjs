// membrane.customers and membrane.customer(selector) with a workspace token.

import assert from 'node:assert/strict';

import { admin, client, it, membraneToken, raw, rejectsWith, unique } from '../helpers.mjs';

export default function () {
  it('customers.create() returns the customer it created', async () => {
    const internalId = unique('new-co');
    const c = await admin().customers.create({ name: 'New Co', internalId, fields: { a: 1 }, aiCreditsRolling30DayLimit: 100 });
    assert.equal(typeof c.id, 'string');
    assert.ok(c.id.length > 0);
    assert.equal(c.name, 'New Co');
    assert.equal(c.internalId, internalId);
    assert.deepEqual(c.fields, { a: 1 });
    assert.equal(c.aiCreditsRolling30DayLimit, 100);
    assert.ok(!c.archivedAt, 'not archived');

    const got = await admin().customer(c.id).get();
    assert.deepEqual({ ...got, lastActiveAt: undefined }, { ...c, lastActiveAt: undefined });
  });

  it('customers.find({search}) finds by name and by internalId', async () => {
    const tag = unique('findme');
    const a = await admin().customers.create({ name: `Alpha ${tag}`, internalId: `${tag}-a` });
    const b = await admin().customers.create({ name: 'Beta', internalId: `${tag}-b` });
    await admin().customers.create({ name: 'Unrelated', internalId: unique('other') });

    const page = await admin().customers.find({ search: tag });
    assert.ok(Array.isArray(page.items), `find() returned ${JSON.stringify(page)}`);
    assert.deepEqual(page.items.map((c) => c.id).sort(), [a.id, b.id].sort());
    assert.ok(!page.cursor, 'one page: no cursor');

    const byName = await admin().customers.find({ search: `Alpha ${tag}` });
    assert.deepEqual(byName.items.map((c) => c.id), [a.id]);
  });

  it('customers.findAll() returns every customer (limit=1000&cursor=0, until no cursor)', async () => {
    const tag = unique('all');
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await admin().customers.create({ name: `All ${i}`, internalId: `${tag}-${i}` }));

    const mine = await admin().customers.findAll({ search: tag });
    assert.deepEqual(mine.map((c) => c.id).sort(), made.map((c) => c.id).sort());

    const everything = await admin().customers.findAll();
    const ids = everything.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, 'no customer twice');
    for (const c of made) assert.ok(ids.includes(c.id), `findAll() misses ${c.internalId}`);
  });

  it('customers.find({limit, cursor}) pages: a cursor while there is more, none on the last page', async () => {
    const tag = unique('page');
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await admin().customers.create({ name: `Page ${i}`, internalId: `${tag}-${i}` }));

    const first = await admin().customers.find({ search: tag, limit: 2 });
    assert.equal(first.items.length, 2);
    assert.equal(typeof first.cursor, 'string', `first page: ${JSON.stringify(first)}`);
    assert.ok(first.cursor.length > 0);

    const second = await admin().customers.find({ search: tag, limit: 2, cursor: first.cursor });
    assert.equal(second.items.length, 1);
    assert.ok(!second.cursor, `last page has no cursor: ${JSON.stringify(second.cursor)}`);

    const seen = [...first.items, ...second.items].map((c) => c.id);
    assert.deepEqual([...seen].sort(), made.map((c) => c.id).sort(), 'the pages cover all three, once each');

    // cursor=0 is the SDK's "from the start".
    const again = await admin().customers.find({ search: tag, limit: 2, cursor: '0' });
    assert.deepEqual(again.items.map((c) => c.id), first.items.map((c) => c.id));
  });

  it('customer(selector).get() by id, by internalId and by {id} (GET /customer?id=)', async () => {
    const internalId = unique('sel');
    const c = await admin().customers.create({ name: 'Selector Co', internalId });
    assert.equal((await admin().customer(c.id).get()).internalId, internalId);
    assert.equal((await admin().customer(internalId).get()).id, c.id);
    const byObject = await admin().customer({ id: c.id }).get();
    assert.equal(byObject.id, c.id);
    assert.equal(byObject.name, 'Selector Co');
  });

  it('customer(id).patch() changes what it names and merges fields', async () => {
    const internalId = unique('patch');
    const c = await admin().customers.create({ name: 'Before', internalId, fields: { a: 1 }, aiCreditsRolling30DayLimit: 5 });

    const renamed = await admin().customer(c.id).patch({ name: 'Renamed' });
    assert.equal(renamed.id, c.id);
    assert.equal(renamed.name, 'Renamed');
    assert.equal(renamed.internalId, internalId, 'internalId kept');
    assert.deepEqual(renamed.fields, { a: 1 }, 'fields kept');
    assert.equal(renamed.aiCreditsRolling30DayLimit, 5, 'limit kept');

    const merged = await admin().customer(c.id).patch({ fields: { b: 2 } });
    assert.deepEqual(merged.fields, { a: 1, b: 2 });
    assert.equal(merged.name, 'Renamed');
    assert.deepEqual((await admin().customer(internalId).get()).fields, { a: 1, b: 2 });
  });

  it('customer(id).put() replaces the customer', async () => {
    const c = await admin().customers.create({ name: 'Old', internalId: unique('put'), fields: { a: 1 } });
    const newInternalId = unique('customer');
    const put = await admin().customer(c.id).put({ name: 'Put', internalId: newInternalId });
    assert.equal(put.id, c.id);
    assert.equal(put.name, 'Put');
    assert.equal(put.internalId, newInternalId);
    assert.deepEqual(put.fields, {}, 'PUT replaces: fields it does not send are gone');
    const got = await admin().customer(newInternalId).get();
    assert.equal(got.id, c.id);
    assert.equal(got.name, 'Put');
  });

  it('customer(id).archive() and .restore(); an archived tenant\'s token is refused with 403', async () => {
    const internalId = unique('arch');
    const c = await admin().customers.create({ name: 'Archive Co', internalId });
    const tenantToken = membraneToken({ id: internalId });
    assert.equal((await client(tenantToken).self.get()).id, c.id, 'its token works before');

    assert.equal(await admin().customer(c.id).archive(), undefined, 'archive() resolves to nothing');

    const listed = await admin().customers.find({ search: internalId, includeArchived: true });
    assert.equal(listed.items.length, 1, `includeArchived: ${JSON.stringify(listed)}`);
    assert.equal(listed.items[0].id, c.id);
    assert.ok(listed.items[0].archivedAt, 'archivedAt is set');
    assert.ok(!Number.isNaN(Date.parse(listed.items[0].archivedAt)), 'archivedAt is a date');
    assert.equal(listed.items[0].isActive, false);
    const active = await admin().customers.find({ search: internalId });
    assert.deepEqual(active.items, [], 'archived customers are left out by default');

    await rejectsWith(client(tenantToken).self.get(), { key: 'access_denied' });
    const r = await raw('GET', '/self', tenantToken);
    assert.equal(r.status, 403, `GET /self for an archived tenant: ${r.status} ${JSON.stringify(r.data)}`);

    const restored = await admin().customer(c.id).restore(); // POST, empty x-www-form-urlencoded body
    assert.equal(restored.id, c.id, `restore() returned ${JSON.stringify(restored)}`);
    assert.ok(!restored.archivedAt, 'archivedAt cleared');
    assert.equal(restored.isActive, true);
    assert.equal((await client(tenantToken).self.get()).id, c.id, 'its token works again');
  });

  it('customer({id}) addresses patch, put, archive and restore through /customer?id=', async () => {
    const internalId = unique('objsel');
    const c = await admin().customers.create({ name: 'Obj', internalId, fields: { a: 1 } });
    const sel = admin().customer({ id: c.id });

    const patched = await sel.patch({ name: 'Obj Patched' });
    assert.equal(patched.id, c.id);
    assert.equal(patched.name, 'Obj Patched');
    assert.deepEqual(patched.fields, { a: 1 });

    const put = await sel.put({ name: 'Obj Put', internalId });
    assert.equal(put.id, c.id);
    assert.equal(put.name, 'Obj Put');

    await sel.archive();
    assert.ok((await sel.get()).archivedAt, 'archived');
    const restored = await sel.restore();
    assert.equal(restored.id, c.id);
    assert.ok(!restored.archivedAt, 'restored');
  });

  it('customers.find() filters on isTest, as the SDK encodes booleans (true/false)', async () => {
    const tag = unique('istest');
    const test = await admin().customers.create({ name: 'T', internalId: `${tag}-t`, isTest: true });
    const live = await admin().customers.create({ name: 'L', internalId: `${tag}-l` });
    assert.equal(test.isTest, true);
    assert.equal(live.isTest, false);
    assert.deepEqual((await admin().customers.find({ search: tag, isTest: true })).items.map((c) => c.id), [test.id]);
    assert.deepEqual((await admin().customers.find({ search: tag, isTest: false, limit: 10 })).items.map((c) => c.id), [live.id]);
  });
}
