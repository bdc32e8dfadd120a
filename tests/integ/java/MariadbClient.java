// MariaDB Connector/J client driven by the MySQL integration tests (test_mysql_clients.py):
// logs in to ringgate with the agent's token as the password (mysql_clear_password, inside
// TLS when MYSQL_SSL_CA names the CA's PEM file), then server-side prepared statements
// (useServerPrepStmts: COM_STMT_PREPARE and binary-protocol executes with typed values and
// NULL, reused), a batch, a streaming result (fetch size), an error that leaves the
// connection usable, and, with RG_EXPECT_DENY, a statement the policy denies. Connection
// parameters from MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, MYSQL_DATABASE.
// Prints "ok - ..." per check; exits 1 on the first failure with the reason.
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.Properties;

public class MariadbClient {
	static void check(boolean cond, String what) {
		if (!cond)
			throw new AssertionError("check failed: " + what);
		System.out.println("ok - " + what);
	}

	static Connection connect() throws SQLException {
		String db = System.getenv("MYSQL_DATABASE");
		String url = "jdbc:mariadb://" + System.getenv().getOrDefault("MYSQL_HOST", "127.0.0.1") + ":"
			+ System.getenv("MYSQL_PORT") + "/" + (db == null ? "" : db);
		Properties p = new Properties();
		p.setProperty("user", System.getenv("MYSQL_USER"));
		p.setProperty("password", System.getenv("MYSQL_PASSWORD"));
		p.setProperty("useServerPrepStmts", "true");
		p.setProperty("connectTimeout", "10000");
		p.setProperty("socketTimeout", "120000");
		String ca = System.getenv("MYSQL_SSL_CA");
		if (ca != null && !ca.isEmpty()) {
			p.setProperty("useSsl", "true");
			p.setProperty("serverSslCert", ca);
		}
		return DriverManager.getConnection(url, p);
	}

	public static void main(String[] args) throws Exception {
		try (Connection c = connect(); Statement st = c.createStatement()) {
			st.execute("DROP TABLE IF EXISTS jdbc_t");
			st.execute("CREATE TABLE jdbc_t (id INT PRIMARY KEY, v VARCHAR(64), n DECIMAL(10,2), "
				   + "t DATETIME(6) NULL)");
			Timestamp ts = Timestamp.valueOf("2026-12-02 10:11:12.123456");
			try (PreparedStatement ins = c.prepareStatement("INSERT INTO jdbc_t VALUES (?, ?, ?, ?)")) {
				for (int i = 1; i <= 50; i++) {
					ins.setInt(1, i);
					ins.setString(2, "row " + i + " é");
					ins.setBigDecimal(3, new BigDecimal(i + ".25"));
					if (i % 2 == 0)
						ins.setTimestamp(4, ts);
					else
						ins.setNull(4, java.sql.Types.TIMESTAMP);
					ins.executeUpdate();
				}
			}
			try (PreparedStatement q = c.prepareStatement("SELECT v, n, t FROM jdbc_t WHERE id = ?")) {
				q.setInt(1, 10);
				try (ResultSet rs = q.executeQuery()) {
					check(rs.next() && rs.getString(1).equals("row 10 é")
						      && rs.getBigDecimal(2).compareTo(new BigDecimal("10.25")) == 0
						      && rs.getTimestamp(3).equals(ts),
					      "server-side prepared INSERT x50 and SELECT: varchar, decimal, datetime(6)");
				}
				q.setInt(1, 11);
				try (ResultSet rs = q.executeQuery()) {
					check(rs.next() && rs.getTimestamp(3) == null, "NULL through the binary protocol");
				}
			}
			try (PreparedStatement up = c.prepareStatement("UPDATE jdbc_t SET v = ? WHERE id = ?")) {
				for (int i = 1; i <= 10; i++) {
					up.setString(1, "batched " + i);
					up.setInt(2, i);
					up.addBatch();
				}
				int[] counts = up.executeBatch();
				check(counts.length == 10, "a batch of 10 prepared updates");
			}
			try (Statement s2 = c.createStatement()) {
				s2.setFetchSize(7);
				int n = 0;
				try (ResultSet rs = s2.executeQuery("SELECT id FROM jdbc_t ORDER BY id")) {
					while (rs.next())
						n++;
				}
				check(n == 50, "a result read with a fetch size");
			}
			try {
				st.executeQuery("SELECT * FROM no_such_table_jdbc");
				check(false, "an error was expected");
			} catch (SQLException e) {
				check(e.getErrorCode() == 1146, "a server error (1146) reaches the client");
			}
			try (ResultSet rs = st.executeQuery("SELECT 5")) {
				check(rs.next() && rs.getInt(1) == 5, "the connection is usable after the error");
			}
			String deny = System.getenv("RG_EXPECT_DENY");
			if (deny != null && !deny.isEmpty()) {
				try {
					st.execute(deny);
					check(false, "a denial was expected for: " + deny);
				} catch (SQLException e) {
					check(e.getErrorCode() >= 1142 && e.getErrorCode() <= 1143,
					      "a denied statement fails with the gateway's error: " + e.getErrorCode() + " "
						      + e.getMessage());
				}
				try (ResultSet rs = st.executeQuery("SELECT 6")) {
					check(rs.next() && rs.getInt(1) == 6, "the connection is usable after the denial");
				}
			}
			st.execute("DROP TABLE jdbc_t");
		} catch (Throwable t) {
			System.out.println("not ok - " + t);
			t.printStackTrace();
			System.exit(1);
		}
	}
}
