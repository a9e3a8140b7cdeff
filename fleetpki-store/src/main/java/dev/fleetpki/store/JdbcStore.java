package dev.fleetpki.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.Actor;
import dev.fleetpki.core.ApiToken;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.AuditVerification;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.EnrollmentSecret;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceLedger;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.ManufacturerCa;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.Station;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.store.AuditLog;
import dev.fleetpki.core.store.CertificateStore;
import dev.fleetpki.core.store.CredentialStore;
import dev.fleetpki.core.store.DeviceStore;
import dev.fleetpki.core.store.RequestStore;
import java.io.ByteArrayInputStream;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * fleetpki's store on JDBC (SQLite or PostgreSQL). Every write is one transaction through the
 * {@link GroupCommitter}, with its audit event in the same transaction.
 */
public final class JdbcStore implements IssuanceLedger, CaRegistry, DeviceStore, CredentialStore, RequestStore, CertificateStore, AuditLog,
        AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Database db;
    private final GroupCommitter writer;
    private final SerialPool serials;
    /** Devices for issuance's early check; the commit checks the device again. */
    static final long DEVICE_TTL_MILLIS = 10_000;
    private final TtlCache<Device> devices = new TtlCache<>(DEVICE_TTL_MILLIS);
    private final RevocationStore revocation;
    /** SQLite: prepared statements kept per read connection; null for PostgreSQL, whose driver keeps them. */
    private final StatementCache statements;

    public JdbcStore(Database db) {
        this.db = db;
        this.statements = db.dialect() == Database.Dialect.SQLITE ? new StatementCache() : null;
        this.writer = new GroupCommitter(db);
        this.serials = new SerialPool(this::reserveSerials);
        this.revocation = new RevocationStore(this, db);
    }

    public Database database() {
        return db;
    }

    /** CRLs, pre-signed OCSP responses and revoked CAs. */
    public RevocationStore revocation() {
        return revocation;
    }

    // ---- devices ----

    /**
     * The device as issuance sees it: served from a cache of at most {@link #DEVICE_TTL_MILLIS}
     * for the early check. The commit re-checks the device is active inside its own transaction,
     * so a device disabled or revoked meanwhile (here or on another node) still gets nothing.
     */
    @Override
    public Optional<Device> device(String id) {
        return devices.get(id, this::deviceNow);
    }

    /** The device as stored now, bypassing the cache. */
    public Optional<Device> deviceNow(String id) {
        return queryOne("SELECT id, model, tags, status, key_location, created_at FROM device WHERE id = ?", JdbcStore::toDevice, id);
    }

    public List<Device> devices(int limit) {
        return devices(null, null, null, limit);
    }

    /**
     * A page of devices in id order (keyset paging: pass the last id of the previous page).
     *
     * @param after only ids after this one, or null
     * @param status only this status, or null
     * @param model only this model, or null
     */
    public List<Device> devices(String after, Device.Status status, String model, int limit) {
        StringBuilder sql = new StringBuilder("SELECT id, model, tags, status, key_location, created_at FROM device WHERE 1 = 1");
        List<Object> args = new ArrayList<>();
        if (after != null) {
            sql.append(" AND id > ?");
            args.add(after);
        }
        if (status != null) {
            sql.append(" AND status = ?");
            args.add(status.name());
        }
        if (model != null) {
            sql.append(" AND model = ?");
            args.add(model);
        }
        sql.append(" ORDER BY id LIMIT ").append(Math.max(1, limit));
        return query(sql.toString(), JdbcStore::toDevice, args.toArray());
    }

    public void addDevice(Device d, AuditEvent event) {
        write("device '" + d.id() + "' is already registered; see it with: fleetpki device show " + d.id(), tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO device (id, model, tags, status, key_location, created_at) VALUES (?,?,?,?,?,?)");
            ps.setString(1, d.id());
            ps.setString(2, d.model());
            ps.setString(3, json(d.tags()));
            ps.setString(4, d.status().name());
            ps.setString(5, d.keyLocation());
            ps.setLong(6, d.createdAt().toEpochMilli());
            ps.addBatch();
            tx.audit(event);
        });
    }

    /**
     * Disables or enables a device (ACTIVE or DISABLED; doing it twice is fine). A revoked device
     * stays revoked: CONFLICT, nothing changed.
     */
    public void setDeviceStatus(String id, Device.Status status, AuditEvent event) {
        if (status == Device.Status.REVOKED) {
            throw new IllegalArgumentException("a device is revoked with revokeDevice, which revokes its certificates too");
        }
        devices.invalidate(id);
        write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE device SET status = ? WHERE id = ? AND status <> ?")) {
                ps.setString(1, status.name());
                ps.setString(2, id);
                ps.setString(3, Device.Status.REVOKED.name());
                if (ps.executeUpdate() != 1) {
                    boolean exists;
                    try (PreparedStatement q = tx.connection().prepareStatement("SELECT 1 FROM device WHERE id = ?")) {
                        q.setString(1, id);
                        try (ResultSet rs = q.executeQuery()) {
                            exists = rs.next();
                        }
                    }
                    throw exists ? new PkiException(ErrorKind.CONFLICT, "device '" + id + "' is revoked, and a revoked device stays revoked; "
                            + "register the hardware under a new id to use it again")
                            : new PkiException(ErrorKind.NOT_FOUND, "device '" + id + "' is not registered");
                }
            }
            tx.audit(event);
        });
        devices.invalidate(id);
    }

    /**
     * Marks a device revoked and revokes its unrevoked certificates, in one transaction.
     *
     * @return the serials revoked
     */
    public List<String> revokeDevice(String id, RevocationReason reason, Instant at, Actor actor) {
        devices.invalidate(id);
        List<String> serials = new ArrayList<>();
        write(null, tx -> {
            serials.clear();
            Connection c = tx.connection();
            try (PreparedStatement ps = c.prepareStatement("UPDATE device SET status = ? WHERE id = ?")) {
                ps.setString(1, Device.Status.REVOKED.name());
                ps.setString(2, id);
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "device '" + id + "' is not registered");
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT serial FROM certificate WHERE device_id = ? AND revoked_at IS NULL ORDER BY serial")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        serials.add(rs.getString(1));
                    }
                }
            }
            markRevoked(c, serials, reason, at, null);
            tx.audit(new AuditEvent(at, actor, AuditAction.DEVICE_REVOKE, "device:" + id, Map.of("reason", reason.configName(),
                    "certificates", String.join(",", serials))));
        });
        return List.copyOf(serials);
    }

    // ---- factory stations ----

    /** Registers a station; with a certificate fingerprint it may enroll over the network. */
    public void addStation(Station st, AuditEvent event) {
        write("station '" + st.name() + "' (or its certificate) is already registered; see them with: fleetpki station list", tx -> {
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
    public Optional<Station> stationByCertificate(String certSha256) {
        return queryOne("SELECT name, status, cert_sha256, fleet FROM station WHERE cert_sha256 = ?",
                rs -> new Station(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)), certSha256);
    }

    /** Disables ({@code DISABLED}) or enables ({@code ACTIVE}) a station; doing it twice is fine. */
    public void setStationStatus(String name, String status, AuditEvent event) {
        write(null, tx -> {
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
    public Optional<Station> station(String name) {
        return queryOne("SELECT name, status, cert_sha256, fleet FROM station WHERE name = ?",
                rs -> new Station(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)), name);
    }

    public List<Station> stations() {
        return query("SELECT name, status, cert_sha256, fleet FROM station ORDER BY name",
                rs -> new Station(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)));
    }

    // ---- enrollment secrets ----

    /** Stores a new secret for a device, replacing its unused ones (one live secret per device). */
    public void addEnrollmentSecret(EnrollmentSecret e, AuditEvent event) {
        write(null, tx -> {
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
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO enrollment_secret (id, device_id, secret_hash, created_at, created_by, expires_at) "
                    + "VALUES (?,?,?,?,?,?)")) {
                ps.setString(1, e.id());
                ps.setString(2, e.deviceId());
                ps.setString(3, e.secretHash());
                ps.setLong(4, e.createdAt().toEpochMilli());
                ps.setString(5, e.createdBy().toString());
                ps.setLong(6, e.expiresAt().toEpochMilli());
                ps.executeUpdate();
            }
            tx.audit(event);
        });
    }

    /**
     * The secret, read with its device in one query: the enrollment it authenticates reads the
     * device next ({@link #device}), and finds it in the cache.
     */
    public Optional<EnrollmentSecret> enrollmentSecret(String id) {
        return queryOne("SELECT s.id, s.device_id, s.secret_hash, s.created_at, s.created_by, s.expires_at, s.used_at, s.used_serial, "
                + "d.id, d.model, d.tags, d.status, d.key_location, d.created_at FROM enrollment_secret s LEFT JOIN device d ON d.id = s.device_id "
                + "WHERE s.id = ?", rs -> {
                    if (rs.getString(9) != null) {
                        devices.put(rs.getString(9), toDevice(rs, 9));
                    }
                    return new EnrollmentSecret(rs.getString(1), rs.getString(2), rs.getString(3), Instant.ofEpochMilli(rs.getLong(4)),
                            Actor.parse(rs.getString(5)), Instant.ofEpochMilli(rs.getLong(6)), instant(rs, 7), rs.getString(8));
                }, id);
    }

    // ---- manufacturer CAs ----

    public void addManufacturer(ManufacturerCa m, AuditEvent event) {
        write("a manufacturer CA named '" + m.name() + "' or with this certificate is already trusted; see them with: fleetpki trust list", tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO manufacturer_ca (name, cert_der, fingerprint, map_by, created_at, created_by, fleet) "
                    + "VALUES (?,?,?,?,?,?,?)");
            ps.setString(1, m.name());
            ps.setBytes(2, der(m.certificate()));
            ps.setString(3, m.fingerprint());
            ps.setString(4, m.mapBy().name());
            ps.setLong(5, m.createdAt().toEpochMilli());
            ps.setString(6, m.createdBy().toString());
            ps.setString(7, m.fleet());
            ps.addBatch();
            tx.audit(event);
        });
    }

    public List<ManufacturerCa> manufacturers() {
        return query("SELECT name, cert_der, fingerprint, map_by, created_at, created_by, fleet FROM manufacturer_ca ORDER BY name",
                rs -> new ManufacturerCa(rs.getString(1), cert(rs.getBytes(2)), rs.getString(3), ManufacturerCa.MapBy.valueOf(rs.getString(4)),
                        Instant.ofEpochMilli(rs.getLong(5)), Actor.parse(rs.getString(6)), rs.getString(7)));
    }

    public void removeManufacturer(String name, AuditEvent event) {
        write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM manufacturer_ca WHERE name = ?")) {
                ps.setString(1, name);
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "no trusted manufacturer CA named '" + name + "'; list them with: fleetpki trust list");
                }
            }
            tx.audit(event);
        });
    }

    // ---- pending enrollment requests ----

    private static final String REQUEST_COLUMNS = "id, device_id, profile, csr_der, csr_sha256, status, credential, requested_by, protocol, "
            + "created_at, decided_at, decided_by, reason, serial";

    /** Stores a pending request; CONFLICT when one is already pending for the device and profile. */
    public void addRequest(EnrollmentRequest r, AuditEvent event) {
        write("a request is already pending for device '" + r.deviceId() + "' and profile '" + r.profile() + "'", tx -> {
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

    public Optional<EnrollmentRequest> request(String id) {
        return queryOne("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request WHERE id = ?", JdbcStore::toRequest, id);
    }

    /**
     * In one read, what an enrollment needs to know of earlier requests for this device and
     * profile: those carrying this CSR (a client re-sending it) and the pending one, newest first.
     */
    public List<EnrollmentRequest> requestsFor(String deviceId, String profile, String csrSha256) {
        return query("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request WHERE device_id = ? AND profile = ? "
                + "AND (csr_sha256 = ? OR status = 'PENDING') ORDER BY created_at DESC, id", JdbcStore::toRequest, deviceId, profile, csrSha256);
    }

    public Optional<EnrollmentRequest> pendingRequest(String deviceId, String profile) {
        return queryOne("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request WHERE device_id = ? AND profile = ? AND status = 'PENDING'",
                JdbcStore::toRequest, deviceId, profile);
    }

    /** Requests, oldest first; status null: all. */
    public List<EnrollmentRequest> requests(EnrollmentRequest.Status status, int limit) {
        return status == null
                ? query("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request ORDER BY created_at, id LIMIT ?", JdbcStore::toRequest, limit)
                : query("SELECT " + REQUEST_COLUMNS + " FROM enrollment_request WHERE status = ? ORDER BY created_at, id LIMIT ?",
                        JdbcStore::toRequest, status.name(), limit);
    }

    public long pendingCount() {
        return queryOne("SELECT COUNT(*) FROM enrollment_request WHERE status = 'PENDING'", rs -> rs.getLong(1)).orElse(0L);
    }

    /** Marks a pending request rejected; CONFLICT when it is not pending. */
    public void rejectRequest(String id, String reason, AuditEvent event) {
        write(null, tx -> {
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
                Instant.ofEpochMilli(rs.getLong(10)), instant(rs, 11), decidedBy == null ? null : Actor.parse(decidedBy), rs.getString(13),
                rs.getString(14));
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? null : Instant.ofEpochMilli(v);
    }

    // ---- API tokens ----

    public void addToken(ApiToken t, AuditEvent event) {
        write("a token named '" + t.name() + "' already exists; pick another name or revoke it first: fleetpki token revoke " + t.name(), tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO api_token (id, name, role, secret_hash, created_at, created_by, expires_at, cert_sha256, "
                    + "profiles) VALUES (?,?,?,?,?,?,?,?,?)");
            ps.setString(1, t.id());
            ps.setString(2, t.name());
            ps.setString(3, t.role().name());
            ps.setString(4, t.secretHash());
            ps.setLong(5, t.createdAt().toEpochMilli());
            ps.setString(6, t.createdBy().toString());
            ps.setObject(7, t.expiresAt() == null ? null : t.expiresAt().toEpochMilli(), Types.BIGINT);
            ps.setString(8, t.certSha256());
            ps.setString(9, t.profiles().isEmpty() ? null : String.join(",", new TreeSet<>(t.profiles())));
            ps.addBatch();
            tx.audit(event);
        });
    }

    private static final String TOKEN_COLUMNS = "id, name, role, secret_hash, created_at, created_by, expires_at, revoked_at, cert_sha256, disabled_at, profiles";

    public Optional<ApiToken> token(String id) {
        return queryOne("SELECT " + TOKEN_COLUMNS + " FROM api_token WHERE id = ?", JdbcStore::toToken, id);
    }

    /** The operator credential bound to a client certificate with this SHA-256. */
    public Optional<ApiToken> tokenByCertificate(String certSha256) {
        return queryOne("SELECT " + TOKEN_COLUMNS + " FROM api_token WHERE cert_sha256 = ?", JdbcStore::toToken, certSha256);
    }

    public List<ApiToken> tokens() {
        return query("SELECT " + TOKEN_COLUMNS + " FROM api_token ORDER BY name", JdbcStore::toToken);
    }

    /** Revokes the token of this name (recorded with its audit event). */
    public void revokeToken(String name, Instant at, AuditEvent event) {
        write(null, tx -> {
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
    public void setTokenDisabled(String name, Instant at, AuditEvent event) {
        write(null, tx -> {
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
                Instant.ofEpochMilli(rs.getLong(5)), Actor.parse(rs.getString(6)), expires, revoked, rs.getString(9), instant(rs, 10),
                rs.getString(11) == null ? Set.of() : Set.of(rs.getString(11).split(",")));
    }

    // ---- CAs ----

    /** Stores CA records and their audit events in one transaction. */
    @Override
    public void saveCas(List<CaRecord> cas, List<AuditEvent> events) {
        write("a CA with one of the names " + cas.stream().map(CaRecord::name).toList() + " already exists in the store", tx -> {
            if (cas.isEmpty()) {
                for (AuditEvent e : events) {
                    tx.audit(e);
                }
                return;
            }
            PreparedStatement ps = tx.batch("INSERT INTO ca (name, role, cert_der, key_ref, parent, created_at) VALUES (?,?,?,?,?,?)");
            for (CaRecord c : cas) {
                ps.setString(1, c.name());
                ps.setString(2, c.role().name());
                ps.setBytes(3, der(c.certificate()));
                ps.setString(4, c.keyRef());
                ps.setString(5, c.parent());
                ps.setLong(6, c.createdAt().toEpochMilli());
                ps.addBatch();
            }
            for (AuditEvent e : events) {
                tx.audit(e);
            }
        });
    }

    @Override
    public void recordSubordinate(X509Certificate cert, String issuerName, AuditEvent event) {
        String serial = cert.getSerialNumber().toString(16);
        Tx.CertRow row = new Tx.CertRow(serial, issuerName, null, "sub-ca", cert.getSubjectX500Principal().getName(),
                cert.getNotBefore().getTime(), cert.getNotAfter().getTime(), der(cert), true, event.actor().toString(),
                event.at().toEpochMilli(), "ca-sign");
        write("serial " + serial + " is already recorded in this store", tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO serial_reservation (serial, reserved_at) VALUES (?, ?)")) {
                ps.setString(1, serial);
                ps.setLong(2, event.at().toEpochMilli());
                ps.executeUpdate();
            }
            tx.insertCertificate(row);
            tx.audit(event);
        });
    }

    @Override
    public List<CaRecord> cas() {
        return query("SELECT name, role, cert_der, key_ref, parent, created_at FROM ca ORDER BY created_at, name", JdbcStore::toCa);
    }

    @Override
    public Optional<CaRecord> ca(String name) {
        return queryOne("SELECT name, role, cert_der, key_ref, parent, created_at FROM ca WHERE name = ?", JdbcStore::toCa, name);
    }

    // ---- issuance ----

    @Override
    public String reserveSerial() {
        return serials.take();
    }

    /** Reserves the given serials in one transaction; CONFLICT if any is taken. */
    public void reserveSerials(List<String> serialHex) {
        long now = System.currentTimeMillis();
        write("one of " + serialHex.size() + " serials is already reserved", tx -> {
            PreparedStatement ps = tx.batch("INSERT INTO serial_reservation (serial, reserved_at) VALUES (?,?)");
            for (String s : serialHex) {
                ps.setString(1, s);
                ps.setLong(2, now);
                ps.addBatch();
            }
        });
    }

    /** {@link #commitIssued(IssuedCertificate, AuditEvent, Authorization.Consumes)} using up nothing. */
    public void commitIssued(IssuedCertificate c, AuditEvent event) {
        commitIssued(c, event, null);
    }

    @Override
    public void commitIssued(IssuedCertificate c, AuditEvent event, Authorization.Consumes consumes) {
        Tx.CertRow row = new Tx.CertRow(c.serialHex(), c.caName(), c.deviceId(), c.profile(), c.subject(), c.notBefore().toEpochMilli(),
                c.notAfter().toEpochMilli(), c.der(), c.proofOfPossession(), c.issuedBy().toString(), c.issuedAt().toEpochMilli(),
                c.protocol());
        write("serial " + c.serialHex() + " was already issued", tx -> {
            if (consumes != null) {
                consume(tx, consumes, c);
            }
            tx.insertCertificate(row);
            if (c.deviceId() != null) {
                tx.requireActiveDevice(c.deviceId());
            }
            tx.audit(event);
        });
    }

    private static void consume(Tx tx, Authorization.Consumes consumes, IssuedCertificate c) throws SQLException {
        switch (consumes) {
            case Authorization.SecretUse u -> tx.useSecret(u.secretId(), c.deviceId(), c.serialHex(), c.issuedAt().toEpochMilli());
            case Authorization.RequestApproval a -> {
                try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE enrollment_request SET status = 'ISSUED', decided_at = ?, "
                        + "decided_by = ?, serial = ? WHERE id = ? AND status = 'PENDING'")) {
                    ps.setLong(1, c.issuedAt().toEpochMilli());
                    ps.setString(2, a.approver().toString());
                    ps.setString(3, c.serialHex());
                    ps.setString(4, a.requestId());
                    if (ps.executeUpdate() != 1) {
                        throw new PkiException(ErrorKind.CONFLICT, "request " + a.requestId() + " is no longer pending (decided meanwhile)");
                    }
                }
            }
        }
    }

    @Override
    public void audit(AuditEvent event) {
        write(null, tx -> tx.audit(event));
    }

    // ---- certificates ----

    private static final String CERT_COLUMNS = "serial, ca, device_id, profile, der, proof_of_possession, issued_by, issued_at, protocol, "
            + "revoked_at, revocation_reason";

    public Optional<StoredCertificate> certificate(String serialHex) {
        return queryOne("SELECT " + CERT_COLUMNS + " FROM certificate WHERE serial = ?", JdbcStore::toCert, serialHex.toLowerCase(Locale.ROOT));
    }

    /**
     * Certificates, newest first.
     *
     * @param deviceId only this device's, or null
     * @param notAfterBefore only those ending before this instant and not yet ended at {@code now}, or null
     */
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
        return query(sql.toString(), JdbcStore::toCert, args.toArray());
    }

    public long certificateCount() {
        return queryOne("SELECT COUNT(*) FROM certificate", rs -> rs.getLong(1)).orElse(0L);
    }

    /** Reserved serials, used or not. */
    public long reservationCount() {
        return queryOne("SELECT COUNT(*) FROM serial_reservation", rs -> rs.getLong(1)).orElse(0L);
    }

    /** Records a revocation (time and reason) with its audit event. */
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
    public void revoke(String serialHex, RevocationReason reason, Instant at, Instant invalidSince, AuditEvent event) {
        String serial = serialHex.toLowerCase(Locale.ROOT);
        write(null, tx -> {
            Connection c = tx.connection();
            try (PreparedStatement ps = c.prepareStatement("SELECT revoked_at FROM certificate WHERE serial = ?"
                    + (db.dialect() == Database.Dialect.POSTGRESQL ? " FOR UPDATE" : ""))) {
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
    private static void markRevoked(Connection c, List<String> serials, RevocationReason reason, Instant at, Instant invalidSince) throws SQLException {
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

    // ---- audit ----

    public List<Map<String, Object>> auditTail(int limit) {
        List<Map<String, Object>> rows = query("SELECT seq, at, actor, action, target, detail FROM audit_event ORDER BY seq DESC LIMIT " + limit,
                rs -> Map.<String, Object>of("seq", rs.getLong(1), "at", Instant.ofEpochMilli(rs.getLong(2)), "actor", rs.getString(3),
                        "action", rs.getString(4), "target", rs.getString(5), "detail", rs.getString(6)));
        return rows.reversed();
    }

    /** Recomputes the whole chain; reports edited rows, deleted rows and a moved head. */
    /** The chain's head as the audit_head row has it: the newest event's sequence number and hash. */
    public Map.Entry<Long, String> auditHead() {
        return queryOne("SELECT seq, hash FROM audit_head WHERE id = 1", rs -> Map.entry(rs.getLong(1), rs.getString(2)))
                .orElseThrow(() -> new PkiException(ErrorKind.INTERNAL, "the audit head row is missing"));
    }

    /** The stored hash of audit event {@code seq}, if the event is there. */
    public Optional<String> auditHashAt(long seq) {
        return queryOne("SELECT hash FROM audit_event WHERE seq = ?", rs -> rs.getString(1), seq);
    }

    public AuditVerification verifyAudit() {
        List<String> problems = new ArrayList<>();
        String prev = AuditHash.GENESIS;
        long expected = 1;
        long count = 0;
        try (Connection c = db.read();
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
            throw storeFailure("verify the audit log", e);
        }
        return new AuditVerification(count, prev, List.copyOf(problems));
    }

    // ---- plumbing ----

    void write(String uniqueViolationMessage, GroupCommitter.Op op) {
        try {
            writer.run(op);
        } catch (SQLException e) {
            if (uniqueViolationMessage != null && GroupCommitter.isUniqueViolation(e)) {
                throw new PkiException(ErrorKind.CONFLICT, uniqueViolationMessage);
            }
            throw storeFailure("write", e);
        }
    }

    PkiException storeFailure(String what, SQLException e) {
        return new PkiException(ErrorKind.INTERNAL, "the store at " + db.describe() + " could not " + what + ": " + e.getMessage(), e);
    }

    interface Row<T> {
        T map(ResultSet rs) throws SQLException;
    }

    <T> List<T> query(String sql, Row<T> row, Object... args) {
        try (Connection c = db.read()) {
            if (statements == null) {
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    return rows(ps, row, args);
                }
            }
            PreparedStatement ps = statements.prepare(c, sql);
            try {
                return rows(ps, row, args);
            } catch (SQLException | RuntimeException e) {
                statements.forget(c, sql);
                throw e;
            }
        } catch (SQLException e) {
            throw storeFailure("read", e);
        }
    }

    private static <T> List<T> rows(PreparedStatement ps, Row<T> row, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) {
            ps.setObject(i + 1, args[i]);
        }
        List<T> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) { // closing it resets the statement: SQLite's read transaction ends here
            while (rs.next()) {
                out.add(row.map(rs));
            }
        }
        return out;
    }

    <T> Optional<T> queryOne(String sql, Row<T> row, Object... args) {
        List<T> l = query(sql, row, args);
        return l.isEmpty() ? Optional.empty() : Optional.of(l.getFirst());
    }

    private static Device toDevice(ResultSet rs) throws SQLException {
        return toDevice(rs, 1);
    }

    /** The device in the six columns from {@code first}: id, model, tags, status, key_location, created_at. */
    private static Device toDevice(ResultSet rs, int first) throws SQLException {
        Map<String, String> tags;
        String json = rs.getString(first + 2);
        try {
            // most devices have no tags: they skip the JSON parser (half the cost of mapping a device row, profiled)
            tags = "{}".equals(json) ? Map.of() : JSON.readValue(json, new TypeReference<Map<String, String>>() {});
        } catch (JsonProcessingException e) {
            throw new SQLException("device tags are not JSON", e);
        }
        return new Device(rs.getString(first), rs.getString(first + 1), tags, Device.Status.valueOf(rs.getString(first + 3)), rs.getString(first + 4),
                Instant.ofEpochMilli(rs.getLong(first + 5)));
    }

    private static CaRecord toCa(ResultSet rs) throws SQLException {
        return new CaRecord(rs.getString(1), CaRole.valueOf(rs.getString(2)), cert(rs.getBytes(3)), rs.getString(4), rs.getString(5),
                Instant.ofEpochMilli(rs.getLong(6)));
    }

    private static StoredCertificate toCert(ResultSet rs) throws SQLException {
        IssuedCertificate ic = new IssuedCertificate(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), cert(rs.getBytes(5)),
                rs.getBoolean(6), null, Actor.parse(rs.getString(7)), Instant.ofEpochMilli(rs.getLong(8)),
                rs.getString(9));
        long revoked = rs.getLong(10);
        boolean notRevoked = rs.wasNull();
        String reason = rs.getString(11);
        return new StoredCertificate(ic, notRevoked ? null : Instant.ofEpochMilli(revoked), reason == null ? null : RevocationReason.valueOf(reason));
    }

    static X509Certificate cert(byte[] der) throws SQLException {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
        } catch (CertificateException e) {
            throw new SQLException("stored certificate does not decode", e);
        }
    }

    private static byte[] der(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode certificate", e);
        }
    }

    private static String json(Map<String, String> m) {
        try {
            return JSON.writeValueAsString(new TreeMap<>(m));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        writer.close();
        db.close();
    }
}
