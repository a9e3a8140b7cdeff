package dev.fleetpki.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditAnchor;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.AuditVerification;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.config.ConfigLoader;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.store.RestoreGuard;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code fleetpki backup} and {@code fleetpki restore} for a SQLite store (docs/backup.md): a zip of a
 * consistent copy of the store, the configuration, the CA certificates and the signed audit
 * checkpoints, with a manifest of every file's SHA-256; keys only when asked for, secrets never.
 */
final class BackupCommand {
    private BackupCommand() {}

    static final String FORMAT = "fleetpki-backup/1";
    static final String MANIFEST = "manifest.json";
    static final String DB = "fleetpki.db";
    private static final ObjectMapper JSON = new ObjectMapper();

    @Command(name = "backup", mixinStandardHelpOptions = true,
            description = {"Write a backup of a SQLite CA home to one file, also while it is in use: a consistent copy of the store, "
                + "fleetpki.yaml, the CA certificates and the signed audit checkpoints, with each file's SHA-256 (docs/backup.md).",
                "Encrypted key files only with --include-keys; secrets (the passphrase files) never; keys on a PKCS#11 token stay there. "
                + "A PostgreSQL store is backed up with pg_dump."})
    static final class Backup implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--out", required = true, paramLabel = "FILE", description = "the backup file to write (never overwritten; mode 0600)") Path out;
        @Option(names = "--include-keys", description = "also the encrypted key files under keys/ (still encrypted with their passphrase, which is not included)")
        boolean includeKeys;

        @Override
        public Integer call() throws Exception {
            Path h = home.home();
            FleetConfig config = ConfigLoader.load(h.resolve(ConfigLoader.FILE_NAME));
            if (!config.storeUrl().startsWith("jdbc:sqlite:")) {
                throw new PkiException(ErrorKind.CONFIG, "the store is PostgreSQL (" + dev.fleetpki.store.Database.redact(config.storeUrl())
                        + "): back it up with pg_dump, and the CA home's files with 'fleetpki backup' of a SQLite home's layout as docs/backup.md shows");
            }
            if (Files.exists(out)) {
                throw new PkiException(ErrorKind.CONFLICT, out + " exists already; a backup never overwrites a file: choose another name");
            }
            Path parent = out.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            Path snapshot = Files.createTempFile(parent, ".fleetpki-backup-", ".db");
            Path partial = parent.resolve("." + out.getFileName() + ".partial");
            try (Fleet f = home.open()) {
                Files.delete(snapshot); // VACUUM INTO writes a new file
                String checkpointNote;
                try { // a signed checkpoint of the head being saved, so a restore can check the chain up to it
                    Map.Entry<Long, String> head = f.store().auditLog().auditHead();
                    f.auditAnchor().checkpoint(head.getKey(), head.getValue(), f.clock().instant());
                    checkpointNote = "signed checkpoint of event " + head.getKey();
                } catch (PkiException e) {
                    checkpointNote = "no new checkpoint (" + e.getMessage() + ")";
                }
                f.store().database().snapshotTo(snapshot);
                Instant at = f.clock().instant();
                Map<String, Path> files = new TreeMap<>();
                files.put(DB, snapshot);
                files.put(ConfigLoader.FILE_NAME, h.resolve(ConfigLoader.FILE_NAME));
                addTree(files, h, "ca");
                addTree(files, h, "audit");
                if (includeKeys) {
                    addTree(files, h, "keys");
                }
                Map<String, Object> head = headOf(snapshot);
                Map<String, String> sums = new TreeMap<>();
                Files.deleteIfExists(partial); // a leftover of a run that was killed
                Files.createFile(partial, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(partial))) {
                    for (var e : files.entrySet()) {
                        zip.putNextEntry(new ZipEntry(e.getKey()));
                        sums.put(e.getKey(), copyHashing(e.getValue(), zip));
                        zip.closeEntry();
                    }
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("format", FORMAT);
                    m.put("createdAt", at.toString());
                    m.put("store", "sqlite");
                    m.put("auditHead", head);
                    m.put("includesKeys", includeKeys);
                    m.put("files", sums);
                    zip.putNextEntry(new ZipEntry(MANIFEST));
                    zip.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));
                    zip.closeEntry();
                }
                try (var ch = java.nio.channels.FileChannel.open(partial, java.nio.file.StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                Files.move(partial, out, StandardCopyOption.ATOMIC_MOVE);
                f.store().audit(new AuditEvent(at, home.actor(), AuditAction.STORE_BACKUP, "store:" + h.getFileName(),
                        Map.of("file", out.toAbsolutePath().toString(), "headSeq", String.valueOf(head.get("seq")), "includesKeys", String.valueOf(includeKeys))));
                System.out.println("Backed up " + h + " to " + out + " (" + Files.size(out) + " bytes): the store up to audit event " + head.get("seq")
                        + " and " + (files.size() - 1) + " files of the home" + (includeKeys ? " including the encrypted key files" : ", no keys") + "; " + checkpointNote);
                System.out.println("Not in it: secrets/ (the passphrases)" + (includeKeys ? "" : ", keys/ (--include-keys adds the encrypted key files)")
                        + "; keep them apart. Restore with: fleetpki restore " + out + " --home NEW_DIR");
            } finally {
                Files.deleteIfExists(snapshot);
                Files.deleteIfExists(partial);
            }
            return 0;
        }
    }

    @Command(name = "restore", mixinStandardHelpOptions = true,
            description = {"Restore a backup into a new CA home: checks every file's SHA-256 and the audit chain (with its signed checkpoints) "
                + "and refuses a backup that does not verify, leaving nothing behind (docs/backup.md).",
                "Then every CA's next CRL number jumps past those the lost state may have used, and one-time secrets still unused end. "
                + "Bring the passphrase files (secrets/) and, if the backup has none, the key files back before signing."})
    static final class Restore implements Callable<Integer> {
        @Parameters(paramLabel = "FILE", description = "a file fleetpki backup wrote") Path file;
        @Mixin HomeOption home;

        @Override
        public Integer call() throws Exception {
            Path target = home.home();
            if (Files.exists(target) && (!Files.isDirectory(target) || hasFiles(target))) {
                throw new PkiException(ErrorKind.CONFLICT, target + " is not empty; a restore goes into a new or empty folder (--home), never over a CA home");
            }
            if (!Files.isReadable(file)) {
                throw new PkiException(ErrorKind.NOT_FOUND, "cannot read " + file + ": " + (Files.exists(file) ? "permission denied" : "no such file"));
            }
            Path parent = target.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            Path partial = Files.createTempDirectory(parent, "." + target.getFileName() + ".restoring-");
            boolean done = false;
            try {
                JsonNode manifest = extract(file, partial);
                Instant backedUp = Instant.parse(manifest.path("createdAt").asText());
                long headSeq = manifest.path("auditHead").path("seq").asLong();
                String headHash = manifest.path("auditHead").path("hash").asText();
                String verified;
                try (Fleet f = Fleet.open(partial, Clock.systemUTC())) { // migrates a backup of an older version
                    AuditCommand.Checked checked = AuditCommand.check(f);
                    AuditVerification v = checked.chain();
                    AuditAnchor.Result anchored = checked.anchored();
                    List<String> problems = new ArrayList<>(checked.problems());
                    String at = f.store().auditLog().auditHashAt(headSeq).orElse(null);
                    if (headSeq > 0 && !headHash.equals(at)) {
                        problems.add("event " + headSeq + " does not have the hash the backup's manifest recorded");
                    }
                    if (!problems.isEmpty()) {
                        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the backup's audit log does not verify, so it is not restored: "
                                + String.join("; ", problems));
                    }
                    verified = "Audit log intact: " + v.events() + " events, " + anchored.checkpoints() + " signed checkpoint"
                            + (anchored.checkpoints() == 1 ? "" : "s") + " match";
                }
                Instant now = Instant.now();
                RestoreGuard.Result g = RestoreGuard.apply(partial.resolve(DB), Duration.between(backedUp, now), now);
                try (Fleet f = Fleet.open(partial, Clock.systemUTC())) {
                    f.store().audit(new AuditEvent(now, home.actor(), AuditAction.STORE_RESTORE, "store:" + target.getFileName(),
                            Map.of("backup", file.toAbsolutePath().toString(), "backedUpAt", backedUp.toString(), "headSeq", String.valueOf(headSeq),
                                    "crlNumbersFrom", String.valueOf(g.lowestFloor() + 1), "secretsEnded", String.valueOf(g.secretsEnded()))));
                }
                if (Files.isDirectory(target)) {
                    Files.delete(target); // the empty folder the restore was given
                }
                Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
                done = true;
                System.out.println("Restored " + file + " (backed up " + backedUp + ") into " + target + ". " + verified + ".");
                System.out.println("Events after audit event " + headSeq + " are not in it: the next CRL of each CA is numbered "
                        + (g.lowestFloor() + 1) + " or more (past any the lost state used), and it expired " + g.secretsEnded()
                        + " unused one-time secret" + (g.secretsEnded() == 1 ? "" : "s") + " (make new ones with fleetpki device secret ID).");
                System.out.println("Before signing: put the passphrase files in " + target.resolve("secrets")
                        + (manifest.path("includesKeys").asBoolean() ? "" : " and the key files in " + target.resolve("keys")) + ".");
                return 0;
            } finally {
                if (!done) {
                    deleteTree(partial);
                }
            }
        }
    }

    private static void addTree(Map<String, Path> files, Path home, String folder) throws IOException {
        Path dir = home.resolve(folder);
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                files.put(home.relativize(p).toString().replace('\\', '/'), p);
            }
        }
    }

    private static String copyHashing(Path from, OutputStream to) throws IOException {
        try (InputStream in = Files.newInputStream(from)) {
            return copyHashing(in, to);
        }
    }

    /** Copies {@code in} to {@code to} and returns the SHA-256 of what passed, in hex. */
    private static String copyHashing(InputStream in, OutputStream to) throws IOException {
        MessageDigest md = sha256();
        byte[] buf = new byte[65536];
        for (int n = in.read(buf); n > 0; n = in.read(buf)) {
            md.update(buf, 0, n);
            to.write(buf, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** The audit head a store file holds, read directly (the copy is not opened as a store). */
    private static Map<String, Object> headOf(Path sqlite) {
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + sqlite.toAbsolutePath(), new java.util.Properties());
             var s = c.createStatement(); var rs = s.executeQuery("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1")) {
            Map<String, Object> m = new LinkedHashMap<>();
            boolean any = rs.next();
            m.put("seq", any ? rs.getLong(1) : 0L);
            m.put("hash", any ? rs.getString(2) : "");
            return m;
        } catch (java.sql.SQLException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot read the audit head of the copy: " + e.getMessage());
        }
    }

    /** Unpacks the backup into {@code into}, checking the manifest's format and every file's SHA-256; returns the manifest. */
    private static JsonNode extract(Path file, Path into) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry me = zip.getEntry(MANIFEST);
            if (me == null) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, file + " has no " + MANIFEST + ": it is not a fleetpki backup");
            }
            JsonNode manifest;
            try (InputStream in = zip.getInputStream(me)) {
                manifest = JSON.readTree(in);
            }
            if (!FORMAT.equals(manifest.path("format").asText())) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, file + " is not a backup this fleetpki reads (format '" + manifest.path("format").asText()
                        + "', expected " + FORMAT + ")");
            }
            JsonNode sums = manifest.path("files");
            for (var it = sums.fields(); it.hasNext(); ) {
                var e = it.next();
                String name = e.getKey();
                Path to = into.resolve(name).normalize();
                if (!to.startsWith(into) || name.startsWith("secrets/")) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, file + " names a file outside a CA home's backup (" + name + "); not restored");
                }
                ZipEntry ze = zip.getEntry(name);
                if (ze == null) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, file + " lacks " + name + ", which its manifest lists: the backup is damaged");
                }
                Files.createDirectories(to.getParent());
                String sum;
                try (InputStream in = zip.getInputStream(ze); OutputStream out = Files.newOutputStream(to)) {
                    sum = copyHashing(in, out);
                }
                if (!sum.equals(e.getValue().asText())) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, name + " in " + file + " does not have the SHA-256 its manifest recorded: "
                            + "the backup is damaged or was changed; not restored");
                }
            }
            if (Files.exists(into.resolve(DB))) {
                Files.setPosixFilePermissions(into.resolve(DB), PosixFilePermissions.fromString("rw-------"));
            }
            return manifest;
        }
    }

    private static boolean hasFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isPresent();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
