// MariaDB Connector/J client driven by test_mysql_jdbc.py, through ringgate's TLS mysql
// listener: token login (AuthSwitchRequest to mysql_clear_password inside TLS), server-side
// prepared statements (useServerPrepStmts: COM_STMT_PREPARE / EXECUTE in the binary
// protocol) over typed values and NULLs, a BLOB, batches sent
// pipelined (useBatchMultiSend), a transaction rolled back and one committed, and
// multi-statements with several result sets (allowMultiQueries). Connects to MY_HOST /
// MY_PORT as MY_USER (the target's name) with MY_TOKEN, trusting MY_CA. Prints "ok - ..."
// per check; exits 1 on the first failure with the reason.
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.Arrays;
import java.util.Properties;

public class MyJdbcClient {
	static void check(boolean cond, String what) {
		if (!cond)
			throw new AssertionError("check failed: " + what);
		System.out.println("ok - " + what);
	}

	static Connection connect(String extra) throws SQLException {
		String url = "jdbc:mariadb://" + System.getenv("MY_HOST") + ":" + System.getenv("MY_PORT")
			+ "/" + System.getenv("MY_DB") + "?" + extra;
		Properties p = new Properties();
		p.setProperty("user", System.getenv("MY_USER"));
		p.setProperty("password", System.getenv("MY_TOKEN"));
		p.setProperty("useSsl", "true");
		p.setProperty("serverSslCert", System.getenv("MY_CA"));
		p.setProperty("useServerPrepStmts", "true");
		p.setProperty("connectTimeout", "10000");
		p.setProperty("socketTimeout", "120000");
		return DriverManager.getConnection(url, p);
	}

	public static void main(String[] args) throws Exception {
		try (Connection c = connect("allowMultiQueries=true")) {
			try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT 1 + 1")) {
				check(r.next() && r.getInt(1) == 2, "Connector/J logged in over TLS: SELECT");
			}
			try (Statement s = c.createStatement()) {
				s.execute("DROP TABLE IF EXISTS jt");
				s.execute("CREATE TABLE jt (id INT PRIMARY KEY, name VARCHAR(40), b MEDIUMBLOB, d DOUBLE)");
			}
			try (PreparedStatement ps = c.prepareStatement("SELECT ? + 1, CONCAT(?, 'x'), ?")) {
				for (int i = 0; i < 50; i++) {
					ps.setLong(1, i);
					ps.setString(2, "v" + i);
					ps.setNull(3, Types.VARCHAR);
					try (ResultSet r = ps.executeQuery()) {
						if (!r.next() || r.getLong(1) != i + 1 || !r.getString(2).equals("v" + i + "x")
							|| r.getString(3) != null)
							check(false, "prepared execute " + i);
					}
				}
				check(true, "one server-side prepared statement executed 50 times (binary rows, NULL)");
			}
			byte[] blob = new byte[300000];
			for (int i = 0; i < blob.length; i++)
				blob[i] = (byte) (i * 31);
			try (PreparedStatement ps = c.prepareStatement("INSERT INTO jt VALUES (?, ?, ?, ?)")) {
				for (int i = 0; i < 200; i++) {
					ps.setInt(1, i);
					ps.setString(2, "row-" + i);
					ps.setBytes(3, i == 7 ? blob : null);
					ps.setDouble(4, i / 4.0);
					ps.addBatch();
				}
				int[] n = ps.executeBatch();
				check(n.length == 200, "a batch of 200 prepared inserts (pipelined)");
			}
			try (PreparedStatement ps = c.prepareStatement("SELECT b, d, name FROM jt WHERE id = ?")) {
				ps.setInt(1, 7);
				try (ResultSet r = ps.executeQuery()) {
					check(r.next() && Arrays.equals(r.getBytes(1), blob) && r.getDouble(2) == 1.75
						&& r.getString(3).equals("row-7"), "a 300 kB BLOB round trip in the binary protocol");
				}
			}
			c.setAutoCommit(false);
			try (Statement s = c.createStatement()) {
				s.executeUpdate("DELETE FROM jt WHERE id < 100");
				c.rollback();
				try (ResultSet r = s.executeQuery("SELECT COUNT(*) FROM jt")) {
					check(r.next() && r.getInt(1) == 200, "rollback kept the rows");
				}
				s.executeUpdate("DELETE FROM jt WHERE id >= 150");
				c.commit();
				try (ResultSet r = s.executeQuery("SELECT COUNT(*) FROM jt")) {
					check(r.next() && r.getInt(1) == 150, "commit removed 50 rows");
				}
			}
			c.setAutoCommit(true);
			try (Statement s = c.createStatement()) {
				boolean rs = s.execute("SELECT 'a'; SELECT 'b', 'c'; UPDATE jt SET d = 0 WHERE id = 1; SELECT 'd'");
				int sets = 0, updates = 0;
				while (true) {
					if (rs) {
						try (ResultSet r = s.getResultSet()) {
							while (r.next())
								;
						}
						sets++;
					} else if (s.getUpdateCount() != -1) {
						updates++;
					} else {
						break;
					}
					rs = s.getMoreResults();
				}
				check(sets == 3 && updates == 1, "multi-statements: 3 result sets and 1 update count");
			}
			try (PreparedStatement ps = c.prepareStatement("SELECT REPEAT(?, ?)")) {
				ps.setString(1, "z");
				ps.setInt(2, 5 * 1024 * 1024);
				try (ResultSet r = ps.executeQuery()) {
					check(r.next() && r.getString(1).length() == 5 * 1024 * 1024,
						"a 5 MiB value in a binary row");
				}
			}
		}
		System.out.println("mysql jdbc: all checks passed");
	}
}
