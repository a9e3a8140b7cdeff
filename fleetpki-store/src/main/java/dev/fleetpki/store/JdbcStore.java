package dev.fleetpki.store;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceLedger;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Rollover;
import dev.fleetpki.core.StationSyncStore;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.store.AuditLog;
import dev.fleetpki.core.store.CertificateStore;
import dev.fleetpki.core.store.CredentialStore;
import dev.fleetpki.core.store.DeviceStore;
import dev.fleetpki.core.store.RequestStore;
import dev.fleetpki.core.store.CmpTransactionStore;
import dev.fleetpki.core.store.NonceStore;
import dev.fleetpki.core.store.SignerStore;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * fleetpki's store on JDBC (SQLite or PostgreSQL). Every write is one transaction through the
 * {@link GroupCommitter}, with its audit event in the same transaction. It is the issuance ledger
 * and the CA registry itself, and hands out one object per aggregate, each implementing the
 * narrow interface of core its consumers use: {@link #devices()}, {@link #credentials()},
 * {@link #requests()}, {@link #certificates()}, {@link #signers()}, {@link #auditLog()}, {@link #revocation()}.
 */
public final class JdbcStore implements IssuanceLedger, CaRegistry, StationSyncStore, AutoCloseable {
    private final Jdbc jdbc;
    private final SerialPool serials;
    private final RevocationStore revocation;
    private final JdbcDevices devices;
    private final JdbcCredentials credentials;
    private final JdbcRequests requests;
    private final JdbcCertificates certificates;
    private final JdbcAuditLog auditLog;
    private final JdbcSigners signers;
    private final JdbcCmpTransactions cmp;
    private final JdbcWebhooks webhooks;
    private final JdbcOperators operators;

    public JdbcStore(Database db) {
        this.jdbc = new Jdbc(db);
        this.serials = new SerialPool(this::reserveSerials);
        this.revocation = new RevocationStore(jdbc);
        this.devices = new JdbcDevices(jdbc);
        this.credentials = new JdbcCredentials(jdbc, devices);
        this.requests = new JdbcRequests(jdbc);
        this.certificates = new JdbcCertificates(jdbc);
        this.auditLog = new JdbcAuditLog(jdbc);
        this.signers = new JdbcSigners(jdbc);
        this.cmp = new JdbcCmpTransactions(jdbc);
        this.webhooks = new JdbcWebhooks(jdbc);
        this.operators = new JdbcOperators(jdbc);
    }

    public Database database() {
        return jdbc.db();
    }

    /** CRLs, pre-signed OCSP responses and revoked CAs. */
    public RevocationStore revocation() {
        return revocation;
    }

    /** Registered devices. */
    public DeviceStore devices() {
        return devices;
    }

    /** Stations, one-time secrets, manufacturer CAs, API tokens. */
    public CredentialStore credentials() {
        return credentials;
    }

    /** Enrollment requests kept for an operator. */
    public RequestStore requests() {
        return requests;
    }

    /** Issued certificates and their revocation. */
    public CertificateStore certificates() {
        return certificates;
    }

    /** Firmware signers. */
    public SignerStore signers() {
        return signers;
    }

    /** Registry notification delivery state. */
    public dev.fleetpki.core.store.WebhookStore webhooks() {
        return webhooks;
    }

    /** CMP transactions between their messages. */
    public CmpTransactionStore cmp() {
        return cmp;
    }

    /** Nonces protocols have seen. */
    public NonceStore nonces() {
        return cmp;
    }

    /** Console operators and their sessions. */
    public dev.fleetpki.core.store.OperatorStore operators() {
        return operators;
    }

    /** The audit log: reading and verifying it. */
    public AuditLog auditLog() {
        return auditLog;
    }

    /** Reserved serials, used or not. */
    public long reservationCount() {
        return jdbc.queryOne("SELECT COUNT(*) FROM serial_reservation", rs -> rs.getLong(1)).orElse(0L);
    }

    // ---- the issuance ledger ----

    /** The device as issuance sees it: from a cache of at most 10 s (the commit checks the device again). */
    @Override
    public Optional<Device> device(String id) {
        return devices.cached(id);
    }

    // ---- CAs ----

    /** Stores CA records and their audit events in one transaction. */
    @Override
    public void saveCas(List<CaRecord> cas, List<AuditEvent> events) {
        jdbc.write("a CA with one of the names " + cas.stream().map(CaRecord::name).toList() + " already exists in the store", tx -> {
            if (cas.isEmpty()) {
                for (AuditEvent e : events) {
                    tx.audit(e);
                }
                return;
            }
            PreparedStatement ps = tx.batch(INSERT_CA);
            for (CaRecord c : cas) {
                bind(ps, c);
                ps.addBatch();
            }
            for (AuditEvent e : events) {
                tx.audit(e);
            }
        });
    }

    @Override
    public void recordSubordinate(X509Certificate cert, String issuerName, AuditEvent event) {
        jdbc.write("serial " + cert.getSerialNumber().toString(16) + " is already recorded in this store", tx -> {
            insertSubordinate(tx, cert, issuerName, event, "ca-sign");
            tx.audit(event);
        });
    }

    private static final String INSERT_CA = "INSERT INTO ca (name, role, cert_der, key_ref, parent, created_at) VALUES (?,?,?,?,?,?)";

    private static void bind(PreparedStatement ps, CaRecord c) throws SQLException {
        ps.setString(1, c.name());
        ps.setString(2, c.role().name());
        ps.setBytes(3, Jdbc.der(c.certificate()));
        ps.setString(4, c.keyRef());
        ps.setString(5, c.parent());
        ps.setLong(6, c.createdAt().toEpochMilli());
    }

    /** A CA certificate this store's CA signed for a key kept elsewhere, as a certificate of that CA (its serial reserved), so it can be revoked. */
    private static void insertSubordinate(Tx tx, X509Certificate cert, String issuerName, AuditEvent event, String protocol) throws SQLException {
        String serial = cert.getSerialNumber().toString(16);
        try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO serial_reservation (serial, reserved_at) VALUES (?, ?)")) {
            ps.setString(1, serial);
            ps.setLong(2, event.at().toEpochMilli());
            ps.executeUpdate();
        }
        tx.insertCertificate(new Tx.CertRow(serial, issuerName, null, "sub-ca", cert.getSubjectX500Principal().getName(),
                cert.getNotBefore().getTime(), cert.getNotAfter().getTime(), Jdbc.der(cert), true, event.actor().toString(),
                event.at().toEpochMilli(), protocol));
    }

    @Override
    public List<CaRecord> cas() {
        return jdbc.query("SELECT name, role, cert_der, key_ref, parent, created_at FROM ca ORDER BY created_at, name", JdbcStore::toCa);
    }

    @Override
    public Optional<CaRecord> ca(String name) {
        return jdbc.queryOne("SELECT name, role, cert_der, key_ref, parent, created_at FROM ca WHERE name = ?", JdbcStore::toCa, name);
    }

    @Override
    public List<Rollover> rollovers() {
        return jdbc.query("SELECT old_name, new_name, role, key_ref, subject, step, new_with_old, old_with_new, started_at, updated_at "
                + "FROM ca_rollover ORDER BY started_at, old_name", rs -> new Rollover(rs.getString(1), rs.getString(2),
                CaRole.valueOf(rs.getString(3)), rs.getString(4), rs.getString(5), Rollover.Step.valueOf(rs.getString(6)),
                rs.getBytes(7) == null ? null : Jdbc.cert(rs.getBytes(7)), rs.getBytes(8) == null ? null : Jdbc.cert(rs.getBytes(8)),
                Instant.ofEpochMilli(rs.getLong(9)), Instant.ofEpochMilli(rs.getLong(10))));
    }

    @Override
    public void saveRollover(Rollover next, Rollover.Step expected, List<CaRecord> newCas, List<Rollover.Signed> signed, AuditEvent event) {
        jdbc.write("the rollover of CA '" + next.oldName() + "' was changed by someone else meanwhile; run the command again", tx -> {
            Connection c = tx.connection();
            if (expected == null) {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO ca_rollover (old_name, new_name, role, key_ref, subject, step, "
                        + "new_with_old, old_with_new, started_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)")) {
                    ps.setString(1, next.oldName());
                    ps.setString(2, next.newName());
                    ps.setString(3, next.role().name());
                    ps.setString(4, next.newKeyRef());
                    ps.setString(5, next.newSubject());
                    ps.setString(6, next.step().name());
                    ps.setBytes(7, next.newWithOld() == null ? null : Jdbc.der(next.newWithOld()));
                    ps.setBytes(8, next.oldWithNew() == null ? null : Jdbc.der(next.oldWithNew()));
                    ps.setLong(9, next.startedAt().toEpochMilli());
                    ps.setLong(10, next.updatedAt().toEpochMilli());
                    ps.executeUpdate();
                }
            } else {
                try (PreparedStatement ps = c.prepareStatement("UPDATE ca_rollover SET step = ?, new_with_old = ?, old_with_new = ?, updated_at = ? "
                        + "WHERE old_name = ? AND step = ?")) {
                    ps.setString(1, next.step().name());
                    ps.setBytes(2, next.newWithOld() == null ? null : Jdbc.der(next.newWithOld()));
                    ps.setBytes(3, next.oldWithNew() == null ? null : Jdbc.der(next.oldWithNew()));
                    ps.setLong(4, next.updatedAt().toEpochMilli());
                    ps.setString(5, next.oldName());
                    ps.setString(6, expected.name());
                    if (ps.executeUpdate() != 1) {
                        throw new PkiException(ErrorKind.CONFLICT, "the rollover of CA '" + next.oldName() + "' is no longer at step "
                                + expected.wireName() + "; run the command again to see where it is");
                    }
                }
            }
            if (!newCas.isEmpty()) {
                try (PreparedStatement ps = c.prepareStatement(INSERT_CA)) {
                    for (CaRecord r : newCas) {
                        bind(ps, r);
                        ps.executeUpdate();
                    }
                }
            }
            for (Rollover.Signed sc : signed) {
                insertSubordinate(tx, sc.certificate(), sc.issuerName(), event, "ca-rollover");
            }
            tx.audit(event);
        });
    }

    // ---- issuance ----

    @Override
    public String reserveSerial() {
        return serials.take();
    }

    /** Reserves the given serials in one transaction; CONFLICT if any is taken. */
    public void reserveSerials(List<String> serialHex) {
        long now = System.currentTimeMillis();
        jdbc.write("one of " + serialHex.size() + " serials is already reserved", tx -> {
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
        jdbc.write("serial " + c.serialHex() + " was already issued", tx -> {
            if (consumes != null && !(consumes instanceof Authorization.SignerEnrollment)) {
                consume(tx, consumes, c);
            }
            tx.insertCertificate(row);
            if (consumes instanceof Authorization.SignerEnrollment e) { // after the certificate row it refers to
                JdbcSigners.enroll(tx, e, c);
            }
            if (c.deviceId() != null) {
                tx.requireActiveDevice(c.deviceId());
            }
            tx.audit(event);
        });
    }

    private static void consume(Tx tx, Authorization.Consumes consumes, IssuedCertificate c) throws SQLException {
        switch (consumes) {
            case Authorization.SignerEnrollment e -> JdbcSigners.enroll(tx, e, c);
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
        jdbc.write(null, tx -> tx.audit(event));
    }

    @Override
    public Optional<StationSyncStore.SyncState> syncState(String ca) {
        return jdbc.queryOne("SELECT ca, station, cert_sha256, entries, head_hash, synced_at FROM station_sync WHERE ca = ?",
                rs -> new StationSyncStore.SyncState(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4), rs.getString(5),
                        Instant.ofEpochMilli(rs.getLong(6))), ca);
    }

    @Override
    public void commitSync(CaRecord newCa, List<Device> newDevices, List<IssuedCertificate> certificates, List<AuditEvent> events,
                           StationSyncStore.SyncState state, long previousEntries) {
        jdbc.write("a certificate or device of this sync was stored meanwhile; nothing was taken: run the sync again", tx -> {
            Connection c = tx.connection();
            // the sync state first: a sync of the same CA that committed meanwhile makes this one store nothing
            String sql = previousEntries == 0
                    ? "INSERT INTO station_sync (station, cert_sha256, entries, head_hash, synced_at, ca) VALUES (?,?,?,?,?,?)"
                    : "UPDATE station_sync SET station = ?, cert_sha256 = ?, entries = ?, head_hash = ?, synced_at = ? WHERE ca = ? AND entries = ?";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.setString(1, state.station());
                ps.setString(2, state.caCertSha256());
                ps.setLong(3, state.entries());
                ps.setString(4, state.headHash());
                ps.setLong(5, state.syncedAt().toEpochMilli());
                ps.setString(6, state.ca());
                if (previousEntries != 0) {
                    ps.setLong(7, previousEntries);
                }
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.CONFLICT, "another sync of station CA '" + state.ca() + "' committed meanwhile; run this one again");
                }
            }
            if (newCa != null) {
                try (PreparedStatement ps = c.prepareStatement(INSERT_CA)) {
                    bind(ps, newCa);
                    ps.executeUpdate();
                }
            }
            if (!newDevices.isEmpty()) {
                try (PreparedStatement ps = c.prepareStatement(JdbcDevices.INSERT_DEVICE)) {
                    for (Device d : newDevices) {
                        JdbcDevices.bind(ps, d);
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO serial_reservation (serial, reserved_at) VALUES (?, ?)")) {
                for (IssuedCertificate ic : certificates) {
                    ps.setString(1, ic.serialHex());
                    ps.setLong(2, ic.issuedAt().toEpochMilli());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            for (IssuedCertificate ic : certificates) {
                tx.insertCertificate(new Tx.CertRow(ic.serialHex(), ic.caName(), ic.deviceId(), ic.profile(), ic.subject(), ic.notBefore().toEpochMilli(),
                        ic.notAfter().toEpochMilli(), ic.der(), ic.proofOfPossession(), ic.issuedBy().toString(), ic.issuedAt().toEpochMilli(),
                        ic.protocol()));
            }
            for (AuditEvent e : events) {
                tx.audit(e);
            }
        });
    }

    @Override
    public long issuedBy(String ca) {
        return jdbc.queryOne("SELECT COUNT(*) FROM certificate WHERE ca = ?", rs -> rs.getLong(1), ca).orElse(0L);
    }

    private static CaRecord toCa(ResultSet rs) throws SQLException {
        return new CaRecord(rs.getString(1), CaRole.valueOf(rs.getString(2)), Jdbc.cert(rs.getBytes(3)), rs.getString(4), rs.getString(5),
                Instant.ofEpochMilli(rs.getLong(6)));
    }

    @Override
    public void close() {
        jdbc.writer().close();
        jdbc.db().close();
    }
}
