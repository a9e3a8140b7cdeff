package dev.fleetpki.store;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One write transaction of the group committer. Writes may be batched ({@link #batch}) across
 * the operations of a group; {@link #connection()} first writes what is pending so reads see it.
 * Audit events are chained here, in sequence order; issued certificates and audit events are
 * kept as rows until {@link #finish}. What both databases share is here: the chaining, the rows,
 * the secrets used up, the generic batches. Where they differ is {@link #finish}: on SQLite the
 * head update, the device check and the rows as kept statements, one after the other (a local
 * file: round trips cost nothing); on PostgreSQL all of it in one round trip
 * ({@link PostgresGroupWrite}).
 */
final class Tx {
    static final String INSERT_CERTIFICATE = "INSERT INTO certificate (serial, ca, device_id, profile, subject, not_before, not_after, der, "
            + "proof_of_possession, issued_by, issued_at, protocol)";
    static final String INSERT_AUDIT = "INSERT INTO audit_event (seq, at, actor, action, target, detail, prev_hash, hash)";

    private final Connection c;
    private final Database.Dialect dialect;
    private final Map<String, PreparedStatement> batches = new LinkedHashMap<>();
    private final Set<String> activeDevices = new LinkedHashSet<>();
    private final List<CertRow> certs = new ArrayList<>();
    private final List<AuditRow> audits = new ArrayList<>();
    private final List<SecretUse> secretUses = new ArrayList<>();
    private final AuditChain chain;
    private long seq = -1;
    private String head;
    /** The head this transaction chains from (cached or read back), which the head update requires unchanged; -1 before the first event. */
    private long baseSeq = -1;
    private String baseHash;

    /** The writer's kept statements (SQLite), or null: prepared per transaction and closed. */
    private final StatementCache statements;

    Tx(Connection c, Database.Dialect dialect, AuditChain chain, StatementCache statements) {
        this.c = c;
        this.dialect = dialect;
        this.chain = chain;
        this.statements = statements;
    }

    /** A statement in use: closing it closes a statement prepared for this use only, and keeps a kept one. */
    private record Use(PreparedStatement ps, boolean kept) implements AutoCloseable {
        @Override
        public void close() throws SQLException {
            if (!kept) {
                ps.close();
            }
        }
    }

    private Use use(String sql) throws SQLException {
        return new Use(prepare(sql), statements != null);
    }

    /**
     * Rows sent per execution of a batch. The SQLite driver keeps a kept statement's batch buffer
     * at the largest size it ever held and clears all of it at every execution, so one import of
     * 100,000 audit events would make every later small group pay for clearing 800,000 slots.
     */
    static final int CHUNK = 256;

    /** Adds the bound row to the batch and sends the batch at every CHUNK rows; returns the rows added. */
    private static int addChunked(PreparedStatement ps, int added) throws SQLException {
        ps.addBatch();
        if (++added % CHUNK == 0) {
            ps.executeBatch();
        }
        return added;
    }

    /** Kept by the writer's cache (SQLite), else new: the caller closes it then. */
    private PreparedStatement prepare(String sql) throws SQLException {
        return statements == null ? c.prepareStatement(sql) : statements.prepare(c, sql);
    }

    /** A certificate row as stored. */
    record CertRow(String serial, String ca, String deviceId, String profile, String subject, long notBefore, long notAfter, byte[] der,
                   boolean proofOfPossession, String issuedBy, long issuedAt, String protocol) {}

    /** A one-time enrollment secret used up by the certificate with this serial. */
    private record SecretUse(String id, String deviceId, String serial, long at) {}

    private static final String USE_SECRET = "UPDATE enrollment_secret SET used_at = ?, used_serial = ? "
            + "WHERE id = ? AND device_id = ? AND used_at IS NULL AND expires_at > ?";

    record AuditRow(long seq, long at, String actor, String action, String target, String detail, String prevHash, String hash) {}

    /**
     * The audit chain head as the writer last committed it, so a group need not read it back. A
     * failure forgets it; the next group then reads it under its row lock. Another process may
     * move the head meanwhile (the CLI beside a server, a second node): the head update is
     * conditional on the value chained from, and fails as stale. Used by the writer thread only.
     */
    static final class AuditChain {
        /**
         * How long after another writer moved the head under this one (another node on the same
         * PostgreSQL, a CLI command beside the server) each group reads the head under its row lock
         * instead of chaining from the one it remembers: with two busy nodes the remembered head is
         * stale almost every time, and each stale group was run twice (measured: two nodes at 171
         * enrollments/s with a 2 s p99).
         */
        static final long CONTENDED_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

        private boolean known;
        private long seq;
        private String hash;
        private boolean contended;
        private long contendedUntil;

        /** The group committed: the next one chains from where it ended, unless other writers are appending too. */
        void committed(Tx tx) {
            if (tx.seq >= 0) {
                if (contended && System.nanoTime() - contendedUntil >= 0) {
                    contended = false;
                }
                known = !contended;
                seq = tx.seq;
                hash = tx.head;
            }
        }

        /** Another writer appended under this one: read the head under its lock for a while. */
        void contended() {
            contended = true;
            contendedUntil = System.nanoTime() + CONTENDED_NANOS;
        }

        void forget() {
            known = false;
        }
    }

    /** The head this transaction chained from was no longer the stored one at commit: another writer appended meanwhile. */
    static final class StaleAuditChain extends RuntimeException {
        StaleAuditChain() {
            super("the audit chain head kept moving under this writer (other processes appending to the same store); "
                    + "nothing was stored; try again", null, false, false);
        }
    }

    PreparedStatement batch(String sql) throws SQLException {
        PreparedStatement ps = batches.get(sql);
        if (ps == null) {
            ps = prepare(sql);
            batches.put(sql, ps);
        }
        return ps;
    }

    /** The connection, with everything pending written first. */
    Connection connection() throws SQLException {
        flush();
        return c;
    }

    void insertCertificate(CertRow row) {
        certs.add(row);
    }

    /**
     * Uses up a one-time enrollment secret for the certificate with this serial; the transaction
     * fails unless the secret is the device's, unused and unexpired when it is written. A group's
     * uses are written together when the transaction writes its rows, with one kept statement.
     */
    void useSecret(String id, String deviceId, String serial, long at) {
        secretUses.add(new SecretUse(id, deviceId, serial, at));
    }

    private void writeSecretUses() throws SQLException {
        if (secretUses.isEmpty()) {
            return;
        }
        try (Use u = use(USE_SECRET)) {
            PreparedStatement ps = u.ps();
            int added = 0;
            for (SecretUse s : secretUses) {
                ps.setLong(1, s.at());
                ps.setString(2, s.serial());
                ps.setString(3, s.id());
                ps.setString(4, s.deviceId());
                ps.setLong(5, s.at());
                ps.addBatch();
                if (++added % CHUNK == 0 || added == secretUses.size()) {
                    int[] rows = ps.executeBatch();
                    for (int i = 0; i < rows.length; i++) {
                        if (rows[i] != 1) {
                            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "the enrollment secret was already used or has expired; "
                                    + "ask the operator for a new one (fleetpki device secret "
                                    + secretUses.get(added - rows.length + i).deviceId() + ")");
                        }
                    }
                }
            }
        }
        secretUses.clear();
    }

    /** The transaction fails unless this device is registered and active when it commits (checked once per group). */
    void requireActiveDevice(String id) {
        activeDevices.add(id);
    }

    void audit(AuditEvent e) throws SQLException {
        if (seq < 0) {
            if (chain.known) {
                seq = chain.seq;
                head = chain.hash;
            } else if (dialect == Database.Dialect.POSTGRESQL) {
                lockHead(); // read under its row lock, before anything else of this transaction is written
            } else {
                // SQLite, after a failure or at the start: the group's BEGIN IMMEDIATE holds the database's write
                // lock, so no other writer appends until this transaction ends
                readHead(connection(), "");
            }
            baseSeq = seq;
            baseHash = head;
        }
        seq++;
        String detail = AuditHash.detailJson(e.detail());
        long at = e.at().toEpochMilli();
        String actor = e.actor().toString();
        String hash = AuditHash.hash(head, seq, at, actor, e.action().wireName(), e.target(), detail);
        audits.add(new AuditRow(seq, at, actor, e.action().wireName(), e.target(), detail, head, hash));
        head = hash;
    }

    /** The sequence number of this transaction's last audit event, -1 when it has none. */
    long lastSeq() {
        return seq;
    }

    /** The hash of this transaction's last audit event (the chain head it leaves). */
    String lastHash() {
        return head;
    }

    /** Writes the generic batches and the pending rows. */
    void flush() throws SQLException {
        lockHead();
        writeSecretUses();
        for (PreparedStatement ps : batches.values()) {
            ps.executeBatch();
        }
        if (!certs.isEmpty()) {
            try (Use u = use(INSERT_CERTIFICATE + " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")) {
                PreparedStatement ps = u.ps();
                int added = 0;
                for (CertRow r : certs) {
                    ps.setString(1, r.serial());
                    ps.setString(2, r.ca());
                    ps.setString(3, r.deviceId());
                    ps.setString(4, r.profile());
                    ps.setString(5, r.subject());
                    ps.setLong(6, r.notBefore());
                    ps.setLong(7, r.notAfter());
                    ps.setBytes(8, r.der());
                    ps.setBoolean(9, r.proofOfPossession());
                    ps.setString(10, r.issuedBy());
                    ps.setLong(11, r.issuedAt());
                    ps.setString(12, r.protocol());
                    added = addChunked(ps, added);
                }
                ps.executeBatch();
            }
            certs.clear();
        }
        if (!audits.isEmpty()) {
            try (Use u = use(INSERT_AUDIT + " VALUES (?,?,?,?,?,?,?,?)")) {
                PreparedStatement ps = u.ps();
                int added = 0;
                for (AuditRow r : audits) {
                    ps.setLong(1, r.seq());
                    ps.setLong(2, r.at());
                    ps.setString(3, r.actor());
                    ps.setString(4, r.action());
                    ps.setString(5, r.target());
                    ps.setString(6, r.detail());
                    ps.setString(7, r.prevHash());
                    ps.setString(8, r.hash());
                    added = addChunked(ps, added);
                }
                ps.executeBatch();
            }
            audits.clear();
        }
    }

    /**
     * Moves the chain head (only if it still holds the value this group chained from), checks
     * devices, writes what is pending, and leaves the commit to the caller. The head row's lock,
     * taken first, orders the commits of writers in several processes.
     */
    void finish() throws SQLException {
        if (dialect == Database.Dialect.POSTGRESQL) {
            if (!batches.isEmpty() || !secretUses.isEmpty()) {
                lockHead();
            }
            for (PreparedStatement ps : batches.values()) {
                ps.executeBatch();
            }
            // the head's row lock first, as every writer takes it
            Set<String> active = PostgresGroupWrite.write(c, headMoves() ? new PostgresGroupWrite.HeadMove(seq, head, baseSeq, baseHash) : null,
                    activeDevices, certs, audits);
            if (!activeDevices.isEmpty()) {
                requireAllActive(active);
            }
            certs.clear();
            audits.clear();
            writeSecretUses();
            return;
        }
        moveHead();
        checkDevices();
        flush();
    }

    private boolean headMoves() {
        return baseSeq >= 0 && seq > baseSeq;
    }

    /** Moves the head to (seq, hash) only if it still holds (baseSeq, baseHash). */
    static final String HEAD_UPDATE = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ?";

    /** No row updated: another writer moved the head since it was read (or the row is gone, which the retry's read reports). */
    static void headUpdated(int rows) {
        if (rows != 1) {
            throw new StaleAuditChain();
        }
    }

    /**
     * PostgreSQL, before anything of a group is written ahead of its final statement (rows an
     * operation writes through {@link #connection()}, batches): takes the head's row lock now, as
     * every writer's first lock. Rows written before it could make another node's transaction, which
     * holds the head, wait for this one while this one waits for the head: a deadlock PostgreSQL breaks
     * only after a second (two nodes measured at 285 enrollments/s with a 2 s p99; a revocation on
     * each node, both bumping the revocation epoch row, deadlocked too). With events already chained
     * from the remembered head the head is moved to them (failing as stale if another writer moved
     * it); with none yet it is read under its lock, and the events chain from there.
     */
    private void lockHead() throws SQLException {
        if (headLocked || dialect != Database.Dialect.POSTGRESQL) {
            return;
        }
        if (headMoves()) {
            moveHead();
            baseSeq = seq;
            baseHash = head;
        } else if (seq < 0) {
            readHead(c, " FOR UPDATE");
            baseSeq = seq;
            baseHash = head;
        } else {
            return; // chained from the remembered head with nothing appended yet: the group's own head update locks it
        }
        headLocked = true;
    }

    /** Reads the chain head into (seq, head); {@code lock} is "" or " FOR UPDATE". */
    private void readHead(Connection on, String lock) throws SQLException {
        try (PreparedStatement ps = on.prepareStatement("SELECT seq, hash FROM audit_head WHERE id = 1" + lock); ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                throw new SQLException("audit_head row is missing: the audit log was tampered with");
            }
            seq = rs.getLong(1);
            head = rs.getString(2);
        }
    }

    /** PostgreSQL: this transaction holds the head's row lock. */
    private boolean headLocked;

    private void moveHead() throws SQLException {
        if (!headMoves()) {
            return;
        }
        try (Use u = use(HEAD_UPDATE)) {
            PreparedStatement ps = u.ps();
            ps.setLong(1, seq);
            ps.setString(2, head);
            ps.setLong(3, baseSeq);
            ps.setString(4, baseHash);
            headUpdated(ps.executeUpdate());
        }
    }

    private void checkDevices() throws SQLException {
        if (activeDevices.isEmpty()) {
            return;
        }
        Set<String> active = new HashSet<>();
        List<String> ids = new ArrayList<>(activeDevices);
        for (int from = 0; from < ids.size(); from += 500) {
            List<String> chunk = ids.subList(from, Math.min(ids.size(), from + 500));
            // as many placeholders as the next power of two (the last id repeated): at most 10 distinct statements for the
            // writer to keep, instead of one per group size pushing its inserts out of the cache
            int placeholders = Integer.highestOneBit(chunk.size()) == chunk.size() ? chunk.size() : Integer.highestOneBit(chunk.size()) << 1;
            String sql = "SELECT id FROM device WHERE status = 'ACTIVE' AND id IN (" + String.join(",", Collections.nCopies(placeholders, "?")) + ")";
            try (Use u = use(sql)) {
                PreparedStatement ps = u.ps();
                for (int i = 0; i < placeholders; i++) {
                    ps.setString(i + 1, chunk.get(Math.min(i, chunk.size() - 1)));
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        active.add(rs.getString(1));
                    }
                }
            }
        }
        requireAllActive(active);
    }

    private void requireAllActive(Set<String> active) {
        for (String id : activeDevices) {
            if (!active.contains(id)) {
                throw new PkiException(ErrorKind.DEVICE_NOT_ACTIVE,
                        "device '" + id + "' was disabled, revoked or removed while its certificate was being issued; nothing was issued");
            }
        }
    }

    void close() {
        if (statements != null) {
            return; // kept by the writer (forgotten by it after a failure)
        }
        for (PreparedStatement ps : batches.values()) {
            try {
                ps.close();
            } catch (SQLException ignored) {
                // closing after commit or rollback; nothing to keep
            }
        }
    }
}
