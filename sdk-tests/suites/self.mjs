// Tenant tokens in every form the SDK meets, and membrane.self (GET and PATCH /self).

import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { MembraneClient } from '@membranehq/sdk';

import { current } from '../harness.mjs';
import { admin, client, it, membraneToken, tenantryToken, unique, workspace } from '../helpers.mjs';

function assertTenant(got, { internalId, name, fields, workspaceKey = 'sdk1' }) {
  assert.equal(typeof got, 'object', `self.get() returned ${JSON.stringify(got)}`);
  assert.equal(typeof got.id, 'string');
  assert.ok(got.id.length > 0, 'id is set');
  assert.equal(got.internalId, internalId);
  if (name !== undefined) assert.equal(got.name, name);
  if (fields !== undefined) assert.deepEqual(got.fields, fields);
  assert.equal(got.workspaceKey, workspaceKey);
  assert.ok(!('credentials' in got), 'no credentials without includeSecrets');
}

export default function () {
  it("Membrane's documented token ({id, name, fields}, iss, HS512) auto-creates the tenant", async () => {
    const id = unique('doc');
    const fields = { plan: 'pro', seats: 3 };
    const token = membraneToken({ id, name: 'Doc Co', fields });
    assert.equal(jwt.decode(token, { complete: true }).header.alg, 'HS512');
    const me = await client(token).self.get();
    assertTenant(me, { internalId: id, name: 'Doc Co', fields });

    // The workspace sees the same tenant, by its id and by its internalId.
    const byId = await admin().customer(me.id).get();
    assert.equal(byId.internalId, id);
    assert.equal(byId.name, 'Doc Co');
    assert.deepEqual(byId.fields, fields);
    assert.equal((await admin().customer(id).get()).id, me.id);

    // A later token's claims update the tenant; it is still the same one.
    const again = await client(membraneToken({ id, name: 'Doc Co Renamed', fields })).self.get();
    assert.equal(again.id, me.id);
    assert.equal(again.name, 'Doc Co Renamed');
  });

  it("Tenantry's token ({workspaceKey, tenantKey, name}, HS256) auto-creates the tenant", async () => {
    const tenantKey = unique('tt');
    const token = tenantryToken({ tenantKey, name: 'Tenantry Co' });
    assert.equal(jwt.decode(token, { complete: true }).header.alg, 'HS256');
    const me = await client(token).self.get();
    assertTenant(me, { internalId: tenantKey, name: 'Tenantry Co' });
    assert.equal((await client(token).self.get()).id, me.id, 'the same tenant on the next call');
  });

  it('the SDK mints its own token from {workspaceKey, workspaceSecret, tenantKey}', async () => {
    // Works under Node: the SDK signs with WebCrypto (globalThis.crypto.subtle, Node >= 19) and
    // refuses only when `window` exists. Its token is {id: tenantKey, iss: workspaceKey, exp}, HS256.
    const ws = workspace();
    const tenantKey = unique('minted');
    const sdk = new MembraneClient({ workspaceKey: ws.key, workspaceSecret: ws.secret, tenantKey, apiUri: current().apiUri });
    const me = await sdk.self.get();
    assertTenant(me, { internalId: tenantKey });
    const minted = jwt.verify(sdk.token, ws.secret, { algorithms: ['HS256'] });
    assert.equal(minted.id, tenantKey);
    assert.equal(minted.iss, ws.key);
    assert.equal((await sdk.self.get()).id, me.id);
  });

  it('self.patch({credentials}) stores them; get() shows credentialKeys, never the credentials', async () => {
    const id = unique('creds');
    const sdk = client(membraneToken({ id, name: 'Creds Co' }));
    const patched = await sdk.self.patch({ credentials: { apiKey: 'x' } });
    assert.equal(patched.internalId, id, `PATCH /self returned ${JSON.stringify(patched)}`);
    assert.ok(!('credentials' in patched), 'PATCH /self does not echo the credentials');

    const me = await sdk.self.get();
    assertTenant(me, { internalId: id, name: 'Creds Co' });
    assert.ok(Array.isArray(me.credentialKeys), `credentialKeys: ${JSON.stringify(me.credentialKeys)}`);
    assert.ok(me.credentialKeys.includes('apiKey'), `credentialKeys: ${JSON.stringify(me.credentialKeys)}`);

    const seen = await admin().customer(me.id).get();
    assert.ok(seen.credentialKeys.includes('apiKey'));
    assert.ok(!('credentials' in seen), 'the workspace does not see them either without includeSecrets');
  });

  it('fetchToken mode: the SDK asks for the token once and reuses it', async () => {
    const id = unique('fetched');
    let calls = 0;
    const sdk = new MembraneClient({
      apiUri: current().apiUri,
      fetchToken: async () => { calls++; return membraneToken({ id, name: 'Fetched Co' }); },
    });
    const me = await sdk.self.get();
    assertTenant(me, { internalId: id, name: 'Fetched Co' });
    assert.equal((await sdk.self.get()).id, me.id);
    assert.equal(calls, 1);
  });

  it('the credentials constructor option stores them (un-awaited PATCH /self)', async () => {
    const id = unique('ctor-creds');
    const sdk = new MembraneClient({ token: membraneToken({ id }), apiUri: current().apiUri, credentials: { accessToken: 'v' } });
    let me;
    for (let i = 0; i < 50; i++) {
      me = await sdk.self.get();
      if (me.credentialKeys?.includes('accessToken')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(me.credentialKeys, ['accessToken']);
    assert.ok(!('credentials' in me));
  });
}
