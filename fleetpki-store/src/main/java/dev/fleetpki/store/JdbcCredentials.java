package dev.fleetpki.store;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.ApiToken;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.EnrollmentSecret;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.ManufacturerCa;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.Station;
import dev.fleetpki.core.store.CredentialStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/** Factory stations, one-time enrollment secrets, manufacturer CAs and API tokens on JDBC. */
final class JdbcCredentials implements CredentialStore {
    private final Jdbc jdbc;
    /** Reading a secret reads its device too, and hands it to the device cache issuance reads next. */
    private final JdbcDevices devices;

    JdbcCredentials(Jdbc jdbc, JdbcDevices devices) {
        this.jdbc = jdbc;
        this.devices = devices;
    }


    /** Registers a station; with a certificate fingerprint it may enroll over the network. */
    @Override
    public void addStation(Station st, AuditEvent event) {
        jdbc.write("station '" + st.name() + "' (or its certificate) is already registered; see them with: fleetpki station list", tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO station (name, status, created_at, cert_sha256, fleet) VALUES (?,?,?,?,?)");
            ps.setString(1, st.name());
            ps.setString(2, st.status());
            ps.setLong(3, event.at().toEpochMilli());
            ps.setString(4, st.certSha256());
            ps.setString(5, st.fleet());
            ps.addBatch();
            tx.audit(event);
        });
    }

    /**
     * The station that authenticates with this certificate, read from the store each time (not
     * cached), so a station disabled on any node is refused at once on every node.
     */
    @Override
    public Optional<Station> stationByCertificate(String certSha256) {
        return jdbc.queryOne("SELECT name, status, cert_sha256, fleet FROM station WHERE cert_sha256 = ?",
                rs -> new Station(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)), certSha256);
    }

    /** Disables ({@code DISABLED}) or enables ({@code ACTIVE}) a station; doing it twice is fine. */
    @Override
    public void setStationStatus(String name, String status, AuditEvent event) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE station SET status = ? WHERE name = ?")) {
                ps.setString(1, status);
                ps.setString(2, name);
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "no factory station named '" + name + "'; list them with: fleetpki station list");
                }
            }
            tx.audit(event);
        });
    }

    /** The station of this name. */
    @Override
    public Optional<Station> station(String name) {
        return jdbc.queryOne("SELECT name, status, cert_sha256, fleet FROM station WHERE name = ?",
                rs -> new Station(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)), name);
    }

    @Override
    public List<Station> stations() {
        return jdbc.query("SELECT name, status, cert_sha256, fleet FROM station ORDER BY name",
                rs -> new Station(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)));
    }

    static final String INSERT_SECRET = "INSERT INTO enrollment_secret (id, device_id, secret_hash, created_at, created_by, expires_at) VALUES (?,?,?,?,?,?)";

    /** Binds a secret to {@link #INSERT_SECRET} (only its hash is stored). */
    static void bind(PreparedStatement ps, EnrollmentSecret e) throws SQLException {
        ps.setString(1, e.id());
        ps.setString(2, e.deviceId());
        ps.setString(3, e.secretHash());
        ps.setLong(4, e.createdAt().toEpochMilli());
        ps.setString(5, e.createdBy().toString());
        ps.setLong(6, e.expiresAt().toEpochMilli());
    }

    /** Stores a new secret for a device, replacing its unused ones (one live secret per device). */
    @Override
    public void addEnrollmentSecret(EnrollmentSecret e, AuditEvent event) {
        jdbc.write(null, tx -> {
            Connection c = tx.connection();
            try (PreparedStatement ps = c.prepareStatement("SELECT status FROM device WHERE id = ?")) {
                ps.setString(1, e.deviceId());
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new PkiException(ErrorKind.NOT_FOUND, "device '" + e.deviceId() + "' is not registered; register it first: fleetpki device add "
                                + e.deviceId() + " --enrollment-secret");
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM enrollment_secret WHERE device_id = ? AND used_at IS NULL")) {
                ps.setString(1, e.deviceId());
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement(INSERT_SECRET)) {
                bind(ps, e);
                ps.executeUpdate();
            }
            tx.audit(event);
        });
    }

    /**
     * The secret, read with its device in one query: the enrollment it authenticates reads the
     * device next ({@link #device}), and finds it in the cache.
     */
    @Override
    public Optional<EnrollmentSecret> enrollmentSecret(String id) {
        return jdbc.queryOne("SELECT s.id, s.device_id, s.secret_hash, s.created_at, s.created_by, s.expires_at, s.used_at, s.used_serial, "
                + "d.id, d.model, d.tags, d.status, d.key_location, d.created_at FROM enrollment_secret s LEFT JOIN device d ON d.id = s.device_id "
                + "WHERE s.id = ?", rs -> {
                    if (rs.getString(9) != null) {
                        devices.prime(Jdbc.toDevice(rs, 9));
                    }
                    return new EnrollmentSecret(rs.getString(1), rs.getString(2), rs.getString(3), Instant.ofEpochMilli(rs.getLong(4)),
                            Actor.parse(rs.getString(5)), Instant.ofEpochMilli(rs.getLong(6)), Jdbc.instant(rs, 7), rs.getString(8));
                }, id);
    }

    @Override
    public Optional<EnrollmentSecret> newestEnrollmentSecret(String deviceId) {
        return jdbc.queryOne("SELECT id FROM enrollment_secret WHERE device_id = ? ORDER BY created_at DESC, used_at IS NULL DESC LIMIT 1",
                rs -> rs.getString(1), deviceId).flatMap(this::enrollmentSecret);
    }

    @Override
    public void addManufacturer(ManufacturerCa m, AuditEvent event) {
        jdbc.write("a manufacturer CA named '" + m.name() + "' or with this certificate is already trusted; see them with: fleetpki trust list", tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO manufacturer_ca (name, cert_der, fingerprint, map_by, created_at, created_by, fleet) "
                    + "VALUES (?,?,?,?,?,?,?)");
            ps.setString(1, m.name());
            ps.setBytes(2, Jdbc.der(m.certificate()));
            ps.setString(3, m.fingerprint());
            ps.setString(4, m.mapBy().name());
            ps.setLong(5, m.createdAt().toEpochMilli());
            ps.setString(6, m.createdBy().toString());
            ps.setString(7, m.fleet());
            ps.addBatch();
            tx.audit(event);
        });
    }

    @Override
    public List<ManufacturerCa> manufacturers() {
        return jdbc.query("SELECT name, cert_der, fingerprint, map_by, created_at, created_by, fleet FROM manufacturer_ca ORDER BY name",
                rs -> new ManufacturerCa(rs.getString(1), Jdbc.cert(rs.getBytes(2)), rs.getString(3), ManufacturerCa.MapBy.valueOf(rs.getString(4)),
                        Instant.ofEpochMilli(rs.getLong(5)), Actor.parse(rs.getString(6)), rs.getString(7)));
    }

    @Override
    public void removeManufacturer(String name, AuditEvent event) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM manufacturer_ca WHERE name = ?")) {
                ps.setString(1, name);
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "no trusted manufacturer CA named '" + name + "'; list them with: fleetpki trust list");
                }
            }
            tx.audit(event);
        });
    }


    @Override
    public void addToken(ApiToken t, AuditEvent event) {
        jdbc.write("a token named '" + t.name() + "' already exists; pick another name or revoke it first: fleetpki token revoke " + t.name(), tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO api_token (id, name, role, secret_hash, created_at, created_by, expires_at, cert_sha256, "
                    + "profiles, signers, models) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
            ps.setString(1, t.id());
            ps.setString(2, t.name());
            ps.setString(3, t.role().name());
            ps.setString(4, t.secretHash());
            ps.setLong(5, t.createdAt().toEpochMilli());
            ps.setString(6, t.createdBy().toString());
            ps.setObject(7, t.expiresAt() == null ? null : t.expiresAt().toEpochMilli(), Types.BIGINT);
            ps.setString(8, t.certSha256());
            ps.setString(9, list(t.profiles()));
            ps.setString(10, list(t.signers()));
            ps.setString(11, list(t.models()));
            ps.addBatch();
            tx.audit(event);
        });
    }

    private static final String TOKEN_COLUMNS = "id, name, role, secret_hash, created_at, created_by, expires_at, revoked_at, cert_sha256, disabled_at, profiles, "
            + "signers, models";

    /** A set as stored: sorted, comma-separated; empty: NULL. */
    private static String list(Set<String> values) {
        return values.isEmpty() ? null : String.join(",", new TreeSet<>(values));
    }

    private static Set<String> set(String stored) {
        return stored == null ? Set.of() : Set.of(stored.split(","));
    }

    @Override
    public Optional<ApiToken> token(String id) {
        return jdbc.queryOne("SELECT " + TOKEN_COLUMNS + " FROM api_token WHERE id = ?", JdbcCredentials::toToken, id);
    }

    /** The operator credential bound to a client certificate with this SHA-256. */
    @Override
    public Optional<ApiToken> tokenByCertificate(String certSha256) {
        return jdbc.queryOne("SELECT " + TOKEN_COLUMNS + " FROM api_token WHERE cert_sha256 = ?", JdbcCredentials::toToken, certSha256);
    }

    @Override
    public List<ApiToken> tokens() {
        return jdbc.query("SELECT " + TOKEN_COLUMNS + " FROM api_token ORDER BY name", JdbcCredentials::toToken);
    }

    /** Revokes the token of this name (recorded with its audit event). */
    @Override
    public void revokeToken(String name, Instant at, AuditEvent event) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE api_token SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")) {
                ps.setLong(1, at.toEpochMilli());
                ps.setString(2, name);
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "no unrevoked token named '" + name + "'; list them with: fleetpki token list");
                }
            }
            tx.audit(event);
        });
    }

    /** Disables (at != null) or enables (null) the unrevoked token of this name; doing it twice is fine. */
    @Override
    public void setTokenDisabled(String name, Instant at, AuditEvent event) {
        jdbc.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE api_token SET disabled_at = ? WHERE name = ? AND revoked_at IS NULL")) {
                ps.setObject(1, at == null ? null : at.toEpochMilli(), Types.BIGINT);
                ps.setString(2, name);
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "no unrevoked token named '" + name + "'; list them with: fleetpki token list");
                }
            }
            tx.audit(event);
        });
    }

    private static ApiToken toToken(ResultSet rs) throws SQLException {
        long exp = rs.getLong(7);
        Instant expires = rs.wasNull() ? null : Instant.ofEpochMilli(exp);
        long rev = rs.getLong(8);
        Instant revoked = rs.wasNull() ? null : Instant.ofEpochMilli(rev);
        return new ApiToken(rs.getString(1), rs.getString(2), Role.valueOf(rs.getString(3)), rs.getString(4),
                Instant.ofEpochMilli(rs.getLong(5)), Actor.parse(rs.getString(6)), expires, revoked, rs.getString(9), Jdbc.instant(rs, 10),
                set(rs.getString(11)), set(rs.getString(12)), set(rs.getString(13)));
    }

}
