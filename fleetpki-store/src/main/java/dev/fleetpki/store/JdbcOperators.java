package dev.fleetpki.store;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.ConsoleSession;
import dev.fleetpki.core.DualControl;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Operator;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.store.OperatorStore;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Console operators and sessions on JDBC. Read from the store on every request (no cache), so a change on one node holds on all. */
final class JdbcOperators implements OperatorStore {
    private static final String COLUMNS = "name, role, password_hash, status, failed_sign_ins, locked_until, cert_sha256, created_at, created_by";
    private final Jdbc jdbc;

    JdbcOperators(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    private static Operator row(ResultSet rs) throws SQLException {
        return new Operator(rs.getString(1), Role.valueOf(rs.getString(2)), rs.getString(3), rs.getString(4), rs.getInt(5), Jdbc.instant(rs, 6),
                rs.getString(7), Instant.ofEpochMilli(rs.getLong(8)), Actor.parse(rs.getString(9)));
    }

    @Override
    public void addOperator(Operator o, AuditEvent event) {
        jdbc.write("an operator named '" + o.name() + "' (or one with this client certificate) exists; see them with: fleetpki operator list", tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO operator (" + COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?)");
            ps.setString(1, o.name());
            ps.setString(2, o.role().name());
            ps.setString(3, o.passwordHash());
            ps.setString(4, o.status());
            ps.setInt(5, o.failedSignIns());
            ps.setObject(6, o.lockedUntil() == null ? null : o.lockedUntil().toEpochMilli(), Types.BIGINT);
            ps.setString(7, o.certSha256());
            ps.setLong(8, o.createdAt().toEpochMilli());
            ps.setString(9, o.createdBy().toString());
            ps.addBatch();
            tx.audit(event);
        });
    }

    @Override
    public Optional<Operator> operator(String name) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM operator WHERE name = ?", JdbcOperators::row, name);
    }

    @Override
    public Optional<Operator> operatorByCertificate(String certSha256) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM operator WHERE cert_sha256 = ?", JdbcOperators::row, certSha256).filter(Operator::active);
    }

    @Override
    public List<Operator> operators() {
        return jdbc.query("SELECT " + COLUMNS + " FROM operator ORDER BY name", JdbcOperators::row);
    }

    /** Runs one UPDATE on the named operator; NOT_FOUND when there is none. */
    private static void update(Tx tx, String name, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            ps.setString(args.length + 1, name);
            if (ps.executeUpdate() != 1) {
                throw new PkiException(ErrorKind.NOT_FOUND, "no console operator named '" + name + "'; list them with: fleetpki operator list");
            }
        }
    }

    private static void endSessionsOf(Tx tx, String name) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM console_session WHERE operator = ?")) {
            ps.setString(1, name);
            ps.executeUpdate();
        }
    }

    @Override
    public void setPassword(String name, String passwordHash, AuditEvent event) {
        jdbc.write(null, tx -> {
            update(tx, name, "UPDATE operator SET password_hash = ?, failed_sign_ins = 0, locked_until = NULL WHERE name = ?", passwordHash);
            endSessionsOf(tx, name);
            tx.audit(event);
        });
    }

    @Override
    public void setOperatorStatus(String name, String status, AuditEvent event) {
        jdbc.write(null, tx -> {
            update(tx, name, "UPDATE operator SET status = ? WHERE name = ?", status);
            if (!"active".equals(status)) {
                endSessionsOf(tx, name);
            }
            tx.audit(event);
        });
    }

    @Override
    public Operator signInFailed(String name, int maxFailures, Instant lockUntil, AuditEvent refusal, AuditEvent lockEvent) {
        jdbc.write(null, tx -> {
            // one statement, so two nodes counting failures at once both count
            update(tx, name, "UPDATE operator SET failed_sign_ins = failed_sign_ins + 1 WHERE name = ?");
            tx.audit(refusal);
            try (PreparedStatement ps = tx.connection().prepareStatement(
                    "UPDATE operator SET failed_sign_ins = 0, locked_until = ? WHERE name = ? AND failed_sign_ins >= ?")) {
                ps.setLong(1, lockUntil.toEpochMilli());
                ps.setString(2, name);
                ps.setInt(3, maxFailures);
                if (ps.executeUpdate() == 1) {
                    endSessionsOf(tx, name);
                    tx.audit(lockEvent);
                }
            }
        });
        return operator(name).orElseThrow();
    }

    @Override
    public void signedIn(String name, ConsoleSession session, AuditEvent event) {
        jdbc.write(null, tx -> {
            update(tx, name, "UPDATE operator SET failed_sign_ins = 0 WHERE name = ?");
            if (session != null) {
                try (PreparedStatement ps = tx.connection().prepareStatement(
                        "INSERT INTO console_session (id_hash, operator, created_at, idle_until, expires_at, how) VALUES (?,?,?,?,?,?)")) {
                    ps.setString(1, session.idHash());
                    ps.setString(2, session.operator());
                    ps.setLong(3, session.createdAt().toEpochMilli());
                    ps.setLong(4, session.idleUntil().toEpochMilli());
                    ps.setLong(5, session.expiresAt().toEpochMilli());
                    ps.setString(6, session.how());
                    ps.executeUpdate();
                }
            }
            tx.audit(event);
        });
    }

    @Override
    public void unlock(String name, AuditEvent event) {
        jdbc.write(null, tx -> {
            update(tx, name, "UPDATE operator SET failed_sign_ins = 0, locked_until = NULL WHERE name = ?");
            tx.audit(event);
        });
    }

    @Override
    public Optional<ConsoleSession> session(String idHash) {
        return jdbc.queryOne("SELECT id_hash, operator, created_at, idle_until, expires_at, how FROM console_session WHERE id_hash = ?",
                rs -> new ConsoleSession(rs.getString(1), rs.getString(2), Instant.ofEpochMilli(rs.getLong(3)), Instant.ofEpochMilli(rs.getLong(4)),
                        Instant.ofEpochMilli(rs.getLong(5)), rs.getString(6)), idHash);
    }

    @Override
    public void touchSession(String idHash, Instant idleUntil) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE console_session SET idle_until = ? WHERE id_hash = ?")) {
                ps.setLong(1, idleUntil.toEpochMilli());
                ps.setString(2, idHash);
                ps.executeUpdate();
            }
        });
    }

    @Override
    public void endSession(String idHash, AuditEvent event) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM console_session WHERE id_hash = ?")) {
                ps.setString(1, idHash);
                ps.executeUpdate();
            }
            if (event != null) {
                tx.audit(event);
            }
        });
    }

    private static DualControl.FirstApproval approval(ResultSet rs) throws SQLException {
        return new DualControl.FirstApproval(DualControl.Action.parse(rs.getString(1)), rs.getString(2), rs.getString(3), Actor.parse(rs.getString(4)),
                Instant.ofEpochMilli(rs.getLong(5)));
    }

    @Override
    public Optional<DualControl.FirstApproval> firstApproval(DualControl.Action action, String target) {
        return jdbc.queryOne("SELECT action, target, params, first_by, first_at FROM dual_control WHERE action = ? AND target = ?",
                JdbcOperators::approval, action.configName(), target);
    }

    @Override
    public void addFirstApproval(DualControl.FirstApproval a, AuditEvent event) {
        jdbc.write(a.action().configName() + " of " + a.target() + " already waits for a second operator", tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO dual_control (action, target, params, first_by, first_at) VALUES (?,?,?,?,?)");
            ps.setString(1, a.action().configName());
            ps.setString(2, a.target());
            ps.setString(3, a.params());
            ps.setString(4, a.by().toString());
            ps.setLong(5, a.at().toEpochMilli());
            ps.addBatch();
            tx.audit(event);
        });
    }

    @Override
    public void endFirstApproval(DualControl.Action action, String target, AuditEvent event) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM dual_control WHERE action = ? AND target = ?")) {
                ps.setString(1, action.configName());
                ps.setString(2, target);
                ps.executeUpdate();
            }
            if (event != null) {
                tx.audit(event);
            }
        });
    }

    @Override
    public List<DualControl.FirstApproval> firstApprovals() {
        return jdbc.query("SELECT action, target, params, first_by, first_at FROM dual_control ORDER BY first_at", JdbcOperators::approval);
    }

    @Override
    public int forgetSessions(Instant before) {
        int[] n = new int[1];
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM console_session WHERE idle_until < ? OR expires_at < ?")) {
                ps.setLong(1, before.toEpochMilli());
                ps.setLong(2, before.toEpochMilli());
                n[0] = ps.executeUpdate();
            }
        });
        return n[0];
    }
}
