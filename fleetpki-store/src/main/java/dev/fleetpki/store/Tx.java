package dev.fleetpki.store;

import dev.fleetpki.core.AuditEvent;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One write transaction of the group committer. Writes may be batched ({@link #batch}) across
 * the operations of a group; {@link #connection()} first flushes pending batches so reads see them.
 * Audit events are chained here, in sequence order, under the chain head's row lock.
 */
final class Tx {
    private final Connection c;
    private final Database.Dialect dialect;
    private final Map<String, PreparedStatement> batches = new LinkedHashMap<>();
    private long seq = -1;
    private String head;

    Tx(Connection c, Database.Dialect dialect) {
        this.c = c;
        this.dialect = dialect;
    }

    PreparedStatement batch(String sql) throws SQLException {
        PreparedStatement ps = batches.get(sql);
        if (ps == null) {
            ps = c.prepareStatement(sql);
            batches.put(sql, ps);
        }
        return ps;
    }

    Connection connection() throws SQLException {
        flush();
        return c;
    }

    void audit(AuditEvent e) throws SQLException {
        if (seq < 0) {
            try (PreparedStatement ps = connection().prepareStatement(
                    "SELECT seq, hash FROM audit_head WHERE id = 1" + (dialect == Database.Dialect.POSTGRESQL ? " FOR UPDATE" : ""));
                 ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("audit_head row is missing: the audit log was tampered with");
                }
                seq = rs.getLong(1);
                head = rs.getString(2);
            }
        }
        seq++;
        String detail = AuditHash.detailJson(e.detail());
        long at = e.at().toEpochMilli();
        String hash = AuditHash.hash(head, seq, at, e.actor().toString(), e.action(), e.target(), detail);
        PreparedStatement ps = batch("INSERT INTO audit_event (seq, at, actor, action, target, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)");
        ps.setLong(1, seq);
        ps.setLong(2, at);
        ps.setString(3, e.actor().toString());
        ps.setString(4, e.action());
        ps.setString(5, e.target());
        ps.setString(6, detail);
        ps.setString(7, head);
        ps.setString(8, hash);
        ps.addBatch();
        head = hash;
    }

    void flush() throws SQLException {
        for (PreparedStatement ps : batches.values()) {
            ps.executeBatch();
        }
    }

    /** Flushes, moves the chain head, and leaves the commit to the caller. */
    void finish() throws SQLException {
        if (seq >= 0) {
            try (PreparedStatement ps = connection().prepareStatement("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")) {
                ps.setLong(1, seq);
                ps.setString(2, head);
                ps.executeUpdate();
            }
        }
        flush();
    }

    void close() {
        for (PreparedStatement ps : batches.values()) {
            try {
                ps.close();
            } catch (SQLException ignored) {
                // closing after commit or rollback; nothing to keep
            }
        }
    }
}
