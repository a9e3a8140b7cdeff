package dev.fleetpki.store;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Fresh databases for tests: an SQLite file, or a new PostgreSQL database on the server at
 * 127.0.0.1:5432 (override with FLEETPKI_TEST_PG, e.g. jdbc:postgresql://host:5432/). The
 * PostgreSQL tests fail, never skip, when no server answers.
 */
final class TestDatabases {
    static final String PG = System.getenv().getOrDefault("FLEETPKI_TEST_PG", "jdbc:postgresql://127.0.0.1:5432/");
    static final String PG_USER = System.getenv().getOrDefault("FLEETPKI_TEST_PG_USER", "postgres");

    private TestDatabases() {}

    /** Returns the JDBC URL of a new empty database of the given kind. */
    static String create(String kind, Path dir) throws SQLException {
        if (kind.equals("sqlite")) {
            return "jdbc:sqlite:" + dir.resolve("store-" + System.nanoTime() + ".db");
        }
        String name = "fleetpki_test_" + Long.toHexString(System.nanoTime());
        try (Connection c = DriverManager.getConnection(PG + "postgres?user=" + PG_USER); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new SQLException("PostgreSQL at " + PG + " is needed for these tests (start it: pg_ctlcluster --skip-systemctl-redirect "
                    + "$(ls /etc/postgresql) main start): " + e.getMessage(), e);
        }
        return PG + name + "?user=" + PG_USER;
    }

    static void drop(String url) {
        if (!url.startsWith("jdbc:postgresql:")) {
            return;
        }
        String name = url.substring(PG.length(), url.indexOf('?'));
        try (Connection c = DriverManager.getConnection(PG + "postgres?user=" + PG_USER); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        } catch (SQLException ignored) {
            // a left-over test database is harmless
        }
    }
}
