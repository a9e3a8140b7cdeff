package dev.fleetpki.store;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.store.RequestStore;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Enrollment requests kept for an operator, on JDBC. */
final class JdbcRequests implements RequestStore {
    private final Jdbc jdbc;

    JdbcRequests(Jdbc jdbc) {
        this.jdbc = jdbc;
    }


    private static final String REQUEST_COLUMNS = "id, device_id, profile, csr_der, csr_sha256, status, credential, requested_by, protocol, "
            + "created_at, decided_at, decided_by, reason, serial";

    /** Stores a pending request; CONFLICT when one is already pending for the device and profile. */
    @Override
    public void addRequest(EnrollmentRequest r, AuditEvent event) {
        jdbc.write("a request is already pending for device '" + r.deviceId() + "' and profile '" + r.profile() + "'", tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO enrollment_request (id, device_id, profile, csr_der, csr_sha256, status, credential, "
                    + "requested_by, protocol, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)");
            ps.setString(1, r.id());
            ps.setString(2, r.deviceId());
            ps.setString(3, r.profile());
            ps.setBytes(4, r.csrDer());
            ps.setString(5, r.csrSha256());
            ps.setString(6, r.status().name());
            ps.setString(7, r.credential());
            ps.setString(8, r.requestedBy().toString());
            ps.setString(9, r.protocol());
            ps.setLong(10, r.createdAt().toEpochMilli());
            ps.addBatch();
            tx.audit(event);
        });
    }

    @Override
    public Optional<EnrollmentRequest> request(String id) {
        return jdbc.queryOne("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request WHERE id = ?", JdbcRequests::toRequest, id);
    }

    /**
     * In one read, what an enrollment needs to know of earlier requests for this device and
     * profile: those carrying this CSR (a client re-sending it) and the pending one, newest first.
     */
    @Override
    public List<EnrollmentRequest> requestsFor(String deviceId, String profile, String csrSha256) {
        return jdbc.query("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request WHERE device_id = ? AND profile = ? "
                + "AND (csr_sha256 = ? OR status = 'PENDING') ORDER BY created_at DESC, id", JdbcRequests::toRequest, deviceId, profile, csrSha256);
    }

    @Override
    public Optional<EnrollmentRequest> pendingRequest(String deviceId, String profile) {
        return jdbc.queryOne("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request WHERE device_id = ? AND profile = ? AND status = 'PENDING'",
                JdbcRequests::toRequest, deviceId, profile);
    }

    /** Requests, oldest first; status null: all. */
    @Override
    public List<EnrollmentRequest> requests(EnrollmentRequest.Status status, int limit) {
        return status == null
                ? jdbc.query("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request ORDER BY created_at, id LIMIT ?", JdbcRequests::toRequest, limit)
                : jdbc.query("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request WHERE status = ? ORDER BY created_at, id LIMIT ?",
                        JdbcRequests::toRequest, status.name(), limit);
    }

    @Override
    public long pendingCount() {
        return jdbc.queryOne("SELECT COUNT(*) FROM enrollment_request WHERE status = 'PENDING'", rs -> rs.getLong(1)).orElse(0L);
    }

    /** Marks a pending request rejected; CONFLICT when it is not pending. */
    @Override
    public void rejectRequest(String id, String reason, AuditEvent event) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement(
                    "UPDATE enrollment_request SET status = 'REJECTED', decided_at = ?, decided_by = ?, reason = ? WHERE id = ? AND status = 'PENDING'")) {
                ps.setLong(1, event.at().toEpochMilli());
                ps.setString(2, event.actor().toString());
                ps.setString(3, reason);
                ps.setString(4, id);
                if (ps.executeUpdate() != 1) {
                    throw notPending(id);
                }
            }
            tx.audit(event);
        });
    }

    private PkiException notPending(String id) {
        return request(id).<PkiException>map(r -> new PkiException(ErrorKind.CONFLICT, "request " + id + " is " + r.status().configName()
                + ", not pending")).orElseGet(() -> new PkiException(ErrorKind.NOT_FOUND, "no request " + id + "; list them with: fleetpki request list"));
    }

    private static EnrollmentRequest toRequest(ResultSet rs) throws SQLException {
        String decidedBy = rs.getString(12);
        return new EnrollmentRequest(rs.getString(1), rs.getString(2), rs.getString(3), rs.getBytes(4), rs.getString(5),
                EnrollmentRequest.Status.valueOf(rs.getString(6)), rs.getString(7), Actor.parse(rs.getString(8)), rs.getString(9),
                Instant.ofEpochMilli(rs.getLong(10)), Jdbc.instant(rs, 11), decidedBy == null ? null : Actor.parse(decidedBy), rs.getString(13),
                rs.getString(14));
    }

}
