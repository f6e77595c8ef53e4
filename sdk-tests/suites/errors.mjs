// Error bodies {type, key, message} become the SDK's error classes.

import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { BadRequestError, MembraneError } from '@membranehq/sdk';

import { admin, client, it, membraneToken, raw, rejectsWith, unique, workspace, workspaceToken } from '../helpers.mjs';

export default function () {
  it("customer('missing').get() rejects with BadRequestError not_found (404)", async () => {
    const err = await rejectsWith(admin().customer('missing').get(), { key: 'not_found' });
    assert.ok(err instanceof MembraneError);
    assert.equal(err.data.message, err.message, 'the body is copied into err.data');

    const r = await raw('GET', '/customers/missing', workspaceToken(workspace()));
    assert.equal(r.status, 404);
    assert.equal(r.data.type, 'bad_request');
    assert.equal(r.data.key, 'not_found');
  });

  it('an expired token rejects with not_authenticated (401)', async () => {
    const ws = workspace();
    const now = Math.floor(Date.now() / 1000);
    const expired = jwt.sign({ id: unique('expired'), iat: now - 7200, exp: now - 3600 }, ws.secret,
      { issuer: ws.key, algorithm: 'HS512' });
    await rejectsWith(client(expired).self.get(), { key: 'not_authenticated' });
    const r = await raw('GET', '/self', expired);
    assert.equal(r.status, 401);
  });

  it('a token signed with the wrong secret rejects with not_authenticated (401)', async () => {
    const ws = workspace();
    const forged = membraneToken({ id: unique('forged') }, { key: ws.key, secret: 'not-the-workspace-secret' });
    await rejectsWith(client(forged).self.get(), { key: 'not_authenticated' });
    const forgedAdmin = workspaceToken({ key: ws.key, secret: 'not-the-workspace-secret' });
    await rejectsWith(client(forgedAdmin).customers.find(), { key: 'not_authenticated' });
    const r = await raw('GET', '/customers', forgedAdmin);
    assert.equal(r.status, 401);
  });

  it('a token for an unknown workspace rejects with not_authenticated', async () => {
    const token = membraneToken({ id: 'someone' }, { key: 'no-such-workspace', secret: workspace().secret });
    await rejectsWith(client(token).self.get(), { key: 'not_authenticated' });
  });

  it("a tenant token cannot see another tenant: customer(otherId).get() is not_found", async () => {
    const other = await admin().customers.create({ name: 'Other Co', internalId: unique('other') });
    const me = client(membraneToken({ id: unique('me'), name: 'Me' }));
    await me.self.get();
    const err = await rejectsWith(me.customer(other.id).get(), { key: 'not_found' });
    assert.ok(err instanceof BadRequestError);
    await rejectsWith(me.customer(other.internalId).get(), { key: 'not_found' });
    await rejectsWith(me.customer({ id: other.id }).get(), { key: 'not_found' });
  });
}
