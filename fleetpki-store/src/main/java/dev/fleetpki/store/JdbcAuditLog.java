package dev.fleetpki.store;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.AuditVerification;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.store.AuditLog;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The hash-chained audit log on JDBC: reading and verifying it (events are appended by the writes they record). */
final class JdbcAuditLog implements AuditLog {
    private final Jdbc jdbc;

    JdbcAuditLog(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    @Override
    public void audit(AuditEvent event) {
        jdbc.write(null, tx -> tx.audit(event));
    }


    @Override
    public List<Map<String, Object>> auditTail(int limit) {
        List<Map<String, Object>> rows = jdbc.query("SELECT seq, at, actor, action, target, detail FROM audit_event ORDER BY seq DESC LIMIT " + limit,
                rs -> Map.<String, Object>of("seq", rs.getLong(1), "at", Instant.ofEpochMilli(rs.getLong(2)), "actor", rs.getString(3),
                        "action", rs.getString(4), "target", rs.getString(5), "detail", rs.getString(6)));
        return rows.reversed();
    }

    @Override
    public List<Map<String, Object>> auditPage(Long beforeSeq, String action, String target, String actor, int limit) {
        StringBuilder sql = new StringBuilder("SELECT seq, at, actor, action, target, detail FROM audit_event WHERE 1 = 1");
        List<Object> args = new ArrayList<>();
        if (beforeSeq != null) {
            sql.append(" AND seq < ?");
            args.add(beforeSeq);
        }
        if (action != null) {
            sql.append(" AND action = ?");
            args.add(action);
        }
        if (target != null) {
            sql.append(" AND target = ?");
            args.add(target);
        }
        if (actor != null) {
            sql.append(" AND actor = ?");
            args.add(actor);
        }
        sql.append(" ORDER BY seq DESC LIMIT ").append(Math.max(1, Math.min(limit, 1000)));
        return jdbc.query(sql.toString(), rs -> Map.<String, Object>of("seq", rs.getLong(1), "at", Instant.ofEpochMilli(rs.getLong(2)),
                "actor", rs.getString(3), "action", rs.getString(4), "target", rs.getString(5), "detail", rs.getString(6)), args.toArray());
    }

    /** The chain's head as the audit_head row has it: the newest event's sequence number and hash. */
    @Override
    public Map.Entry<Long, String> auditHead() {
        return jdbc.queryOne("SELECT seq, hash FROM audit_head WHERE id = 1", rs -> Map.entry(rs.getLong(1), rs.getString(2)))
                .orElseThrow(() -> new PkiException(ErrorKind.INTERNAL, "the audit head row is missing"));
    }

    /** The stored hash of audit event {@code seq}, if the event is there. */
    @Override
    public Optional<String> auditHashAt(long seq) {
        return jdbc.queryOne("SELECT hash FROM audit_event WHERE seq = ?", rs -> rs.getString(1), seq);
    }

    /** Recomputes the whole chain; reports edited rows, deleted rows and a moved head. */
    @Override
    public AuditVerification verifyAudit() {
        List<String> problems = new ArrayList<>();
        String prev = AuditHash.GENESIS;
        long expected = 1;
        long count = 0;
        try (Connection c = jdbc.db().read();
             PreparedStatement ps = c.prepareStatement("SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_event ORDER BY seq")) {
            ps.setFetchSize(1000);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    count++;
                    long seq = rs.getLong(1);
                    if (seq != expected) {
                        problems.add("events " + expected + (seq - 1 > expected ? ".." + (seq - 1) : "") + " are missing (deleted)");
                    }
                    String stored = rs.getString(8);
                    if (!rs.getString(7).equals(prev)) {
                        problems.add("event " + seq + " does not link to the event before it");
                    }
                    String recomputed = AuditHash.hash(rs.getString(7), seq, rs.getLong(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6));
                    if (!recomputed.equals(stored)) {
                        problems.add("event " + seq + " was edited: its contents no longer match its hash");
                    }
                    prev = stored;
                    expected = seq + 1;
                }
            }
            try (PreparedStatement h = c.prepareStatement("SELECT seq, hash FROM audit_head WHERE id = 1"); ResultSet rs = h.executeQuery()) {
                if (!rs.next()) {
                    problems.add("the audit head row is missing");
                } else if (rs.getLong(1) != expected - 1 || !rs.getString(2).equals(prev)) {
                    problems.add("the newest events are missing: the head says event " + rs.getLong(1) + ", the log ends at " + (expected - 1));
                }
            }
        } catch (SQLException e) {
            throw jdbc.storeFailure("verify the audit log", e);
        }
        return new AuditVerification(count, prev, List.copyOf(problems));
    }

}
