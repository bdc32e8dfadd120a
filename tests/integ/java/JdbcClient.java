// PostgreSQL JDBC client driven by test_clients_jdbc.py: binary transfer with
// prepareThreshold=1 (server-side named statements from the first execute, reused many
// times) over typed values, batches (addBatch/executeBatch, a failing batch, then
// recovery), a fetch-size cursor (portal suspended and resumed), and result checks.
// Connects to PGHOST/PGPORT/PGDATABASE as PGUSER with PGPASSWORD. Prints "ok - ..." per
// check; exits 1 on the first failure with the reason.
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.Arrays;
import java.util.Properties;
import java.util.UUID;

public class JdbcClient {
	static void check(boolean cond, String what) {
		if (!cond)
			throw new AssertionError("check failed: " + what);
		System.out.println("ok - " + what);
	}

	static Connection connect() throws SQLException {
		String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/"
			+ System.getenv("PGDATABASE");
		Properties p = new Properties();
		p.setProperty("user", System.getenv("PGUSER"));
		p.setProperty("password", System.getenv("PGPASSWORD"));
		p.setProperty("sslmode", "disable");
		p.setProperty("binaryTransfer", "true");
		p.setProperty("prepareThreshold", "1");
		p.setProperty("connectTimeout", "10");
		p.setProperty("socketTimeout", "120");
		p.setProperty("ApplicationName", "rgtest-jdbc");
		return DriverManager.getConnection(url, p);
	}

	static String md5(byte[] b) throws Exception {
		StringBuilder sb = new StringBuilder();
		for (byte x : MessageDigest.getInstance("MD5").digest(b))
			sb.append(String.format("%02x", x));
		return sb.toString();
	}

	static void typedRepeated(Connection c) throws Exception {
		try (Statement s = c.createStatement()) {
			s.execute("CREATE TABLE jt(id int PRIMARY KEY, b bigint, f float8, n numeric(30,10), ts timestamp, "
				+ "by bytea, t text, u uuid)");
		}
		byte[] blob = new byte[100000];
		for (int i = 0; i < blob.length; i++)
			blob[i] = (byte) (i * 31 + 7);
		Timestamp ts = Timestamp.valueOf("2026-11-23 12:34:56.789");
		UUID uuid = UUID.fromString("3f2504e0-4f89-11d3-9a0c-0305e82c3301");
		try (PreparedStatement ins = c.prepareStatement("INSERT INTO jt VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
			for (int i = 1; i <= 200; i++) {
				ins.setInt(1, i);
				ins.setLong(2, 1L << 40 | i);
				ins.setDouble(3, i / 3.0);
				ins.setBigDecimal(4, new BigDecimal("12345678901234567890.0123456789").add(BigDecimal.valueOf(i)));
				ins.setTimestamp(5, ts);
				ins.setBytes(6, i == 1 ? blob : Arrays.copyOf(blob, i));
				ins.setString(7, "row " + i + " 'é' ✓");
				ins.setObject(8, uuid);
				int n = ins.executeUpdate();
				if (n != 1)
					throw new AssertionError("insert " + i + " update count " + n);
			}
		}
		check(true, "200 executes of one prepared INSERT");
		int seen = 0;
		try (PreparedStatement sel = c.prepareStatement("SELECT b, f, n, ts, by, t, u, md5(by) FROM jt WHERE id = ?")) {
			for (int i = 1; i <= 200; i++) {
				sel.setInt(1, i);
				try (ResultSet rs = sel.executeQuery()) {
					if (!rs.next())
						throw new AssertionError("no row " + i);
					byte[] by = rs.getBytes(5);
					boolean good = rs.getLong(1) == (1L << 40 | i) && rs.getDouble(2) == i / 3.0
						&& rs.getBigDecimal(3).compareTo(new BigDecimal("12345678901234567890.0123456789")
							.add(BigDecimal.valueOf(i))) == 0
						&& rs.getTimestamp(4).equals(ts) && Arrays.equals(by, i == 1 ? blob : Arrays.copyOf(blob, i))
						&& rs.getString(6).equals("row " + i + " 'é' ✓") && rs.getObject(7).equals(uuid)
						&& rs.getString(8).equals(md5(by));
					if (!good)
						throw new AssertionError("row " + i + " read back differs");
					seen++;
				}
			}
		}
		check(seen == 200, "binaryTransfer + prepareThreshold=1: 200 typed rows read back by one prepared SELECT");
		try (Statement s = c.createStatement();
		     ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_prepared_statements")) {
			rs.next();
			check(rs.getLong(1) >= 2, "server-side prepared statements in use (" + rs.getLong(1) + ")");
		}
	}

	static void batches(Connection c) throws Exception {
		try (Statement s = c.createStatement()) {
			s.execute("CREATE TABLE jb(id int PRIMARY KEY, v text)");
		}
		c.setAutoCommit(false);
		int total = 0;
		try (PreparedStatement ps = c.prepareStatement("INSERT INTO jb VALUES (?, ?)")) {
			for (int round = 0; round < 5; round++) {
				for (int i = 0; i < 1000; i++) {
					int id = round * 1000 + i;
					ps.setInt(1, id);
					ps.setString(2, "v" + id);
					ps.addBatch();
				}
				int[] counts = ps.executeBatch();
				for (int n : counts)
					total += n;
			}
		}
		c.commit();
		check(total == 5000, "5 batches of 1000 inserts, every update count 1 (" + total + ")");
		try (Statement s = c.createStatement()) {
			s.addBatch("UPDATE jb SET v = v || '!' WHERE id < 10");
			s.addBatch("DELETE FROM jb WHERE id >= 4990");
			s.addBatch("INSERT INTO jb VALUES (-1, 'neg')");
			int[] counts = s.executeBatch();
			c.commit();
			check(Arrays.equals(counts, new int[] { 10, 10, 1 }), "statement batch update counts " + Arrays.toString(counts));
		}
		boolean failed = false;
		try (PreparedStatement ps = c.prepareStatement("INSERT INTO jb VALUES (?, ?)")) {
			for (int id : new int[] { 9000, 9001, 5, 9002 }) {
				ps.setInt(1, id);
				ps.setString(2, "dup?");
				ps.addBatch();
			}
			ps.executeBatch();
		} catch (BatchUpdateException e) {
			failed = "23505".equals(e.getSQLState()) || (e.getNextException() != null
				&& "23505".equals(e.getNextException().getSQLState()));
		}
		c.rollback();
		check(failed, "batch with a duplicate key fails with 23505");
		try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*), sum(id) FROM jb")) {
			rs.next();
			long n = rs.getLong(1), sum = rs.getLong(2);
			long want = 0;
			for (int i = 0; i < 4990; i++)
				want += i;
			check(n == 4991 && sum == want - 1, "failed batch rolled back, table as expected (" + n + ", " + sum + ")");
		}
		c.commit();
		c.setAutoCommit(true);
	}

	static void cursorFetch(Connection c) throws Exception {
		c.setAutoCommit(false); // fetch size needs a transaction: Execute with a row limit
		long n = 0, sum = 0;
		MessageDigest md = MessageDigest.getInstance("MD5");
		try (PreparedStatement ps = c.prepareStatement(
			"SELECT g, md5(g::text) FROM generate_series(1, ?) g ORDER BY g")) {
			ps.setFetchSize(500);
			ps.setInt(1, 50000);
			try (ResultSet rs = ps.executeQuery()) {
				while (rs.next()) {
					n++;
					sum += rs.getInt(1);
					md.update(rs.getString(2).getBytes(StandardCharsets.US_ASCII));
				}
			}
		}
		String got = new java.math.BigInteger(1, md.digest()).toString(16);
		String want;
		try (Statement s = c.createStatement();
		     ResultSet rs = s.executeQuery("SELECT md5(string_agg(md5(g::text), '' ORDER BY g)) FROM generate_series(1, 50000) g")) {
			rs.next();
			want = rs.getString(1).replaceFirst("^0+", "");
		}
		c.commit();
		c.setAutoCommit(true);
		check(n == 50000 && sum == 50000L * 50001 / 2 && got.equals(want),
			"fetchSize 500 over 50000 rows (portal suspended/resumed), checksum matches the server's");
	}

	public static void main(String[] args) {
		try (Connection c = connect()) {
			check(c.getMetaData().getDatabaseProductName().equals("PostgreSQL"), "connected: "
				+ c.getMetaData().getDatabaseProductVersion());
			typedRepeated(c);
			batches(c);
			cursorFetch(c);
			try (Statement s = c.createStatement()) {
				try {
					s.executeQuery("SELECT 1/0");
					check(false, "division by zero raises");
				} catch (SQLException e) {
					check("22012".equals(e.getSQLState()), "error through the endpoint carries SQLSTATE 22012");
				}
				try (ResultSet rs = s.executeQuery("SELECT 'still here'")) {
					rs.next();
					check(rs.getString(1).equals("still here"), "connection usable after the error");
				}
			}
			System.out.println("jdbc: all checks passed");
		} catch (Throwable t) {
			System.out.println("not ok - " + t);
			t.printStackTrace(System.out);
			System.exit(1);
		}
	}
}
