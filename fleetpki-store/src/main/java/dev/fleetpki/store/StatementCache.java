package dev.fleetpki.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * SQLite keeps prepared statements, per connection (each pooled read connection, and the writer's),
 * instead of preparing the SQL again on every call: SQLite's driver has no statement cache of its
 * own, and preparing (parsing and planning) was about 40% of the cost of the read every enrollment
 * makes (earlier requests of the device), measured with a profiler on the enrollment benchmark;
 * the writer prepared its inserts again for every group.
 *
 * <p>Statements are prepared on the driver's own connection (the pool's wrapper would close them
 * when the connection goes back to the pool), each used only by the thread that holds that
 * connection, and at most {@link #PER_CONNECTION} per connection (the least recently used is
 * closed; a transaction uses a handful, and a statement closed while still in use fails loudly,
 * never silently). A read statement holds no snapshot between calls: closing its result set
 * resets it, which ends SQLite's read transaction, so the next call sees every commit made since
 * (tested). When the pool retires a connection, the driver finalizes its statements and the cache
 * forgets it; after a failed transaction the writer drops all of its own.
 * PostgreSQL's driver caches prepared statements itself, so this is not used there.
 */
final class StatementCache {
    static final int PER_CONNECTION = 32;

    private final ConcurrentHashMap<Connection, Map<String, PreparedStatement>> byConnection = new ConcurrentHashMap<>();

    /**
     * A prepared statement for {@code sql} on the connection this pooled one wraps. The caller
     * must not close it, must close its result set, and must hold {@code pooled} while using it.
     */
    PreparedStatement prepare(Connection pooled, String sql) throws SQLException {
        Connection raw = pooled.unwrap(Connection.class);
        Map<String, PreparedStatement> statements = byConnection.get(raw);
        if (statements == null) {
            byConnection.keySet().removeIf(StatementCache::closed); // connections the pool has retired
            statements = new Lru();
            byConnection.put(raw, statements);
        }
        PreparedStatement ps = statements.get(sql);
        if (ps == null || ps.isClosed()) {
            ps = raw.prepareStatement(sql);
            statements.put(sql, ps);
        }
        return ps;
    }

    /** Closes and drops a statement whose use failed, so that no statement in an unknown state is used again. */
    void forget(Connection pooled, String sql) {
        try {
            Map<String, PreparedStatement> statements = byConnection.get(pooled.unwrap(Connection.class));
            PreparedStatement ps = statements == null ? null : statements.remove(sql);
            if (ps != null) {
                ps.close();
            }
        } catch (SQLException ignored) {
            // the connection is broken: the pool retires it, and the cache forgets it then
        }
    }

    /** Closes and drops every statement kept for this connection (after a failed transaction). */
    void forgetAll(Connection pooled) {
        try {
            Map<String, PreparedStatement> statements = byConnection.remove(pooled.unwrap(Connection.class));
            if (statements != null) {
                for (PreparedStatement ps : statements.values()) {
                    ps.close();
                }
            }
        } catch (SQLException ignored) {
            // the connection is broken: the writer reconnects, and the cache forgets it then
        }
    }

    /** Connections with statements kept (for tests). */
    int connections() {
        return byConnection.size();
    }

    private static boolean closed(Connection c) {
        try {
            return c.isClosed();
        } catch (SQLException e) {
            return true;
        }
    }

    private static final class Lru extends LinkedHashMap<String, PreparedStatement> {
        Lru() {
            super(16, 0.75f, true);
        }

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, PreparedStatement> eldest) {
            if (size() <= PER_CONNECTION) {
                return false;
            }
            try {
                eldest.getValue().close();
            } catch (SQLException ignored) {
                // closing a statement of a live connection does not fail; nothing to do if it did
            }
            return true;
        }
    }
}
