// Membrane's JavaScript SDK (@membranehq/sdk from npm, unchanged) against the real Tenantry server
// on a real PostgreSQL. Run with `make test-sdk` (or `npm ci && node --test` in this folder).
//
// One process on purpose: the server is built, its database created and the server started once
// (harness.mjs), and every suite under suites/ runs against it. node --test runs each *.test.mjs
// in a process of its own, so the suites are plain modules imported here, not *.test.mjs files.

import { after, before, describe } from 'node:test';

import { start, stop } from './harness.mjs';
import actions from './suites/actions.mjs';
import connections from './suites/connections.mjs';
import customers from './suites/customers.mjs';
import errors from './suites/errors.mjs';
import instances from './suites/instances.mjs';
import integrations from './suites/integrations.mjs';
import runs from './suites/runs.mjs';
import self from './suites/self.mjs';
import workspaces from './suites/workspaces.mjs';

describe('@membranehq/sdk against tenantry', () => {
  before(start, { timeout: 240_000 });
  after(stop, { timeout: 60_000 });

  describe('tokens and self', self);
  describe('customers', customers);
  describe('errors', errors);
  describe('workspace isolation', workspaces);
  describe('integrations', integrations);
  describe('connections', connections);
  describe('actions', actions);
  describe('connection-level elements (instances)', instances);
  describe('action and flow runs', runs);
});
