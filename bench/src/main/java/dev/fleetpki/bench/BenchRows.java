package dev.fleetpki.bench;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * Certificate rows written straight into a fleetpki SQLite store (a serial reservation and a
 * certificate row each: what CRL generation and OCSP read) and the same entries into an OpenSSL
 * CA's index.txt, so that fleetpki and its reference serve the very same certificates. Written in
 * batches of 50,000 and committed once, on close.
 */
final class BenchRows implements AutoCloseable {
    /** index.txt's dates. */
    static final DateTimeFormatter UTC = DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'").withZone(ZoneOffset.UTC);
    private static final int BATCH = 50_000;

    private final Connection c;
    private final BufferedWriter idx;
    private final PreparedStatement res;
    private final PreparedStatement cert;
    private final long now;
    private final byte[] der = new byte[300];
    private int count;

    BenchRows(Path home, long now) throws SQLException, IOException {
        this.now = now;
        c = DriverManager.getConnection("jdbc:sqlite:" + home.resolve("fleetpki.db"));
        c.setAutoCommit(false);
        idx = Files.newBufferedWriter(home.resolve("index.txt"), StandardCharsets.US_ASCII);
        res = c.prepareStatement("INSERT INTO serial_reservation (serial, reserved_at) VALUES (?, ?)");
        cert = c.prepareStatement("INSERT INTO certificate (serial, ca, device_id, profile, subject, not_before, not_after, der, "
                + "proof_of_possession, issued_by, issued_at, protocol, revoked_at, revocation_reason, invalidity_date) "
                + "VALUES (?, 'issuing', NULL, 'device', 'CN=bench', ?, ?, ?, 1, 'operator:bench', ?, 'bench', ?, ?, ?)");
    }

    /**
     * One certificate of the issuing CA, valid from a day ago to {@code notAfter}.
     *
     * @param reason null: not revoked (then revokedAt and invalidSince are ignored)
     * @param invalidSince 0: no invalidity date
     * @param opensslRevocation index.txt's revocation field (time, reason[, invalidity date]); ignored when not revoked
     * @return true when this row completed a batch (for progress lines)
     */
    boolean add(String serial, int i, long notAfter, String reason, long revokedAt, long invalidSince, String opensslRevocation)
            throws SQLException, IOException {
        res.setString(1, serial);
        res.setLong(2, now);
        res.addBatch();
        cert.setString(1, serial);
        cert.setLong(2, now - 86_400_000L);
        cert.setLong(3, notAfter);
        cert.setBytes(4, der);
        cert.setLong(5, now);
        if (reason == null) {
            cert.setNull(6, Types.BIGINT);
            cert.setNull(7, Types.VARCHAR);
        } else {
            cert.setLong(6, revokedAt);
            cert.setString(7, reason);
        }
        if (reason == null || invalidSince == 0) {
            cert.setNull(8, Types.BIGINT);
        } else {
            cert.setLong(8, invalidSince);
        }
        cert.addBatch();
        idx.write((reason == null ? "V" : "R") + "\t" + UTC.format(Instant.ofEpochMilli(notAfter)) + "\t" + (reason == null ? "" : opensslRevocation)
                + "\t" + serial.toUpperCase(Locale.ROOT) + "\tunknown\t/CN=bench-" + i + "\n");
        if (++count % BATCH == 0) {
            res.executeBatch();
            cert.executeBatch();
            return true;
        }
        return false;
    }

    @Override
    public void close() throws SQLException, IOException {
        try (c; idx; res; cert) {
            res.executeBatch();
            cert.executeBatch();
            c.commit();
        }
    }
}
