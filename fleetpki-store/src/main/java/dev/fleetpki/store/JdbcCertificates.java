package dev.fleetpki.store;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.store.CertificateStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Issued certificates and their revocation, on JDBC. */
final class JdbcCertificates implements CertificateStore {
    private final Jdbc jdbc;

    JdbcCertificates(Jdbc jdbc) {
        this.jdbc = jdbc;
    }


    static final String CERT_COLUMNS = "serial, ca, device_id, profile, der, proof_of_possession, issued_by, issued_at, protocol, "
            + "revoked_at, revocation_reason";

    @Override
    public Optional<StoredCertificate> certificate(String serialHex) {
        return jdbc.queryOne("SELECT " + CERT_COLUMNS + " FROM certificate WHERE serial = ?", JdbcCertificates::toCert, serialHex.toLowerCase(Locale.ROOT));
    }

    /**
     * Certificates, newest first.
     *
     * @param deviceId only this device's, or null
     * @param notAfterBefore only those ending before this instant and not yet ended at {@code now}, or null
     */
    @Override
    public List<StoredCertificate> certificates(String deviceId, Instant now, Instant notAfterBefore, int limit) {
        StringBuilder sql = new StringBuilder("SELECT " + CERT_COLUMNS + " FROM certificate WHERE 1 = 1");
        List<Object> args = new ArrayList<>();
        if (deviceId != null) {
            sql.append(" AND device_id = ?");
            args.add(deviceId);
        }
        if (notAfterBefore != null) {
            sql.append(" AND not_after < ? AND not_after >= ? AND revoked_at IS NULL");
            args.add(notAfterBefore.toEpochMilli());
            args.add(now.toEpochMilli());
        }
        sql.append(" ORDER BY issued_at DESC, serial LIMIT ").append(limit);
        return jdbc.query(sql.toString(), JdbcCertificates::toCert, args.toArray());
    }

    @Override
    public List<StoredCertificate> signedBy(String caName) {
        return jdbc.query("SELECT " + CERT_COLUMNS + " FROM certificate WHERE ca = ? ORDER BY issued_at, serial", JdbcCertificates::toCert, caName);
    }

    @Override
    public List<Expiring> expiring(Instant now, List<java.time.Duration> windows) {
        if (windows.isEmpty()) {
            return List.of();
        }
        long from = now.toEpochMilli();
        StringBuilder sql = new StringBuilder("SELECT ca, profile");
        List<Object> args = new ArrayList<>();
        for (java.time.Duration w : windows) {
            sql.append(", SUM(CASE WHEN not_after <= ? THEN 1 ELSE 0 END)");
            args.add(from + w.toMillis());
        }
        // the not_after index bounds the rows read to those ending within the longest window
        sql.append(" FROM certificate WHERE revoked_at IS NULL AND not_after > ? AND not_after <= ? GROUP BY ca, profile ORDER BY ca, profile");
        args.add(from);
        args.add(from + windows.stream().max(java.time.Duration::compareTo).orElseThrow().toMillis());
        List<Expiring> out = new ArrayList<>();
        jdbc.query(sql.toString(), rs -> {
            List<Expiring> row = new ArrayList<>();
            for (int i = 0; i < windows.size(); i++) {
                row.add(new Expiring(rs.getString(1), rs.getString(2), windows.get(i), rs.getLong(3 + i)));
            }
            return row;
        }, args.toArray()).forEach(out::addAll);
        return out;
    }

    @Override
    public long[] perDay(boolean issued, Instant from, int days) {
        String column = issued ? "issued_at" : "not_after";
        long start = from.toEpochMilli();
        long[] out = new long[days];
        jdbc.query("SELECT (" + column + " - ?) / 86400000, COUNT(*) FROM certificate WHERE " + column + " >= ? AND " + column + " < ?"
                + (issued ? "" : " AND revoked_at IS NULL") + " GROUP BY (" + column + " - ?) / 86400000", rs -> {
                    int d = (int) rs.getLong(1);
                    if (d >= 0 && d < days) {
                        out[d] = rs.getLong(2);
                    }
                    return null;
                }, start, start, start + days * 86_400_000L, start);
        return out;
    }

    @Override
    public long certificateCount() {
        return jdbc.queryOne("SELECT COUNT(*) FROM certificate", rs -> rs.getLong(1)).orElse(0L);
    }

    @Override
    public Optional<Instant> lastExpiry(String caName, String exceptSerialHex) {
        List<Optional<Instant>> l = jdbc.query("SELECT MAX(not_after) FROM certificate WHERE ca = ? AND serial <> ?",
                rs -> Optional.ofNullable(Jdbc.instant(rs, 1)), caName, exceptSerialHex == null ? "" : exceptSerialHex);
        return l.isEmpty() ? Optional.empty() : l.getFirst();
    }


    /** Records a revocation (time and reason) with its audit event. */
    @Override
    public void revoke(String serialHex, RevocationReason reason, Instant at, AuditEvent event) {
        revoke(serialHex, reason, at, null, event);
    }

    /**
     * Records a revocation with its audit event, and in the same transaction drops the certificate's
     * pre-signed OCSP response, so no responder reading this store answers "good" once this commits.
     *
     * @param invalidSince when the key is known or suspected to have been compromised (the CRL entry's
     *     invalidity date), or null
     */
    @Override
    public void revoke(String serialHex, RevocationReason reason, Instant at, Instant invalidSince, AuditEvent event) {
        String serial = serialHex.toLowerCase(Locale.ROOT);
        jdbc.write(null, tx -> {
            Connection c = tx.connection();
            try (PreparedStatement ps = c.prepareStatement("SELECT revoked_at FROM certificate WHERE serial = ?"
                    + (jdbc.db().dialect() == Database.Dialect.POSTGRESQL ? " FOR UPDATE" : ""))) {
                ps.setString(1, serial);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new PkiException(ErrorKind.NOT_FOUND, "no certificate with serial " + serial + "; list them with: fleetpki cert list");
                    }
                    rs.getLong(1);
                    if (!rs.wasNull()) {
                        throw new PkiException(ErrorKind.CONFLICT, "certificate " + serial + " is already revoked");
                    }
                }
            }
            markRevoked(c, List.of(serial), reason, at, invalidSince);
            tx.audit(event);
        });
    }

    /** Sets the revocation columns of these certificates and drops their pre-signed OCSP responses. */
    static void markRevoked(Connection c, List<String> serials, RevocationReason reason, Instant at, Instant invalidSince) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE certificate SET revoked_at = ?, revocation_reason = ?, invalidity_date = ? WHERE serial = ?");
             PreparedStatement del = c.prepareStatement("DELETE FROM ocsp_response WHERE serial = ?")) {
            for (String s : serials) {
                ps.setLong(1, at.toEpochMilli());
                ps.setString(2, reason.name());
                if (invalidSince == null) {
                    ps.setNull(3, Types.BIGINT);
                } else {
                    ps.setLong(3, invalidSince.toEpochMilli());
                }
                ps.setString(4, s);
                ps.executeUpdate();
                del.setString(1, s);
                del.executeUpdate();
            }
        }
        RevocationStore.bumpEpoch(c);
    }

    static StoredCertificate toCert(ResultSet rs) throws SQLException {
        IssuedCertificate ic = new IssuedCertificate(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), Jdbc.cert(rs.getBytes(5)),
                rs.getBoolean(6), null, Actor.parse(rs.getString(7)), Instant.ofEpochMilli(rs.getLong(8)),
                rs.getString(9));
        long revoked = rs.getLong(10);
        boolean notRevoked = rs.wasNull();
        String reason = rs.getString(11);
        return new StoredCertificate(ic, notRevoked ? null : Instant.ofEpochMilli(revoked), reason == null ? null : RevocationReason.valueOf(reason));
    }
}
