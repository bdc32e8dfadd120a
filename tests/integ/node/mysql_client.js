// mysql2 client driven by the MySQL integration tests (test_mysql_clients.py): logs in to
// ringgate with the agent's token as the password (mysql_clear_password, inside TLS), then
// text queries, server-side prepared statements (mysql2's execute(): COM_STMT_PREPARE and
// COM_STMT_EXECUTE with typed parameters, NULL and a 1 MiB value, reused), a multi-statement
// query with several result sets, an error that leaves the connection usable, and a
// 20000-row result. With RG_EXPECT_DENY set, a statement the policy denies must fail with
// the gateway's error (errno 1142 family) and the connection must stay usable.
// Connection parameters come from the environment: MYSQL_HOST, MYSQL_PORT, MYSQL_USER,
// MYSQL_PASSWORD (the token), MYSQL_DATABASE, MYSQL_SSL_CA (PEM file). Prints "ok - ..." per
// check; exits 1 on the first failure with the reason.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const mysql = require('mysql2/promise');

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok - ' + what);
}

async function connect() {
  const env = process.env;
  return mysql.createConnection({
    host: env.MYSQL_HOST || '127.0.0.1',
    port: Number(env.MYSQL_PORT),
    user: env.MYSQL_USER,
    password: env.MYSQL_PASSWORD,
    database: env.MYSQL_DATABASE || undefined,
    ssl: env.MYSQL_SSL_CA ? { ca: fs.readFileSync(env.MYSQL_SSL_CA) } : undefined,
    multipleStatements: true,
    // the token travels as a clear password: only inside TLS (ringgate asks for it)
    authPlugins: { mysql_clear_password: () => () => Buffer.from(env.MYSQL_PASSWORD + '\0') },
  });
}

async function main() {
  const c = await connect();
  let [rows] = await c.query('SELECT 1 + 1 AS two, ? AS s', ["it's \"quoted\" \\ é 😀"]);
  check(Number(rows[0].two) === 2 && rows[0].s === "it's \"quoted\" \\ é 😀",
    'text query, client-side escaped value with quotes, backslash and unicode');

  // (no DROP: the gateway's baseline denies it; the table is emptied instead)
  await c.query('CREATE TABLE IF NOT EXISTS m2_t (id INT PRIMARY KEY, v VARCHAR(64), b LONGBLOB NULL, d DOUBLE)');
  await c.query('DELETE FROM m2_t WHERE id > 0');
  const blob = crypto.randomBytes(1 << 20);
  for (let i = 1; i <= 20; i++)
    await c.execute('INSERT INTO m2_t VALUES (?, ?, ?, ?)', [i, 'row ' + i, i === 7 ? blob : null, i / 4]);
  [rows] = await c.execute('SELECT id, v, b, d FROM m2_t WHERE id = ?', [7]);
  check(rows.length === 1 && rows[0].v === 'row 7' && Buffer.compare(rows[0].b, blob) === 0 &&
    rows[0].d === 1.75, 'server-side prepared INSERT x20 and SELECT: int, varchar, 1 MiB blob, double');
  [rows] = await c.execute('SELECT COUNT(*) AS n, SUM(b IS NULL) AS nulls FROM m2_t');
  check(Number(rows[0].n) === 20 && Number(rows[0].nulls) === 19, 'NULL parameters stored as NULL');

  const [sets] = await c.query('SELECT 1 AS a; SELECT 2 AS b, 3 AS c; SELECT v FROM m2_t WHERE id = 3');
  check(sets.length === 3 && sets[0][0].a === 1 && sets[1][0].c === 3 && sets[2][0].v === 'row 3',
    'multi-statement query: three result sets');

  let err = null;
  try { await c.query('SELECT * FROM no_such_table_m2'); } catch (e) { err = e; }
  check(err && err.errno === 1146, 'a server error (1146) reaches the client');
  [rows] = await c.query('SELECT 5 AS five');
  check(rows[0].five === 5, 'the connection is usable after the error');

  [rows] = await c.query({ sql: 'SELECT seq, MD5(seq) AS h FROM seq_1_to_20000', rowsAsArray: true });
  const h = crypto.createHash('md5'), want = crypto.createHash('md5');
  for (const r of rows) h.update(r[0] + ':' + r[1] + ';');
  for (let i = 1; i <= 20000; i++) want.update(i + ':' + crypto.createHash('md5').update(String(i)).digest('hex') + ';');
  check(rows.length === 20000 && h.digest('hex') === want.digest('hex'), '20000-row result (MariaDB sequence engine)');

  if (process.env.RG_EXPECT_DENY) {
    err = null;
    try { await c.query(process.env.RG_EXPECT_DENY); } catch (e) { err = e; }
    check(err && err.errno >= 1142 && err.errno <= 1143 && /ringgate|rule/i.test(err.message),
      'a denied statement fails with the gateway\'s error: ' + (err ? err.errno + ' ' + err.message : 'none'));
    [rows] = await c.query('SELECT 6 AS six');
    check(rows[0].six === 6, 'the connection is usable after the denial');
  }
  await c.query('DELETE FROM m2_t WHERE id > 0');
  await c.end();
}

main().catch((e) => { console.error('not ok - ' + (e && e.stack || e)); process.exit(1); });
