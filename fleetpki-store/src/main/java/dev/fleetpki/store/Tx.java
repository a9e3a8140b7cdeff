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
    private final java.util.Set<String> activeDevices = new java.util.LinkedHashSet<>();
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

    /** The transaction fails unless this device is registered and active when it commits (checked once per group). */
    void requireActiveDevice(String id) {
        activeDevices.add(id);
    }

    private void checkDevices() throws SQLException {
        if (activeDevices.isEmpty()) {
            return;
        }
        java.util.Set<String> active = new java.util.HashSet<>();
        java.util.List<String> ids = new java.util.ArrayList<>(activeDevices);
        for (int from = 0; from < ids.size(); from += 500) {
            java.util.List<String> chunk = ids.subList(from, Math.min(ids.size(), from + 500));
            String sql = "SELECT id FROM device WHERE status = 'ACTIVE' AND id IN (" + String.join(",", java.util.Collections.nCopies(chunk.size(), "?")) + ")"
                    + (dialect == Database.Dialect.POSTGRESQL ? " FOR SHARE" : "");
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int i = 0; i < chunk.size(); i++) {
                    ps.setString(i + 1, chunk.get(i));
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        active.add(rs.getString(1));
                    }
                }
            }
        }
        for (String id : ids) {
            if (!active.contains(id)) {
                throw new dev.fleetpki.core.PkiException(dev.fleetpki.core.ErrorKind.DEVICE_NOT_ACTIVE,
                        "device '" + id + "' was disabled, revoked or removed while its certificate was being issued; nothing was issued");
            }
        }
    }

    /** Checks devices, flushes, moves the chain head, and leaves the commit to the caller. */
    void finish() throws SQLException {
        checkDevices();
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
