// Two workspaces with a tenant of the same internalId: each sees only its own.

import assert from 'node:assert/strict';

import { admin, client, it, membraneToken, rejectsWith, tenantryToken, unique, workspace } from '../helpers.mjs';

export default function () {
  it('the same internalId in two workspaces is two tenants, each visible only in its own', async () => {
    const internalId = unique('shared');
    const one = await admin('sdk1').customers.create({ name: 'In One', internalId, fields: { ws: 1 } });
    const two = await admin('sdk2').customers.create({ name: 'In Two', internalId, fields: { ws: 2 } });
    assert.notEqual(one.id, two.id);

    assert.equal((await admin('sdk1').customer(internalId).get()).id, one.id);
    assert.equal((await admin('sdk2').customer(internalId).get()).id, two.id);
    assert.deepEqual((await admin('sdk1').customers.find({ search: internalId })).items.map((c) => c.id), [one.id]);
    assert.deepEqual((await admin('sdk2').customers.find({ search: internalId })).items.map((c) => c.id), [two.id]);
    assert.ok(!(await admin('sdk2').customers.findAll()).some((c) => c.id === one.id), "sdk2's findAll() has no sdk1 tenant");

    await rejectsWith(admin('sdk2').customer(one.id).get(), { key: 'not_found' });
    await rejectsWith(admin('sdk1').customer({ id: two.id }).get(), { key: 'not_found' });

    const self2 = await client(membraneToken({ id: internalId }, workspace('sdk2'))).self.get();
    assert.equal(self2.id, two.id);
    assert.equal(self2.workspaceKey, 'sdk2');
    assert.deepEqual(self2.fields, { ws: 2 });
    const self1 = await client(tenantryToken({ tenantKey: internalId }, workspace('sdk1'))).self.get();
    assert.equal(self1.id, one.id);
    assert.equal(self1.workspaceKey, 'sdk1');
  });

  it("a workspace's token does not reach another workspace's customers", async () => {
    const c = await admin('sdk2').customers.create({ name: 'Private', internalId: unique('private') });
    await rejectsWith(admin('sdk1').customer(c.id).patch({ name: 'Hijacked' }), { key: 'not_found' });
    await rejectsWith(admin('sdk1').customer(c.id).archive(), { key: 'not_found' });
    const still = await admin('sdk2').customer(c.id).get();
    assert.equal(still.name, 'Private');
    assert.ok(!still.archivedAt);
  });

  it("a token signed with one workspace's secret but naming the other is refused", async () => {
    const cross = membraneToken({ id: unique('cross') }, { key: 'sdk2', secret: workspace('sdk1').secret });
    await rejectsWith(client(cross).self.get(), { key: 'not_authenticated' });
  });
}
