// The harness for the SDK suite: the real server, built from this tree, on a real PostgreSQL.
//
//   start()  builds ./cmd/tenantry once, picks a database, creates the workspaces sdk1 and sdk2
//            with `tenantry workspace create --json`, starts `tenantry serve` on a free port and
//            waits for GET /readyz = 200.
//   stop()   SIGTERMs the server (which stops the embedded cluster it started) and drops the
//            run's database and temporary directory. Prints the server's output when a test
//            failed.
//
// Database: TEST_DATABASE_URL, else DATABASE_URL, names a PostgreSQL server; a fresh database is
// created on it for this run (with psql) and dropped at the end. Without either, or without psql,
// the server's embedded PostgreSQL runs in a fresh TENANTRY_DATA_DIR.
//
// Everything runs in the one `node --test` process (sdk.test.mjs), so the build and the database
// are paid for once.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/** @type {{apiUri: string, baseUrl: string, workspaces: Record<string, {key: string, secret: string}>, database: string} | null} */
let env = null;
let tmp = '';
let server = null; // the `tenantry serve` child process
let serverExit = null; // resolves when it exits
let serverLog = ''; // its stdout and stderr, interleaved
let dropDatabase = null; // () => void, for an external database
let failed = false;

/** markFailed records that a test failed, so stop() prints the server's output. */
export function markFailed() {
  failed = true;
}

/** current returns what start() set up. */
export function current() {
  if (!env) throw new Error('harness: start() has not run (or failed)');
  return env;
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
  return r.stdout;
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// externalDatabase creates a fresh database on the server TEST_DATABASE_URL / DATABASE_URL names
// and returns its URL, or null when neither is set or psql is missing.
function externalDatabase() {
  const given = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (!given) return null;
  if (!hasCommand('psql')) {
    process.stderr.write('sdk-tests: psql not found, so no fresh database can be created on ' +
      'TEST_DATABASE_URL/DATABASE_URL: using the embedded PostgreSQL instead\n');
    return null;
  }
  const name = `tenantry_sdk_${process.pid}_${Date.now().toString(36)}`;
  const psql = (sql) => sh('psql', [given, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } });
  psql(`CREATE DATABASE ${name}`);
  dropDatabase = () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  const u = new URL(given);
  u.pathname = '/' + name;
  return u.toString();
}

// childEnv is the environment of every tenantry command: the inherited one without any Tenantry
// or database setting, plus this run's.
function childEnv(databaseUrl) {
  const e = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('TENANTRY_') || k === 'DATABASE_URL' || k === 'TEST_DATABASE_URL') continue;
    e[k] = v;
  }
  e.TENANTRY_ENV = 'test';
  e.TENANTRY_DATA_DIR = join(tmp, 'data');
  e.TENANTRY_LOG_LEVEL = 'info';
  if (databaseUrl) e.DATABASE_URL = databaseUrl;
  return e;
}

async function waitReady(baseUrl) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`tenantry serve exited (${server.exitCode ?? server.signalCode}) before it was ready`);
    }
    try {
      const r = await fetch(baseUrl + '/readyz', { signal: AbortSignal.timeout(3000) });
      if (r.status === 200) return;
      last = `${r.status} ${await r.text()}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`GET ${baseUrl}/readyz did not answer 200 within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
}

export async function start() {
  tmp = mkdtempSync(join(tmpdir(), 'tenantry-sdk-'));
  // The embedded cluster runs as the `postgres` user when we are root: it must be able to enter.
  chmodSync(tmp, 0o755);

  const bin = join(tmp, 'tenantry');
  sh(process.env.GO || 'go', ['build', '-o', bin, './cmd/tenantry'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });

  const databaseUrl = externalDatabase();
  const cenv = childEnv(databaseUrl);

  // Sequentially: with the embedded database each command starts and stops the cluster itself.
  const workspaces = {};
  for (const key of ['sdk1', 'sdk2']) {
    const out = sh(bin, ['workspace', 'create', '--key', key, '--name', key.toUpperCase(), '--json'],
      { env: cenv, cwd: tmp });
    const ws = JSON.parse(out);
    if (ws.key !== key || typeof ws.secret !== 'string' || ws.secret === '') {
      throw new Error(`workspace create --json printed ${out}`);
    }
    workspaces[key] = ws;
  }

  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`], { env: cenv, cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  serverExit = new Promise((res) => server.once('exit', res));
  server.stdout.on('data', (b) => { serverLog += b; });
  server.stderr.on('data', (b) => { serverLog += b; });
  process.once('exit', () => { if (server && server.exitCode === null) server.kill('SIGTERM'); });
  try {
    await waitReady(baseUrl);
  } catch (err) {
    failed = true;
    throw err;
  }
  const database = databaseUrl
    ? `fresh database ${new URL(databaseUrl).pathname.slice(1)} on ${process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : 'DATABASE_URL'}`
    : `embedded PostgreSQL under ${cenv.TENANTRY_DATA_DIR}`;
  process.stdout.write(`sdk-tests: tenantry serve at ${baseUrl}, ${database}\n`);
  env = { apiUri: baseUrl + '/api', baseUrl, workspaces, database };
  return env;
}

export async function stop() {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    const t = setTimeout(() => server.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await serverExit;
    clearTimeout(t);
  }
  if (failed && serverLog) {
    process.stderr.write('\n----- tenantry serve output -----\n' + serverLog + '----- end of tenantry serve output -----\n');
  }
  try {
    dropDatabase?.();
  } catch (err) {
    process.stderr.write(`sdk-tests: dropping the test database: ${err.message}\n`);
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
