package dev.fleetpki.store;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.revocation.RevocationLedger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What revocation publishing reads and writes: the revoked certificates and CAs a CRL lists, the
 * newest CRL of each CA and shard, and the pre-signed OCSP responses. Reads work on a read-only
 * store (a replica), so CRL and OCSP serving can run on nodes that cannot issue.
 */
public final class RevocationStore implements RevocationLedger {
    private final Jdbc store;
    private final Database db;

    RevocationStore(Jdbc store) {
        this.store = store;
        this.db = store.db();
    }

    /**
     * Streams the revocations a CA's CRL lists: its revoked certificates and its revoked
     * subordinate CAs (and OCSP signers), leaving out those whose notAfter is before {@code notAfterFrom}
     * (pass 0 to keep expired ones).
     *
     * @return how many were streamed
     */
    @Override
    public long forEachRevoked(String ca, long notAfterFrom, RevokedSink sink) {
        long n = 0;
        try (Connection c = db.read()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT serial, revoked_at, revocation_reason, invalidity_date FROM certificate "
                    + "WHERE ca = ? AND revoked_at IS NOT NULL AND not_after >= ?")) {
                ps.setFetchSize(10_000);
                ps.setString(1, ca);
                ps.setLong(2, notAfterFrom);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        sink.accept(rs.getString(1), rs.getLong(2), RevocationReason.valueOf(rs.getString(3)), rs.getLong(4));
                        n++;
                    }
                }
            }
            // Sub-CAs are few: their notAfter is read from the certificate itself.
            try (PreparedStatement ps = c.prepareStatement("SELECT cert_der, revoked_at, revocation_reason FROM ca WHERE parent = ? AND revoked_at IS NOT NULL")) {
                ps.setString(1, ca);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        var cert = Jdbc.cert(rs.getBytes(1));
                        if (cert.getNotAfter().getTime() >= notAfterFrom) {
                            sink.accept(cert.getSerialNumber().toString(16), rs.getLong(2), RevocationReason.valueOf(rs.getString(3)), 0);
                            n++;
                        }
                    }
                }
            }
        } catch (SQLException e) {
            throw store.storeFailure("read the revoked certificates of CA '" + ca + "'", e);
        }
        return n;
    }

    /** Records a sub-CA's (or the OCSP signer's) revocation; its parent's CRL lists it from the next generation on. */
    @Override
    public void revokeCa(String name, RevocationReason reason, Instant at, AuditEvent event) {
        store.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE ca SET revoked_at = ?, revocation_reason = ? "
                    + "WHERE name = ? AND parent IS NOT NULL AND revoked_at IS NULL")) {
                ps.setLong(1, at.toEpochMilli());
                ps.setString(2, reason.name());
                ps.setString(3, name);
                if (ps.executeUpdate() != 1) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "no unrevoked subordinate CA named '" + name + "' (a root is not revoked: "
                            + "relying parties remove it from their trust stores); list them with: fleetpki ca list");
                }
            }
            bumpEpoch(tx.connection());
            tx.audit(event);
        });
    }

    /** Moves the revocation epoch, in the revoking transaction (V5 migration). */
    static void bumpEpoch(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1")) {
            ps.executeUpdate();
        }
    }

    /**
     * The revocation epoch: it moves whenever a revocation commits on any node, so a responder that
     * keeps answers in memory polls it and drops them when it changed.
     */
    @Override
    public long epoch() {
        return store.queryOne("SELECT epoch FROM revocation_epoch WHERE id = 1", rs -> rs.getLong(1)).orElse(0L);
    }

    /** When a CA was revoked, if it was. */
    @Override
    public Optional<Instant> caRevokedAt(String name) {
        return store.queryOne("SELECT revoked_at FROM ca WHERE name = ? AND revoked_at IS NOT NULL", rs -> Instant.ofEpochMilli(rs.getLong(1)), name);
    }

    // ---- CRLs ----

    /**
     * A CA's CRL number for the next generation run: one more than any stored (or than the floor a
     * restore set, past the numbers the lost state may have used), 1 for the first.
     */
    @Override
    public long nextCrlNumber(String ca) {
        long stored = store.queryOne("SELECT MAX(number) FROM crl WHERE ca = ?", rs -> rs.getLong(1), ca).orElse(0L);
        long floor = store.queryOne("SELECT floor FROM crl_number_floor WHERE ca = ?", rs -> rs.getLong(1), ca).orElse(0L);
        return Math.max(stored, floor) + 1;
    }

    /** First key of fleetpki's PostgreSQL advisory locks ("fpki"); the second is the lease name's hash. */
    static final int LOCK_SPACE = 0x66706b69;
    /** SQLite serves one node: the leases are this process's. */
    private final java.util.concurrent.ConcurrentHashMap<String, java.util.concurrent.locks.ReentrantLock> localLeases =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * On PostgreSQL a session-level advisory lock ({@code pg_try_advisory_lock}) on a connection
     * kept for the work's duration: the database is the arbiter, and a node that dies or loses its
     * connection releases the lease with its session. On SQLite (one serving node per file) a lock of
     * this process; a CLI command beside the server is kept from reusing a CRL number by
     * {@link #saveCrls}'s check instead.
     */
    @Override
    public <T> Optional<T> exclusively(String name, java.time.Duration wait, java.util.function.Supplier<T> work) {
        long deadline = System.nanoTime() + wait.toNanos();
        if (store.db().dialect() == Database.Dialect.SQLITE) {
            var lock = localLeases.computeIfAbsent(name, k -> new java.util.concurrent.locks.ReentrantLock());
            if (!waited(() -> lock.tryLock(wait.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS))) {
                return Optional.empty();
            }
            try {
                return Optional.ofNullable(work.get());
            } finally {
                lock.unlock();
            }
        }
        try (Connection c = store.db().read()) {
            while (!advisory(c, "SELECT pg_try_advisory_lock(?, ?)", name)) {
                if (System.nanoTime() >= deadline || !waited(() -> {
                    Thread.sleep(100);
                    return true;
                })) {
                    return Optional.empty();
                }
            }
            try {
                return Optional.ofNullable(work.get());
            } finally {
                try {
                    advisory(c, "SELECT pg_advisory_unlock(?, ?)", name);
                } catch (SQLException e) {
                    // the session is gone, and its locks with it
                }
            }
        } catch (SQLException e) {
            throw store.storeFailure("take the lease '" + name + "'", e);
        }
    }

    private interface Wait {
        boolean run() throws InterruptedException;
    }

    /** What a wait returned; false when the thread was interrupted (kept interrupted). */
    private static boolean waited(Wait w) {
        try {
            return w.run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static boolean advisory(Connection c, String sql, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setInt(1, LOCK_SPACE);
            ps.setInt(2, name.hashCode());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /**
     * Stores one generation run of a CA's CRLs (all its shards) in one transaction, replacing the
     * ones before; refuses a number that is not above the stored one (another node published first),
     * so CRL numbers never go backwards.
     */
    @Override
    public void saveCrls(List<StoredCrl> crls, AuditEvent event) {
        if (crls.isEmpty()) {
            return;
        }
        String ca = crls.getFirst().ca();
        long number = crls.getFirst().number();
        store.write(null, tx -> {
            Connection c = tx.connection();
            try (PreparedStatement ps = c.prepareStatement("SELECT MAX(number) FROM crl WHERE ca = ?")) {
                ps.setString(1, ca);
                try (ResultSet rs = ps.executeQuery()) {
                    long stored = rs.next() ? rs.getLong(1) : 0;
                    if (stored >= number) {
                        throw new PkiException(ErrorKind.CONFLICT, "CRL number " + number + " of CA '" + ca + "' is not above the stored "
                                + stored + " (another node published meanwhile); generate again");
                    }
                }
            }
            try (PreparedStatement del = c.prepareStatement("DELETE FROM crl WHERE ca = ?")) {
                del.setString(1, ca);
                del.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO crl (ca, shard, shards, number, this_update, next_update, entries, der) "
                    + "VALUES (?,?,?,?,?,?,?,?)")) {
                for (StoredCrl crl : crls) {
                    ps.setString(1, crl.ca());
                    ps.setInt(2, crl.shard());
                    ps.setInt(3, crl.shards());
                    ps.setLong(4, crl.number());
                    ps.setLong(5, crl.thisUpdate().toEpochMilli());
                    ps.setLong(6, crl.nextUpdate().toEpochMilli());
                    ps.setLong(7, crl.entries());
                    ps.setBytes(8, crl.der());
                    ps.executeUpdate();
                }
            }
            if (event != null) {
                tx.audit(event);
            }
        });
    }

    /** The newest CRL of a CA's shard, with its bytes. */
    @Override
    public Optional<StoredCrl> crl(String ca, int shard) {
        return store.queryOne("SELECT ca, shard, shards, number, this_update, next_update, entries, der FROM crl WHERE ca = ? AND shard = ?",
                rs -> new StoredCrl(rs.getString(1), rs.getInt(2), rs.getInt(3), rs.getLong(4), Instant.ofEpochMilli(rs.getLong(5)),
                        Instant.ofEpochMilli(rs.getLong(6)), rs.getLong(7), rs.getBytes(8)), ca, shard);
    }

    /** The size in bytes of a CA shard's stored CRL (0: none), read without the CRL itself. */
    public long crlSize(String ca, int shard) {
        return store.queryOne("SELECT length(der) FROM crl WHERE ca = ? AND shard = ?", rs -> rs.getLong(1), ca, shard).orElse(0L);
    }

    /** The newest CRLs of every CA, without their bytes (der is empty): what {@code crl show} lists. */
    @Override
    public List<StoredCrl> crls() {
        return store.query("SELECT ca, shard, shards, number, this_update, next_update, entries FROM crl ORDER BY ca, shard",
                rs -> new StoredCrl(rs.getString(1), rs.getInt(2), rs.getInt(3), rs.getLong(4), Instant.ofEpochMilli(rs.getLong(5)),
                        Instant.ofEpochMilli(rs.getLong(6)), rs.getLong(7), new byte[0]));
    }

    /** The number of the newest stored CRL of a CA's shard, or 0: a cheap check whether a served copy is current. */
    @Override
    public long crlNumber(String ca, int shard) {
        return store.queryOne("SELECT number FROM crl WHERE ca = ? AND shard = ?", rs -> rs.getLong(1), ca, shard).orElse(0L);
    }

    // ---- OCSP ----

    @Override
    public Optional<OcspRow> ocspResponse(String serialHex) {
        return store.queryOne("SELECT serial, ca, status, this_update, next_update, der FROM ocsp_response WHERE serial = ?",
                rs -> new OcspRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4), rs.getLong(5), rs.getBytes(6)), serialHex);
    }

    @Override
    public Optional<CertStatus> certStatus(String serialHex) {
        return store.queryOne("SELECT serial, ca, not_after, revoked_at, revocation_reason FROM certificate WHERE serial = ?", RevocationStore::status, serialHex);
    }

    /**
     * Live certificates (notAfter at or after {@code now}) whose pre-signed response is missing or
     * ends before {@code staleBefore}, at most {@code limit}, in serial order after {@code after}
     * (keyset paging for a pass over a large store).
     */
    @Override
    public List<CertStatus> needingOcsp(long now, long staleBefore, String after, int limit) {
        return store.query("SELECT c.serial, c.ca, c.not_after, c.revoked_at, c.revocation_reason FROM certificate c "
                + "LEFT JOIN ocsp_response o ON o.serial = c.serial "
                + "WHERE c.serial > ? AND c.not_after >= ? AND (o.serial IS NULL OR o.next_update < ?) ORDER BY c.serial LIMIT " + Math.max(1, limit),
                RevocationStore::status, after == null ? "" : after, now, staleBefore);
    }

    private static CertStatus status(ResultSet rs) throws SQLException {
        long revokedAt = rs.getLong(4);
        String reason = rs.getString(5);
        return new CertStatus(rs.getString(1), rs.getString(2), rs.getLong(3), revokedAt, reason == null ? null : RevocationReason.valueOf(reason));
    }

    /**
     * Stores pre-signed responses (replacing older ones of the same serials) in one transaction. A
     * "good" response is stored only while the certificate is still unrevoked, checked in the same
     * transaction, so a response signed just before a revocation committed is never kept.
     */
    @Override
    public void saveOcspResponses(List<OcspRow> rows) {
        if (rows.isEmpty()) {
            return;
        }
        String upsert = "INSERT INTO ocsp_response (serial, ca, status, this_update, next_update, der) SELECT ?, ?, ?, ?, ?, ? "
                + "WHERE EXISTS (SELECT 1 FROM certificate WHERE serial = ? AND (revoked_at IS NULL OR ? <> 'good')) "
                + "ON CONFLICT (serial) DO UPDATE SET ca = excluded.ca, status = excluded.status, this_update = excluded.this_update, "
                + "next_update = excluded.next_update, der = excluded.der";
        store.write(null, tx -> {
            try (PreparedStatement ps = tx.connection().prepareStatement(upsert)) {
                for (OcspRow r : rows) {
                    ps.setString(1, r.serialHex());
                    ps.setString(2, r.ca());
                    ps.setString(3, r.status());
                    ps.setLong(4, r.thisUpdate());
                    ps.setLong(5, r.nextUpdate());
                    ps.setBytes(6, r.der());
                    ps.setString(7, r.serialHex());
                    ps.setString(8, r.status());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        });
    }

    /** When the pre-signed OCSP answer that ends first ends, if there is any. */
    public Optional<Instant> oldestOcspNextUpdate() {
        List<Optional<Instant>> l = store.query("SELECT MIN(next_update) FROM ocsp_response", rs -> Optional.ofNullable(Jdbc.instant(rs, 1)));
        return l.isEmpty() ? Optional.empty() : l.getFirst();
    }

    @Override
    public long ocspResponseCount() {
        return store.queryOne("SELECT COUNT(*) FROM ocsp_response", rs -> rs.getLong(1)).orElse(0L);
    }
}
