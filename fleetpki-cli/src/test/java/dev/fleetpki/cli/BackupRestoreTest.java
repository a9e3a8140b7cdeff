package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fleetpki backup} and {@code restore} on SQLite, with the server running: a restored home
 * verifies, issues and revokes; a backup whose audit chain was edited (its file hashes made to
 * match) is refused and leaves no home; after a restore no CRL number the lost state may have
 * used is used again, and no one-time secret of the old state still buys a certificate.
 */
class BackupRestoreTest {
    @TempDir Path dir;

    @Test
    void aBackupTakenWhileTheServerRunsRestoresToAHomeThatVerifiesIssuesAndRevokes() throws Exception {
        Path backup = dir.resolve("fleet.fpbackup");
        String serial;
        Path live;
        try (TestServer ts = TestServer.start(dir.resolve("live"), null)) {
            live = ts.home;
            ScepTest.secretOn(ts, "kept-secret"); // made before the backup, used nowhere
            serial = issue(ts.home, "dev-1");
            assertThat(Cli.run(ts.home, "revoke", serial, "--reason", "superseded").exit()).isZero();
            // under load: a REST client registers devices and has them certified while the backup is taken
            Cli.Result tok = Cli.run(ts.home, "token", "create", "load", "--role", "issuer");
            String[] tl = tok.out().trim().split("\n");
            String token = tl[tl.length - 1];
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger issued = new AtomicInteger();
            java.util.List<String> failures = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            Thread loader = Thread.ofVirtual().start(() -> {
                for (int i = 0; i < 2_000 && !stop.get(); i++) {
                    try {
                        String id = "load-" + i;
                        int added = post(ts, token, "/api/v1/devices", "{\"id\":\"" + id + "\"}");
                        String csr = dev.fleetpki.kms.Pem.encode("CERTIFICATE REQUEST", AuthorizationMatrixTest.csrDer(id, null)).replace("\n", "\\n");
                        int certified = post(ts, token, "/api/v1/certificate-requests", "{\"device\":\"" + id + "\",\"csr\":\"" + csr + "\"}");
                        if (added != 201 || certified != 201) {
                            failures.add(id + ": " + added + "/" + certified);
                        }
                        issued.incrementAndGet();
                    } catch (Exception e) {
                        failures.add(e.toString());
                    }
                }
            });
            for (int i = 0; i < 300 && issued.get() < 5; i++) {
                Thread.sleep(100);
            }
            Cli.Result b = Cli.run(ts.home, "backup", "--out", backup.toString());
            int duringBackup = issued.get();
            Thread.sleep(500);
            stop.set(true);
            loader.join();
            assertThat(failures).isEmpty();
            assertThat(issued.get()).as("issuance went on during and after the backup").isGreaterThan(duringBackup).isGreaterThan(5);
            assertThat(b.exit()).as(b.all()).isZero();
            assertThat(b.out()).contains("Backed up").contains(backup.toString());
            // the live home goes on after the backup: these are what a restore loses
            issue(ts.home, "dev-after");
            assertThat(Cli.run(ts.home, "crl", "generate").exit()).isZero();
        }
        assertThat(Files.getPosixFilePermissions(backup)).as("a backup holds the store: owner only")
                .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        try (ZipFile z = new ZipFile(backup.toFile())) {
            assertThat(z.getEntry("fleetpki.db")).isNotNull();
            assertThat(z.getEntry("fleetpki.yaml")).isNotNull();
            assertThat(z.getEntry("manifest.json")).isNotNull();
            assertThat(z.stream().map(ZipEntry::getName)).as("no secrets, no keys unless asked for")
                    .noneMatch(n -> n.startsWith("secrets/") || n.startsWith("keys/") || n.startsWith("server/"));
        }

        Path restored = dir.resolve("restored");
        Cli.Result r = Cli.run(restored, "restore", backup.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("Audit log intact").contains("expired 1 unused one-time secret");
        // no keys in the backup: the operator brings the key files and the passphrase back, as docs/backup.md says
        copyTree(live.resolve("keys"), restored.resolve("keys"));
        copyTree(live.resolve("secrets"), restored.resolve("secrets"));

        Cli.Result verify = Cli.run(restored, "audit", "verify");
        assertThat(verify.exit()).as(verify.all()).isZero();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + restored.resolve("fleetpki.db"), new Properties());
             Statement s = c.createStatement();
             var rs = s.executeQuery("SELECT (SELECT COUNT(*) FROM certificate WHERE device_id LIKE 'load-%'), (SELECT COUNT(*) FROM certificate c "
                     + "WHERE NOT EXISTS (SELECT 1 FROM audit_event a WHERE a.action = 'certificate.issue' AND a.detail LIKE '%' || c.serial || '%'))")) {
            assertThat(rs.getLong(1)).as("certificates of the load in the backup").isPositive();
            assertThat(rs.getLong(2)).as("certificates in the backup without their audit event").isZero();
        }
        assertThat(Cli.run(restored, "cert", "show", serial).out()).contains("revoked");
        assertThat(Cli.run(restored, "device", "show", "dev-after").exit()).as("made after the backup: not restored").isEqualTo(66);
        // the restored home issues and revokes
        String again = issue(restored, "dev-2");
        assertThat(Cli.run(restored, "revoke", again).exit()).isZero();
        // a CRL number the lost state used is never used again: the next one jumps past them
        Cli.Result crl = Cli.run(restored, "crl", "show");
        Matcher m = Pattern.compile("issuing\\s+0/1\\s+(\\d+)").matcher(crl.out());
        assertThat(m.find()).as(crl.out()).isTrue();
        assertThat(Long.parseLong(m.group(1))).as("CRL number after the restore").isGreaterThan(1000);
        // the secret made before the backup was unused there, but may have been used after it: it buys nothing now
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + restored.resolve("fleetpki.db"), new Properties());
             Statement s = c.createStatement();
             var rs = s.executeQuery("SELECT COUNT(*) FROM enrollment_secret WHERE used_at IS NULL AND expires_at > " + System.currentTimeMillis())) {
            assertThat(rs.getLong(1)).as("one-time secrets still usable after the restore").isZero();
        }
    }

    @Test
    void aBackupWhoseAuditChainWasEditedIsRefusedAndLeavesNoHome() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        issue(home, "dev-1");
        Path backup = dir.resolve("b.fpbackup");
        assertThat(Cli.run(home, "backup", "--out", backup.toString()).exit()).isZero();

        // an attacker edits an event in the backup's database and makes the manifest's hash match again
        Path tampered = dir.resolve("tampered.fpbackup");
        Path db = dir.resolve("extracted.db");
        try (ZipFile z = new ZipFile(backup.toFile()); InputStream in = z.getInputStream(z.getEntry("fleetpki.db"))) {
            Files.copy(in, db);
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db, new Properties()); Statement s = c.createStatement()) {
            assertThat(s.executeUpdate("UPDATE audit_event SET actor = 'operator:mallory' WHERE seq = 2")).isEqualTo(1);
        }
        String oldSum = sha256(zipEntry(backup, "fleetpki.db"));
        String newSum = sha256(Files.readAllBytes(db));
        try (ZipFile z = new ZipFile(backup.toFile()); ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(tampered))) {
            for (ZipEntry e : z.stream().toList()) {
                out.putNextEntry(new ZipEntry(e.getName()));
                byte[] data = e.getName().equals("fleetpki.db") ? Files.readAllBytes(db) : z.getInputStream(e).readAllBytes();
                if (e.getName().equals("manifest.json")) {
                    data = new String(data, java.nio.charset.StandardCharsets.UTF_8).replace(oldSum, newSum).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                }
                out.write(data);
                out.closeEntry();
            }
        }
        Path target = dir.resolve("restored");
        Cli.Result r = Cli.run(target, "restore", tampered.toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(65);
        assertThat(r.err()).contains("audit").contains("event 2");
        assertThat(target).as("nothing half-restored").doesNotExist();

        // a file changed without its hash: refused as damaged
        Path damaged = dir.resolve("damaged.fpbackup");
        try (ZipFile z = new ZipFile(backup.toFile()); ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(damaged))) {
            for (ZipEntry e : z.stream().toList()) {
                out.putNextEntry(new ZipEntry(e.getName()));
                out.write(e.getName().equals("fleetpki.db") ? Files.readAllBytes(db) : z.getInputStream(e).readAllBytes());
                out.closeEntry();
            }
        }
        Cli.Result d = Cli.run(target, "restore", damaged.toString());
        assertThat(d.exit()).as(d.all()).isEqualTo(65);
        assertThat(d.err()).contains("fleetpki.db").contains("SHA-256");
        assertThat(target).doesNotExist();

        // never over an existing home
        Cli.Result over = Cli.run(home, "restore", backup.toString());
        assertThat(over.exit()).as(over.all()).isEqualTo(65);
        assertThat(over.err()).contains("not empty");
    }

    @Test
    void keysOnlyWhenAskedAndAPostgresStoreIsSentToPgDump() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        Path withKeys = dir.resolve("k.fpbackup");
        assertThat(Cli.run(home, "backup", "--out", withKeys.toString(), "--include-keys").exit()).isZero();
        try (ZipFile z = new ZipFile(withKeys.toFile())) {
            assertThat(z.getEntry("keys/issuing.p8")).as("the encrypted key file, asked for").isNotNull();
            assertThat(z.stream().map(ZipEntry::getName)).noneMatch(n -> n.startsWith("secrets/"));
        }
        assertThat(Cli.run(home, "backup", "--out", withKeys.toString()).exit()).as("an existing file is never overwritten").isEqualTo(65);

        Path pg = TestHome.write(dir.resolve("pg"), "ecdsa-p256", "jdbc:postgresql://127.0.0.1:5432/fleetpki_backup_test", null, null);
        Cli.Result r = Cli.run(pg, "backup", "--out", dir.resolve("pg.fpbackup").toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(78);
        assertThat(r.err()).contains("pg_dump").contains("docs/backup.md");
        assertThat(dir.resolve("pg.fpbackup")).doesNotExist();
    }

    static int post(TestServer ts, String token, String path, String json) throws Exception {
        var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create(ts.base + path)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(json)).build();
        return ts.http.send(req, java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    static String issue(Path home, String device) {
        Cli.Result add = Cli.run(home, "device", "add", device);
        assertThat(add.exit()).as(add.all()).isZero();
        Path csr = TestHome.opensslCsr(home.getParent(), device + "-" + System.nanoTime(), "ec", "/CN=" + device, "-pkeyopt", "ec_paramgen_curve:P-256");
        Cli.Result s = Cli.run(home, "sign", "--csr", csr.toString(), "--device", device, "--out", home.getParent().resolve(device + ".pem").toString());
        assertThat(s.exit()).as(s.all()).isZero();
        Matcher m = Pattern.compile("serial ([0-9a-f]+)").matcher(s.all());
        assertThat(m.find()).as(s.all()).isTrue();
        return m.group(1);
    }

    static void copyTree(Path from, Path to) throws Exception {
        try (var files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path t = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(t);
                } else if (!Files.exists(t)) {
                    Files.copy(f, t);
                }
            }
        }
    }

    static byte[] zipEntry(Path zip, String name) throws Exception {
        try (ZipFile z = new ZipFile(zip.toFile()); InputStream in = z.getInputStream(z.getEntry(name))) {
            return in.readAllBytes();
        }
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
