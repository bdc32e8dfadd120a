// node-pg against ringgate with a policy bundle (test_clients_node.py): a denied statement
// is an error with the rule's SQLSTATE in every mode node-pg uses (simple query, parameterized
// = extended protocol with the unnamed statement, named prepared statements), inside a
// transaction it fails the transaction as PostgreSQL does (25P02, COMMIT rolls back), and
// the connection stays in sync: the next statements on it work. Connection parameters come
// from the PG* environment. Prints "ok - ..." per check; exits 1 on the first failure.
'use strict';
const { Client } = require('pg');

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok - ' + what);
}

async function denied(c, q, what) {
  try {
    await c.query(q);
  } catch (e) {
    check(e.code === '42501' && /baseline\.no-(drop|truncate|sleep)/.test(e.message),
      what + ': denied with 42501 naming the rule (' + e.code + ')');
    return;
  }
  throw new Error('check failed: ' + what + ' was not denied');
}

async function main() {
  const c = new Client();
  await c.connect();
  await c.query('CREATE TABLE IF NOT EXISTS node_t (id int)');
  await c.query('DELETE FROM node_t WHERE true');
  await denied(c, 'DROP TABLE node_t', 'simple query');
  await denied(c, { text: 'TRUNCATE node_t' }, 'simple query object');
  await denied(c, { text: 'SELECT pg_sleep($1)', values: [0] }, 'parameterized (extended)');
  await denied(c, { name: 'sleep-it', text: 'SELECT pg_sleep($1)', values: [0] }, 'named prepared');
  let r = await c.query({ text: 'SELECT $1::int + 1 AS v', values: [41] });
  check(r.rows[0].v === 42, 'the connection stays in sync after denials');
  r = await c.query({ name: 'ins', text: 'INSERT INTO node_t VALUES ($1)', values: [1] });
  check(r.rowCount === 1, 'an allowed named prepared statement runs');

  await c.query('BEGIN');
  await c.query({ name: 'ins', text: 'INSERT INTO node_t VALUES ($1)', values: [2] });
  await denied(c, { text: 'SELECT pg_sleep($1)', values: [0] }, 'inside a transaction (extended)');
  try {
    await c.query('SELECT 1');
    throw new Error('check failed: the transaction is not failed');
  } catch (e) {
    check(e.code === '25P02', 'then 25P02, as PostgreSQL (' + e.code + ')');
  }
  r = await c.query('COMMIT');
  check(r.command === 'ROLLBACK', 'COMMIT of the failed transaction rolls back (' + r.command + ')');
  r = await c.query('SELECT count(*)::int AS n FROM node_t');
  check(r.rows[0].n === 1, 'only the row outside the failed transaction is there');
  await c.end();
  console.log('node-pg policy: all checks passed');
}

main().catch((e) => { console.log(String(e && e.stack || e)); process.exit(1); });
