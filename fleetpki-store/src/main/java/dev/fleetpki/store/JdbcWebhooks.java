package dev.fleetpki.store;

import dev.fleetpki.core.store.WebhookStore;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/** Registry notification delivery state on JDBC (V10). */
final class JdbcWebhooks implements WebhookStore {
    private static final String ENDPOINT = "SELECT e.name, e.cursor_seq, e.delivered, e.last_delivery_at, e.last_error, e.last_error_at, "
            + "(SELECT COUNT(*) FROM webhook_failure f WHERE f.endpoint = e.name) FROM webhook_endpoint e";
    private static final String FAILURE = "SELECT endpoint, audit_seq, event, attempts, last_error, failed_at, retry_requested FROM webhook_failure";
    private final Jdbc jdbc;

    JdbcWebhooks(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    @Override
    public Endpoint webhookEndpoint(String name) {
        Optional<Endpoint> e = jdbc.queryOne(ENDPOINT + " WHERE e.name = ?", JdbcWebhooks::endpoint, name);
        if (e.isPresent()) {
            return e.get();
        }
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO webhook_endpoint (name, cursor_seq, delivered) "
                    + "SELECT ?, seq, 0 FROM audit_head WHERE id = 1 ON CONFLICT (name) DO NOTHING")) {
                ps.setString(1, name);
                ps.executeUpdate();
            }
        });
        return jdbc.queryOne(ENDPOINT + " WHERE e.name = ?", JdbcWebhooks::endpoint, name).orElseThrow();
    }

    @Override
    public List<Endpoint> webhookEndpoints() {
        return jdbc.query(ENDPOINT + " ORDER BY e.name", JdbcWebhooks::endpoint);
    }

    @Override
    public boolean leaseWebhook(String name, String owner, Instant until, Instant now) {
        boolean[] held = new boolean[1];
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE webhook_endpoint SET lease_owner = ?, lease_until = ? "
                    + "WHERE name = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)")) {
                ps.setString(1, owner);
                ps.setLong(2, until.toEpochMilli());
                ps.setString(3, name);
                ps.setString(4, owner);
                ps.setLong(5, now.toEpochMilli());
                held[0] = ps.executeUpdate() == 1;
            }
        });
        return held[0];
    }

    @Override
    public void releaseWebhook(String name, String owner) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE webhook_endpoint SET lease_owner = NULL, lease_until = NULL "
                    + "WHERE name = ? AND lease_owner = ?")) {
                ps.setString(1, name);
                ps.setString(2, owner);
                ps.executeUpdate();
            }
        });
    }

    @Override
    public List<Source> auditEventsAfter(long seq, Collection<String> actions, int limit) {
        if (actions.isEmpty()) {
            return List.of();
        }
        List<Object> args = new ArrayList<>();
        args.add(seq);
        args.addAll(actions);
        args.add(limit);
        return jdbc.query("SELECT seq, at, action, target, detail FROM audit_event WHERE seq > ? AND action IN ("
                + String.join(",", Collections.nCopies(actions.size(), "?")) + ") ORDER BY seq LIMIT ?", JdbcWebhooks::source, args.toArray());
    }

    @Override
    public long auditEventsCountAfter(long seq, Collection<String> actions) {
        if (actions.isEmpty()) {
            return 0;
        }
        List<Object> args = new ArrayList<>();
        args.add(seq);
        args.addAll(actions);
        return jdbc.queryOne("SELECT COUNT(*) FROM audit_event WHERE seq > ? AND action IN ("
                + String.join(",", Collections.nCopies(actions.size(), "?")) + ")", rs -> rs.getLong(1), args.toArray()).orElse(0L);
    }

    @Override
    public Optional<Source> auditEvent(long seq) {
        return jdbc.queryOne("SELECT seq, at, action, target, detail FROM audit_event WHERE seq = ?", JdbcWebhooks::source, seq);
    }

    @Override
    public void webhookDone(String name, long seq, boolean delivered, Instant at) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement(delivered
                    ? "UPDATE webhook_endpoint SET cursor_seq = ?, delivered = delivered + 1, last_delivery_at = ? WHERE name = ? AND cursor_seq < ?"
                    : "UPDATE webhook_endpoint SET cursor_seq = ? WHERE name = ? AND cursor_seq < ?")) {
                int i = 1;
                ps.setLong(i++, seq);
                if (delivered) {
                    ps.setLong(i++, at.toEpochMilli());
                }
                ps.setString(i++, name);
                ps.setLong(i, seq);
                ps.executeUpdate();
            }
        });
    }

    @Override
    public void webhookFailed(String name, long seq, String event, int attempts, String error, Instant at) {
        jdbc.write(null, tx -> {
            try (PreparedStatement up = tx.connection().prepareStatement("UPDATE webhook_failure SET attempts = attempts + ?, last_error = ?, "
                    + "failed_at = ?, retry_requested = ? WHERE endpoint = ? AND audit_seq = ?")) {
                up.setInt(1, attempts);
                up.setString(2, error);
                up.setLong(3, at.toEpochMilli());
                up.setBoolean(4, false);
                up.setString(5, name);
                up.setLong(6, seq);
                if (up.executeUpdate() == 0) {
                    try (PreparedStatement ins = tx.connection().prepareStatement("INSERT INTO webhook_failure (endpoint, audit_seq, event, attempts, "
                            + "last_error, failed_at, retry_requested) VALUES (?,?,?,?,?,?,?)")) {
                        ins.setString(1, name);
                        ins.setLong(2, seq);
                        ins.setString(3, event);
                        ins.setInt(4, attempts);
                        ins.setString(5, error);
                        ins.setLong(6, at.toEpochMilli());
                        ins.setBoolean(7, false);
                        ins.executeUpdate();
                    }
                }
            }
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE webhook_endpoint SET cursor_seq = ?, last_error = ?, last_error_at = ? "
                    + "WHERE name = ? AND cursor_seq < ?")) {
                ps.setLong(1, seq);
                ps.setString(2, error);
                ps.setLong(3, at.toEpochMilli());
                ps.setString(4, name);
                ps.setLong(5, seq);
                ps.executeUpdate();
            }
        });
    }

    @Override
    public void webhookError(String name, String error, Instant at) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE webhook_endpoint SET last_error = ?, last_error_at = ? WHERE name = ?")) {
                ps.setString(1, error);
                ps.setLong(2, at.toEpochMilli());
                ps.setString(3, name);
                ps.executeUpdate();
            }
        });
    }

    @Override
    public List<Failure> webhookFailures(String name, int limit) {
        return name == null
                ? jdbc.query(FAILURE + " ORDER BY endpoint, audit_seq LIMIT ?", JdbcWebhooks::failure, limit)
                : jdbc.query(FAILURE + " WHERE endpoint = ? ORDER BY audit_seq LIMIT ?", JdbcWebhooks::failure, name, limit);
    }

    @Override
    public int requestWebhookRetry(String name, Long seq) {
        int[] n = new int[1];
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE webhook_failure SET retry_requested = ? WHERE endpoint = ?"
                    + (seq == null ? "" : " AND audit_seq = ?"))) {
                ps.setBoolean(1, true);
                ps.setString(2, name);
                if (seq != null) {
                    ps.setLong(3, seq);
                }
                n[0] = ps.executeUpdate();
            }
        });
        return n[0];
    }

    @Override
    public void webhookRetried(String name, long seq, Instant at) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM webhook_failure WHERE endpoint = ? AND audit_seq = ?")) {
                ps.setString(1, name);
                ps.setLong(2, seq);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE webhook_endpoint SET delivered = delivered + 1, last_delivery_at = ? "
                    + "WHERE name = ?")) {
                ps.setLong(1, at.toEpochMilli());
                ps.setString(2, name);
                ps.executeUpdate();
            }
        });
    }

    private static Endpoint endpoint(ResultSet rs) throws SQLException {
        return new Endpoint(rs.getString(1), rs.getLong(2), rs.getLong(3), Jdbc.instant(rs, 4), rs.getString(5), Jdbc.instant(rs, 6), rs.getLong(7));
    }

    private static Failure failure(ResultSet rs) throws SQLException {
        return new Failure(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getInt(4), rs.getString(5), Instant.ofEpochMilli(rs.getLong(6)),
                rs.getBoolean(7));
    }

    private static Source source(ResultSet rs) throws SQLException {
        return new Source(rs.getLong(1), Instant.ofEpochMilli(rs.getLong(2)), rs.getString(3), rs.getString(4), rs.getString(5));
    }
}
