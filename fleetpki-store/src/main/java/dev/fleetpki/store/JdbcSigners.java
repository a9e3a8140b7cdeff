package dev.fleetpki.store;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.firmware.Signer;
import dev.fleetpki.core.store.SignerStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/** Firmware signers on JDBC. */
final class JdbcSigners implements SignerStore {
    private static final String COLUMNS = "name, models, key_ref, serial, status, created_at, created_by, revoked_at";
    private final Jdbc jdbc;

    JdbcSigners(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    @Override
    public Optional<Signer> signer(String name) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM signer WHERE name = ?", JdbcSigners::toSigner, name);
    }

    @Override
    public List<Signer> signers() {
        return jdbc.query("SELECT " + COLUMNS + " FROM signer ORDER BY name", JdbcSigners::toSigner);
    }

    @Override
    public List<StoredCertificate> signerCertificates(String signer) {
        return jdbc.query("SELECT " + prefixed("c.", JdbcCertificates.CERT_COLUMNS) + " FROM certificate c JOIN signer_certificate s ON s.serial = c.serial "
                + "WHERE s.signer = ? ORDER BY c.issued_at DESC, c.serial", JdbcCertificates::toCert, signer);
    }

    private static String prefixed(String prefix, String columns) {
        return prefix + columns.replace(", ", ", " + prefix);
    }

    @Override
    public List<String> revokeSigner(String name, RevocationReason reason, Instant at, Instant invalidSince, AuditEvent event) {
        List<String> serials = new ArrayList<>();
        jdbc.write(null, tx -> {
            serials.clear(); // a retried transaction starts over
            Connection c = tx.connection();
            try (PreparedStatement ps = c.prepareStatement("UPDATE signer SET status = 'REVOKED', revoked_at = ? WHERE name = ? AND status = 'ACTIVE'")) {
                ps.setLong(1, at.toEpochMilli());
                ps.setString(2, name);
                if (ps.executeUpdate() != 1) {
                    boolean exists = signerExists(c, name);
                    throw new PkiException(exists ? ErrorKind.CONFLICT : ErrorKind.NOT_FOUND, exists ? "signer '" + name + "' is already revoked"
                            : "no signer named '" + name + "'; list them with: fleetpki signer list");
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT c.serial FROM certificate c JOIN signer_certificate s ON s.serial = c.serial "
                    + "WHERE s.signer = ? AND c.revoked_at IS NULL ORDER BY c.serial")) {
                ps.setString(1, name);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        serials.add(rs.getString(1));
                    }
                }
            }
            JdbcCertificates.markRevoked(c, serials, reason, at, invalidSince);
            tx.audit(event);
        });
        return List.copyOf(serials);
    }

    private static boolean signerExists(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM signer WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * In the transaction that stores a signer's new certificate: stores the new signer, or makes
     * the certificate and key the active signer's current ones.
     */
    static void enroll(Tx tx, Authorization.SignerEnrollment e, IssuedCertificate c) throws SQLException {
        Connection conn = tx.connection();
        if (e.rotate()) {
            try (PreparedStatement ps = conn.prepareStatement("UPDATE signer SET serial = ?, key_ref = ? WHERE name = ? AND status = 'ACTIVE'")) {
                ps.setString(1, c.serialHex());
                ps.setString(2, e.keyRef());
                ps.setString(3, e.signer());
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.CONFLICT, "signer '" + e.signer() + "' is not active (revoked, or removed meanwhile); "
                            + "a revoked signer is not rotated: add a new one");
                }
            }
        } else {
            if (signerExists(conn, e.signer())) {
                throw new PkiException(ErrorKind.CONFLICT, "a signer named '" + e.signer() + "' already exists; pick another name, "
                        + "or give it a new key: fleetpki signer rotate " + e.signer());
            }
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO signer (" + COLUMNS + ") VALUES (?,?,?,?,'ACTIVE',?,?,NULL)")) {
                ps.setString(1, e.signer());
                ps.setString(2, String.join(",", new TreeSet<>(e.models())));
                ps.setString(3, e.keyRef());
                ps.setString(4, c.serialHex());
                ps.setLong(5, c.issuedAt().toEpochMilli());
                ps.setString(6, c.issuedBy().toString());
                ps.executeUpdate();
            }
        }
        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO signer_certificate (serial, signer) VALUES (?, ?)")) {
            ps.setString(1, c.serialHex());
            ps.setString(2, e.signer());
            ps.executeUpdate();
        }
    }

    private static Signer toSigner(ResultSet rs) throws SQLException {
        return new Signer(rs.getString(1), Set.of(rs.getString(2).split(",")), rs.getString(3), rs.getString(4), Signer.Status.valueOf(rs.getString(5)),
                Instant.ofEpochMilli(rs.getLong(6)), Actor.parse(rs.getString(7)), Jdbc.instant(rs, 8));
    }
}
