// Action and flow runs through the SDK: membrane.action(key).run(input), the connection and
// instance forms, flow runs (flowInstance().run(), connection(c).flow(f).run(), flowRuns.create,
// flowRun(id).get(), flowRuns.find) and a 429 surfacing as the SDK's error. Every run really goes
// over HTTP to an external app: a Node http server on 127.0.0.1 started here, which the
// integration's baseUri points at.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before } from 'node:test';
import { ActionRunError, BadRequestError } from '@membranehq/sdk';

import { admin, it, newIntegration, newTenant, rejectsWith, unique } from '../helpers.mjs';

/** upstream is the external app: it records each request and answers by path. */
const upstream = {
  server: null,
  url: '',
  requests: [],
  /** last returns the last request to path (below /api). */
  last(path) {
    const r = this.requests.findLast((x) => x.path === '/api' + path);
    assert.ok(r, `the upstream received no request to ${path} (got ${this.requests.map((x) => x.path).join(', ')})`);
    return r;
  },
  count(path) {
    return this.requests.filter((x) => x.path === '/api' + path).length;
  },
};

function startUpstream() {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const u = new URL(req.url, 'http://127.0.0.1');
        const seen = { method: req.method, path: decodeURIComponent(u.pathname), query: Object.fromEntries(u.searchParams), headers: req.headers, body };
        upstream.requests.push(seen);
        if (seen.path.endsWith('/fail')) {
          res.writeHead(422, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ error: 'owner is not valid' }));
          return;
        }
        let parsed = null;
        try { parsed = body ? JSON.parse(body) : null; } catch { parsed = body; }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({
          method: seen.method, path: seen.path, query: seen.query, authorization: req.headers.authorization ?? null, body: parsed,
          results: [{ id: 'd1', properties: { email: 'ada@x.test' } }, { id: 'd2', properties: { email: 'bob@x.test' } }],
        }));
      });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      upstream.server = server;
      upstream.url = `http://127.0.0.1:${server.address().port}`;
      resolve();
    });
  });
}

/** app creates an integration pointing at the upstream, its actions and flow, and a tenant connected to it. */
async function app({ credits } = {}) {
  const integ = await newIntegration({ baseUri: upstream.url + '/api', authType: 'bearer' });
  const ws = admin();
  const listKey = unique('list-deals');
  const list = await ws.actions.create({
    key: listKey, name: 'List deals', integrationKey: integ.key, type: 'http-request',
    config: { method: 'GET', path: `/${listKey}`, query: { owner: '{{input.owner}}', region: '{{fields.region}}' }, ...(credits ? { credits } : {}) },
  });
  const createKey = unique('create-contact');
  await ws.actions.create({
    key: createKey, name: 'Create contact', integrationKey: integ.key, type: 'http-request',
    config: { method: 'POST', path: `/${createKey}`, body: { email: '{{input.email}}', input: '{{input}}' } },
  });
  const failKey = unique('fail');
  await ws.actions.create({ key: failKey, name: 'Fail', integrationKey: integ.key, type: 'http-request', config: { method: 'GET', path: `/${failKey}/fail` } });
  const flowKey = unique('sync-deals');
  await ws.flows.create({
    key: flowKey, name: 'Sync deals', integrationKey: integ.key,
    config: { steps: [
      { key: 'list', action: listKey, input: { owner: '{{input.owner}}' } },
      { key: 'create', action: createKey, input: { email: '{{steps.list.output.results.0.properties.email}}' } },
    ] },
  });
  const tenant = await newTenant('runs');
  await admin().customer(tenant.id).patch({ fields: { region: 'emea' } });
  const token = unique('tok');
  const conn = await tenant.sdk.connections.create({ integrationKey: integ.key, name: 'CRM', credentials: { accessToken: token } });
  return { integ, list, listKey, createKey, failKey, flowKey, tenant, sdk: tenant.sdk, conn, token };
}

async function waitRun(sdk, id, states = ['completed', 'failed', 'stopped']) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const run = await sdk.flowRun(id).get();
    if (states.includes(run.state)) return run;
    if (Date.now() > deadline) assert.fail(`flow run ${id} is still ${run.state}: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export default function () {
  before(startUpstream);
  after(() => new Promise((r) => (upstream.server ? upstream.server.close(r) : r())));

  it('action(key).run(input) runs through the tenant\'s connection and returns {output, actionRunId}', async () => {
    const a = await app();
    const res = await a.sdk.action(a.listKey).run({ owner: 'ada' });
    assert.equal(typeof res.actionRunId, 'string');
    assert.ok(res.actionRunId.length > 0, 'actionRunId is set');
    assert.equal(res.output.method, 'GET');
    assert.equal(res.output.path, `/api/${a.listKey}`);
    const got = upstream.last(`/${a.listKey}`);
    assert.deepEqual(got.query, { owner: 'ada', region: 'emea' }, 'the query is built from the input and the tenant\'s fields');
    assert.equal(got.headers.authorization, `Bearer ${a.token}`, 'bearer auth from the connection\'s credentials');

    // By id, and by {key, integrationKey} with the connection named.
    await a.sdk.action(a.list.id).run({ owner: 'by-id' });
    assert.equal(upstream.last(`/${a.listKey}`).query.owner, 'by-id');
    const res2 = await a.sdk.action({ key: a.listKey, integrationKey: a.integ.key }).run({ owner: 'by-sel' }, { connectionId: a.conn.id });
    assert.equal(res2.output.query.owner, 'by-sel');
    // A workspace token names the connection.
    const res3 = await admin().action(a.listKey).run({ owner: 'admin' }, { connectionId: a.conn.id });
    assert.equal(res3.output.query.owner, 'admin');
  });

  it('connection(c).action(key).run(input) sends the input itself; actionInstance(sel).run(input) too', async () => {
    const a = await app();
    const input = { email: 'x@y.test', tags: ['a', 'b'] };
    const res = await a.sdk.connection(a.conn.id).action(a.createKey).run(input);
    assert.equal(typeof res.actionRunId, 'string');
    const got = upstream.last(`/${a.createKey}`);
    assert.equal(got.method, 'POST');
    assert.deepEqual(JSON.parse(got.body), { email: 'x@y.test', input }, 'the raw input reaches the body template');
    assert.deepEqual(res.output.body, { email: 'x@y.test', input });

    const inst = await admin().actionInstance({ parentKey: a.createKey, connectionId: a.conn.id }).run({ email: 'inst@y.test' });
    assert.equal(inst.output.body.email, 'inst@y.test');
    // The connection-level element, by id.
    const el = await a.sdk.connection(a.conn.id).action(a.createKey).get({ autoCreate: true });
    const byId = await a.sdk.actionInstance(el.id).run({ email: 'el@y.test' });
    assert.equal(byId.output.body.email, 'el@y.test');
  });

  it('the tenant\'s customization applies to its runs', async () => {
    const a = await app();
    await a.sdk.connection(a.conn.id).action(a.listKey).patch({ config: { query: { status: 'open' } } });
    const res = await a.sdk.action(a.listKey).run({ owner: 'ada' });
    assert.deepEqual(res.output.query, { owner: 'ada', region: 'emea', status: 'open' });
  });

  it('an external app\'s error rejects with ActionRunError carrying its status and body', async () => {
    const a = await app();
    const err = await rejectsWith(a.sdk.action(a.failKey).run({}), { cls: ActionRunError, type: 'action_run', key: 'external_app_error' });
    assert.equal(err.data.data.status, 422);
    assert.deepEqual(JSON.parse(err.data.data.body), { error: 'owner is not valid' });
  });

  it('past the AI credit limit a run rejects with a 429 BadRequestError ai_credits_exceeded', async () => {
    const a = await app({ credits: 1 });
    await admin().customer(a.tenant.id).patch({ aiCreditsRolling30DayLimit: 2 });
    await a.sdk.action(a.listKey).run({ owner: '1' });
    await a.sdk.connection(a.conn.id).action(a.listKey).run({ owner: '2' });
    const before = upstream.count(`/${a.listKey}`);
    const err = await rejectsWith(a.sdk.action(a.listKey).run({ owner: '3' }), { cls: BadRequestError, key: 'ai_credits_exceeded' });
    assert.equal(err.data.data.limit, 2);
    assert.equal(err.data.data.used, 2);
    assert.equal(err.data.data.scope, 'tenant');
    assert.ok(!Number.isNaN(Date.parse(err.data.data.freeAt)), `freeAt is a time: ${err.data.data.freeAt}`);
    assert.equal(upstream.count(`/${a.listKey}`), before, 'the refused run made no request');
  });

  it('flowInstance({flowKey, connectionId, autoCreate}).run() resolves with the completed run', async () => {
    const a = await app();
    const run = await a.sdk.flowInstance({ flowKey: a.flowKey, connectionId: a.conn.id, autoCreate: true }).run({ input: { owner: 'ada' } });
    assert.equal(run.state, 'completed');
    assert.equal(run.connectionId, a.conn.id);
    assert.equal(run.userId, a.tenant.id);
    assert.equal(run.launchedBy.type, 'api-trigger');
    assert.deepEqual(run.steps.map((s) => [s.key, s.state]), [['list', 'completed'], ['create', 'completed']]);
    assert.equal(run.steps[0].output.query.owner, 'ada');
    assert.equal(run.steps[1].output.body.email, 'ada@x.test', 'the second step is fed by the first\'s output');
    assert.equal(run.nodes.create.state, 'completed');
    assert.deepEqual(await a.sdk.flowRun(run.id).getOutput(), run.steps[1].output);
  });

  it('connection(c).flow(f).run(), flowRuns.create() and flowRun(id).get() until completed; flowRuns.find()', async () => {
    const a = await app();
    const started = await a.sdk.connection(a.conn.id).flow(a.flowKey).run({ input: { owner: 'bob' } });
    assert.equal(typeof started.id, 'string');
    assert.ok(['queued', 'running'].includes(started.state), `a new run is ${started.state}`);
    assert.equal(typeof started.connectionFlowId, 'string');
    const done = await waitRun(a.sdk, started.id);
    assert.equal(done.state, 'completed', JSON.stringify(done.errors));
    assert.equal(done.steps[0].output.query.owner, 'bob');

    const inst = await a.sdk.connection(a.conn.id).flow(a.flowKey).get({ autoCreate: true });
    const created = await a.sdk.flowRuns.create({ flowInstanceId: inst.id, input: { owner: 'cy' } });
    assert.equal(created.connectionFlowId, inst.id);
    const done2 = await waitRun(a.sdk, created.id);
    assert.equal(done2.state, 'completed');
    // repeat() posts the run's connectionFlowId, startNodeKey and input again.
    const again = await a.sdk.flowRun(done2.id).repeat();
    assert.equal((await waitRun(a.sdk, again.id)).steps[0].output.query.owner, 'cy');

    const found = await a.sdk.flowRuns.find({ connectionId: a.conn.id, state: 'completed' });
    assert.deepEqual(found.items.map((r) => r.id), [again.id, created.id, started.id], 'newest first');
    assert.ok(!found.cursor, 'one page');
    const byFlow = await a.sdk.flowRuns.find({ flowId: inst.id, limit: 1 });
    assert.equal(byFlow.items.length, 1);
    assert.ok(byFlow.cursor, 'a cursor to the next page');

    // Another tenant cannot read the run.
    const other = await newTenant('runs-other');
    await rejectsWith(other.sdk.flowRun(started.id).get(), { key: 'not_found' });
    assert.deepEqual((await other.sdk.flowRuns.find({})).items, []);
  });

  it('a failing step fails the run; flowInstance().run() rejects with its error', async () => {
    const a = await app();
    const ws = admin();
    const failFlow = unique('failing');
    await ws.flows.create({ key: failFlow, name: 'Failing', integrationKey: a.integ.key, config: { steps: [{ key: 'boom', action: a.failKey }] } });
    await assert.rejects(a.sdk.flowInstance({ flowKey: failFlow, connectionId: a.conn.id, autoCreate: true }).run(), /failed: step boom/);
    const [run] = (await a.sdk.flowRuns.find({ connectionId: a.conn.id, state: 'failed' })).items;
    assert.equal(run.errors[0].key, 'external_app_error');
    assert.equal(run.nodes.boom.state, 'failed');
  });
}
