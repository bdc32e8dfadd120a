// node-pg client driven by test_clients_node.py: parameterized queries (typed, NULL, bytea,
// arrays, json, a 1 MiB parameter, 2000 parameters), named prepared statements reused many
// times on several connections, an error inside a prepared statement followed by recovery,
// a pool running queries concurrently, and a 20k-row result. Connection parameters come
// from the PG* environment (node-pg reads them). Prints "ok - ..." per check; exits 1 on
// the first failure with the reason.
'use strict';
const crypto = require('crypto');
const { Client, Pool } = require('pg');

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok - ' + what);
}

async function parameterized(c) {
  let r = await c.query('SELECT $1::int + $2::int AS s, $3::text AS t, $4::text IS NULL AS n',
    [40, 2, "it's \"quoted\" \\ é 😀", null]);
  check(r.rows[0].s === 42 && r.rows[0].t === "it's \"quoted\" \\ é 😀" && r.rows[0].n === true,
    'typed parameters, quotes, unicode and NULL');

  const buf = crypto.randomBytes(70000);
  r = await c.query('SELECT $1::bytea AS b, md5($1::bytea) AS h', [buf]);
  check(Buffer.compare(r.rows[0].b, buf) === 0 &&
    r.rows[0].h === crypto.createHash('md5').update(buf).digest('hex'), 'bytea parameter round trip');

  r = await c.query('SELECT $1::int[] AS a, $2::jsonb AS j', [[1, 2, 3], { k: ['v', 1] }]);
  check(JSON.stringify(r.rows[0].a) === '[1,2,3]' && r.rows[0].j.k[0] === 'v', 'array and json parameters');

  // An 8 MiB Bind: ringgate streams agent Bind messages >= 256 KiB instead of holding them.
  const huge = crypto.randomBytes(8 << 20);
  r = await c.query('SELECT md5($1::bytea) AS h, length($1::bytea) AS l', [huge]);
  check(r.rows[0].h === crypto.createHash('md5').update(huge).digest('hex') && r.rows[0].l === 8 << 20,
    '8 MiB bytea parameter (one Bind message), md5 agrees');

  const big = 'x'.repeat(1 << 20) + 'end';
  r = await c.query('SELECT length($1::text) AS l, right($1::text, 3) AS e', [big]);
  check(r.rows[0].l === (1 << 20) + 3 && r.rows[0].e === 'end', '1 MiB text parameter');

  const vals = Array.from({ length: 2000 }, (_, i) => i);
  const sql = 'SELECT ' + vals.map((_, i) => `$${i + 1}::int`).join(' + ') + ' AS s';
  r = await c.query(sql, vals);
  check(r.rows[0].s === 1999 * 2000 / 2, '2000 parameters in one query');

  r = await c.query({ text: 'SELECT g, md5(g::text) FROM generate_series(1, $1::int) g', values: [20000], rowMode: 'array' });
  const h = crypto.createHash('md5');
  for (const row of r.rows) h.update(row[0] + ':' + row[1] + ';');
  const want = crypto.createHash('md5');
  for (let i = 1; i <= 20000; i++) want.update(i + ':' + crypto.createHash('md5').update(String(i)).digest('hex') + ';');
  check(r.rows.length === 20000 && h.digest('hex') === want.digest('hex'), '20000-row result, array row mode');

  // SQL injection stays data when passed as a parameter.
  await c.query('CREATE TEMP TABLE inj(v text)');
  await c.query('INSERT INTO inj VALUES ($1)', ["x'); DROP TABLE inj; --"]);
  r = await c.query('SELECT v FROM inj');
  check(r.rows.length === 1 && r.rows[0].v === "x'); DROP TABLE inj; --", 'parameter value is data, not SQL');
}

async function prepared(clients) {
  const stmt = (id) => ({ name: 'get_row', text: 'SELECT $1::int * 2 AS d, md5($1::text) AS h', values: [id] });
  for (const c of clients) {
    for (let i = 0; i < 300; i++) {
      const r = await c.query(stmt(i));
      if (r.rows[0].d !== i * 2 || r.rows[0].h !== crypto.createHash('md5').update(String(i)).digest('hex'))
        throw new Error(`prepared statement wrong answer at ${i}: ${JSON.stringify(r.rows[0])}`);
    }
  }
  check(true, `named prepared statement executed 300 times on each of ${clients.length} connections`);
  const c = clients[0];
  let r = await c.query("SELECT name, parameter_types::text AS p FROM pg_prepared_statements WHERE name = 'get_row'");
  check(r.rows.length === 1 && r.rows[0].p === '{integer}', 'statement is prepared server-side once, by name');

  await c.query({ name: 'ins', text: 'CREATE TEMP TABLE IF NOT EXISTS p(id int PRIMARY KEY)' });
  const ins = (id) => ({ name: 'ins_p', text: 'INSERT INTO p VALUES ($1) RETURNING id', values: [id] });
  await c.query(ins(1));
  let err = null;
  try {
    await c.query(ins(1));
  } catch (e) {
    err = e;
  }
  check(err && err.code === '23505', `prepared statement error reported (${err && err.code})`);
  r = await c.query(ins(2));
  check(r.rows[0].id === 2, 'same prepared statement works after the error');
  err = null;
  try {
    await c.query({ name: 'bad_cast', text: 'SELECT $1::int AS v', values: ['not a number'] });
  } catch (e) {
    err = e;
  }
  check(err && err.code === '22P02', `bad parameter refused at bind (${err && err.code})`);
  r = await c.query(stmt(21));
  check(r.rows[0].d === 42, 'connection still usable after a bind error');

  // Transactions with prepared statements: rollback discards.
  await c.query('BEGIN');
  await c.query(ins(3));
  await c.query('ROLLBACK');
  r = await c.query('SELECT count(*)::int AS n FROM p');
  check(r.rows[0].n === 2, 'rolled back prepared insert discarded');
}

async function pooled() {
  const pool = new Pool({ max: 6 });
  const jobs = Array.from({ length: 60 }, (_, i) =>
    pool.query({ name: 'pool_q', text: 'SELECT $1::int AS i, pg_backend_pid() AS pid', values: [i] }));
  const res = await Promise.all(jobs);
  check(res.every((r, i) => r.rows[0].i === i), '60 concurrent queries over a pool of 6');
  await pool.end();
}

async function main() {
  const clients = [new Client(), new Client(), new Client()];
  for (const c of clients) await c.connect();
  try {
    await parameterized(clients[0]);
    await prepared(clients);
    await pooled();
  } finally {
    for (const c of clients) await c.end();
  }
}

main().then(() => { console.log('node-pg: all checks passed'); process.exit(0); },
  (e) => { console.log('not ok - ' + (e && e.stack || e)); process.exit(1); });
