// PostgreSQL JDBC against ringgate with a policy bundle (test_clients_jdbc.py): with
// prepareThreshold=1 and binary transfer, a denied statement is an SQLException with the
// rule's SQLSTATE whether it runs as a plain statement, a prepared statement or inside a
// batch; inside a transaction it fails the transaction as PostgreSQL does (25P02, commit
// rolls back), and the connection stays usable. Same environment as JdbcClient. Prints
// "ok - ..." per check; exits 1 on the first failure.
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class JdbcDeny {
	static void check(boolean cond, String what) {
		if (!cond)
			throw new AssertionError("check failed: " + what);
		System.out.println("ok - " + what);
	}

	static String state(SQLException e) {
		return e.getSQLState() == null ? "-" : e.getSQLState();
	}

	public static void main(String[] args) throws Exception {
		try (Connection c = JdbcClient.connect()) {
			try (Statement s = c.createStatement()) {
				s.execute("CREATE TABLE IF NOT EXISTS jd(id int)");
				s.execute("DELETE FROM jd WHERE true");
				try {
					s.execute("DROP TABLE jd");
					check(false, "DROP denied");
				} catch (SQLException e) {
					check(state(e).equals("42501") && e.getMessage().contains("baseline.no-drop"),
						"plain statement: denied with 42501 naming the rule (" + state(e) + ")");
				}
			}
			for (int i = 0; i < 3; i++) {
				try (PreparedStatement p = c.prepareStatement("SELECT pg_sleep(?)")) {
					p.setInt(1, 0);
					p.executeQuery();
					check(false, "prepared pg_sleep denied");
				} catch (SQLException e) {
					check(state(e).equals("42501"), "prepared statement #" + i + ": denied (" + state(e) + ")");
				}
			}
			try (PreparedStatement p = c.prepareStatement("INSERT INTO jd VALUES (?)")) {
				for (int i = 0; i < 5; i++) {
					p.setInt(1, i);
					p.executeUpdate();
				}
			}
			try (ResultSet r = c.createStatement().executeQuery("SELECT count(*) FROM jd")) {
				r.next();
				check(r.getInt(1) == 5, "allowed prepared statements keep working (prepareThreshold=1)");
			}
			try (Statement s = c.createStatement()) {
				s.addBatch("INSERT INTO jd VALUES (100)");
				s.addBatch("TRUNCATE jd");
				s.addBatch("INSERT INTO jd VALUES (101)");
				s.executeBatch();
				check(false, "a batch with a denied statement fails");
			} catch (BatchUpdateException e) {
				SQLException n = e.getNextException();
				String st = n != null ? state(n) : state(e);
				check(st.equals("42501") || state(e).equals("42501"),
					"batch with a denied statement: BatchUpdateException, 42501 (" + st + ")");
			}
			c.setAutoCommit(false);
			try (Statement s = c.createStatement()) {
				s.execute("INSERT INTO jd VALUES (200)");
				try {
					s.execute("DROP TABLE jd");
					check(false, "DROP denied in a transaction");
				} catch (SQLException e) {
					check(state(e).equals("42501"), "inside a transaction: denied");
				}
				try {
					s.execute("SELECT 1");
					check(false, "the transaction is failed");
				} catch (SQLException e) {
					check(state(e).equals("25P02"), "then 25P02 as PostgreSQL (" + state(e) + ")");
				}
			}
			c.rollback();
			c.setAutoCommit(true);
			try (ResultSet r = c.createStatement().executeQuery("SELECT count(*) FROM jd WHERE id >= 100")) {
				r.next();
				check(r.getInt(1) <= 1, "nothing of the failed transaction is kept");
			}
		}
		System.out.println("jdbc policy: all checks passed");
	}
}
