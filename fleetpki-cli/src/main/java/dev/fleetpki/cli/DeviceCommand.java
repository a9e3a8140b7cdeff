package dev.fleetpki.cli;

import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.DeviceImport;
import dev.fleetpki.core.Durations;
import dev.fleetpki.core.EnrollmentPolicy;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.enrollment.Enrollment;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "device", mixinStandardHelpOptions = true, description = "The device registry.",
        subcommands = {DeviceCommand.Add.class, DeviceCommand.Import.class, DeviceCommand.ListDevices.class, DeviceCommand.Show.class, DeviceCommand.Disable.class, DeviceCommand.Enable.class,
            DeviceCommand.Revoke.class, DeviceCommand.Secret.class})
final class DeviceCommand {

    @Command(name = "add", mixinStandardHelpOptions = true, description = "Register a device by the id the cloud knows it by.")
    static final class Add implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "ID", description = "device id (becomes the certificate's CN or URI SAN)") String id;
        @Option(names = "--model", description = "hardware model") String model;
        @Option(names = "--tag", paramLabel = "K=V", description = "a tag; repeat for more") Map<String, String> tags = new LinkedHashMap<>();
        @Option(names = "--key-location", paramLabel = "WHERE",
                description = "where the device key lives: software, se:SLOT (secure element) or a pkcs11: URI") String keyLocation;
        @Option(names = "--enrollment-secret", description = "also create a one-time enrollment secret and print it once (see: device secret)")
        boolean secret;
        @Option(names = "--secret-expires-in", paramLabel = "DURATION", description = "the secret's lifetime (default: enrollment.secretValidity, 7d)")
        String secretExpiresIn;

        @Override
        public Integer call() {
            Device.checkId(id);
            try (Fleet f = home.open()) {
                var now = f.clock().instant();
                Duration life = secret ? Secret.lifetime(f, secretExpiresIn, "--secret-expires-in") : null; // checked before anything is written
                Device d = new Device(id, model, tags, Device.Status.ACTIVE, keyLocation, now);
                Map<String, String> detail = new LinkedHashMap<>();
                if (model != null) {
                    detail.put("model", model);
                }
                tags.forEach((k, v) -> detail.put("tag." + k, v));
                f.store().devices().addDevice(d, new AuditEvent(now, home.actor(), AuditAction.DEVICE_ADD, "device:" + id, detail));
                System.out.println("Registered device " + id);
                if (secret) {
                    Secret.create(f, home, id, life);
                }
            }
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Register many devices from a file: CSV with a header line (id, and any of model, key_location, tag.NAME) or "
                    + "JSON lines ({\"id\", \"model\", \"tags\", \"keyLocation\"}).",
                "Every row is checked first; then all are stored in one transaction, or none is. With --secrets-out each device gets a "
                    + "one-time enrollment secret, written once, encrypted to --recipient or --passphrase (openssl cms -decrypt opens it)."})
    static final class Import implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "FILE", description = "devices.csv or devices.jsonl (- reads standard input as CSV)") String file;
        @Option(names = "--format", description = "csv or jsonl (default: from the file name; csv)") String format;
        @Option(names = "--skip-existing", description = "pass over devices already registered (rerunning the same file imports only the new ones)")
        boolean skipExisting;
        @Option(names = "--skip-invalid", description = "import the valid rows even when others are refused (they are listed)") boolean skipInvalid;
        @Option(names = "--secrets-out", paramLabel = "FILE",
                description = "make a one-time enrollment secret for each imported device and write them here (CSV: device_id,secret,expires_at), "
                        + "encrypted; needs --recipient or --passphrase") Path secretsOut;
        @Option(names = "--recipient", paramLabel = "PEM", description = "encrypt the secrets to this certificate or public key (RSA or EC)")
        Path recipient;
        @Option(names = "--passphrase", paramLabel = "SOURCE", description = "encrypt the secrets with a passphrase from env:NAME, file:PATH or prompt")
        String passphrase;
        @Option(names = "--secret-expires-in", paramLabel = "DURATION", description = "the secrets' lifetime (default: enrollment.secretValidity)")
        String secretExpiresIn;

        @Override
        public Integer call() throws Exception {
            org.bouncycastle.cms.RecipientInfoGenerator to = null;
            if (secretsOut != null) {
                if ((recipient == null) == (passphrase == null)) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--secrets-out needs exactly one of --recipient (a certificate or public key "
                            + "of whoever flashes the devices) or --passphrase: the secrets are credentials and are never written in plain text");
                }
                if (java.nio.file.Files.exists(secretsOut)) {
                    throw new PkiException(ErrorKind.CONFLICT, secretsOut + " exists; the secrets are written once, to a new file");
                }
                to = recipient != null ? SecretsFile.recipient(recipient)
                        : SecretsFile.passphrase(dev.fleetpki.kms.SecretSource.parse(passphrase, null).read());
            } else if (recipient != null || passphrase != null || secretExpiresIn != null) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--recipient, --passphrase and --secret-expires-in go with --secrets-out");
            }
            String kind = format != null ? format : file.endsWith(".jsonl") || file.endsWith(".ndjson") ? "jsonl" : "csv";
            if (!kind.equals("csv") && !kind.equals("jsonl")) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--format must be csv or jsonl, not '" + kind + "'");
            }
            DeviceImport.Parsed parsed;
            try (java.io.Reader in = file.equals("-") ? new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8)
                    : java.nio.file.Files.newBufferedReader(Path.of(file), java.nio.charset.StandardCharsets.UTF_8)) {
                parsed = kind.equals("csv") ? DeviceImport.csv(in) : DeviceImport.jsonLines(in);
            } catch (java.nio.file.NoSuchFileException e) {
                throw new PkiException(ErrorKind.NOT_FOUND, "no file " + file);
            } catch (java.nio.charset.MalformedInputException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, file + " is not UTF-8 text");
            }
            try (Fleet f = home.open()) {
                Duration life = secretsOut == null ? null : Secret.lifetime(f, secretExpiresIn, "--secret-expires-in");
                var now = f.clock().instant();
                DeviceImport.Prepared p = DeviceImport.prepare(parsed, new DeviceImport.Options(skipExisting, skipInvalid, life), f.store().devices(),
                        secretsOut == null ? null : f.enrollmentSecrets(), home.actor(), now);
                DeviceImport.Result r = p.result();
                for (DeviceImport.RowError e : r.errors()) {
                    System.err.println("  refused " + e);
                }
                if (!r.errors().isEmpty() && !skipInvalid) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, r.errors().size() + " row" + (r.errors().size() == 1 ? "" : "s")
                            + " refused (listed above); nothing was imported. Fix them, or import the others with --skip-invalid");
                }
                Path tmp = null;
                if (secretsOut != null && p.committable()) {
                    StringBuilder csv = new StringBuilder("device_id,secret,expires_at\n");
                    r.secrets().forEach(x -> csv.append(x.deviceId()).append(',').append(x.text()).append(',').append(x.expiresAt()).append('\n'));
                    Path dir = secretsOut.toAbsolutePath().getParent();
                    java.nio.file.Files.createDirectories(dir);
                    tmp = java.nio.file.Files.createTempFile(dir, ".secrets-", ".tmp");
                    java.nio.file.Files.writeString(tmp, SecretsFile.encrypt(csv.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8), to));
                }
                try {
                    p.commit(f.store().devices());
                } catch (RuntimeException e) {
                    if (tmp != null) {
                        java.nio.file.Files.deleteIfExists(tmp);
                    }
                    throw e;
                }
                if (tmp != null) {
                    java.nio.file.Files.move(tmp, secretsOut, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                }
                System.out.println("Imported " + r.imported().size() + " device" + (r.imported().size() == 1 ? "" : "s")
                        + (r.skipped().isEmpty() ? "" : ", passed over " + r.skipped().size() + " already registered")
                        + (r.errors().isEmpty() ? "" : ", refused " + r.errors().size() + " row" + (r.errors().size() == 1 ? "" : "s"))
                        + (tmp != null ? "; their one-time secrets are in " + secretsOut + " (encrypted " + (recipient != null
                                ? "to " + recipient.getFileName() : "with the passphrase") + "; openssl cms -decrypt -inform PEM opens it)" : "") + ".");
            }
            return 0;
        }
    }

    @Command(name = "secret", mixinStandardHelpOptions = true,
            description = {"Create a one-time enrollment secret for a registered device and print it once.",
                "The device enrolls with it once (EST: HTTP basic with the device id as user; REST: Authorization: Bearer SECRET). "
                    + "A new secret replaces the device's unused one. Only its SHA-256 is stored."})
    static final class Secret implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "ID") String id;
        @Option(names = "--expires-in", paramLabel = "DURATION", description = "lifetime (default: enrollment.secretValidity, 7d)") String expiresIn;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                create(f, home, id, lifetime(f, expiresIn, "--expires-in"));
            }
            return 0;
        }

        /** The secret's lifetime from the option (default: enrollment.secretValidity), at most EnrollmentPolicy.MAX_SECRET_VALIDITY. */
        static Duration lifetime(Fleet f, String text, String option) {
            Duration life;
            try {
                life = text == null ? f.config().enrollment().secretValidity() : Durations.parse(text);
            } catch (IllegalArgumentException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, option + ": " + e.getMessage());
            }
            var max = EnrollmentPolicy.MAX_SECRET_VALIDITY;
            if (life.isNegative() || life.isZero() || life.compareTo(max) > 0) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, option + ": " + text + " is outside 1s.." + Durations.format(max)
                        + "; a one-time secret is for the next enrollment, not a standing credential");
            }
            return life;
        }

        static void create(Fleet f, HomeOption home, String id, Duration life) {
            var now = f.clock().instant();
            var secret = Enrollment.newSecret(f.store().devices(), f.store().credentials(), f.enrollmentSecrets(), id, life, home.actor(), now);
            var expires = secret.expiresAt();
            System.err.println("One-time enrollment secret for " + id + " (expires " + expires + "). It is shown only now:");
            System.out.println(secret.text());
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = {"List registered devices in id order, a page at a time.",
            "When more devices match than --limit, the last line says so and names the --after for the next page."})
    static final class ListDevices implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--limit", defaultValue = "1000", description = "at most this many, 1 to 100000 (default: ${DEFAULT-VALUE})") int limit;
        @Option(names = "--after", paramLabel = "ID", description = "only ids after this one (the next page)") String after;
        @Option(names = "--status", description = "only devices in this state: active, disabled, revoked") String status;
        @Option(names = "--model", description = "only devices of this model") String model;
        @Option(names = "--json", description = "one JSON object: {\"devices\": [{\"id\", \"model\", \"status\", \"tags\", \"keyLocation\", "
                + "\"createdAt\"}], \"more\": true|false, \"next\": ID|null}") boolean json;

        @Override
        public Integer call() throws Exception {
            if (limit < 1 || limit > 100_000) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--limit must be 1 to 100000");
            }
            Device.Status st = null;
            if (status != null) {
                try {
                    st = Device.Status.valueOf(status.toUpperCase(java.util.Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--status " + status + ": use active, disabled or revoked");
                }
            }
            try (Fleet f = home.open()) {
                List<Device> page = f.store().devices().devices(after, st, model, limit + 1); // one more: are there more?
                boolean more = page.size() > limit;
                List<Device> shown = more ? page.subList(0, limit) : page;
                String next = more ? shown.getLast().id() : null;
                if (json) {
                    var out = new LinkedHashMap<String, Object>();
                    out.put("devices", shown.stream().map(dev.fleetpki.core.DeviceJson::of).toList()); // the REST API's shape, without href
                    out.put("more", more);
                    out.put("next", next);
                    Certs.printJson(out);
                    return 0;
                }
                Table t = new Table("ID", "STATUS", "MODEL", "TAGS");
                for (Device d : shown) {
                    t.row(d.id(), d.status().name().toLowerCase(java.util.Locale.ROOT), d.model() == null ? "-" : d.model(),
                            d.tags().isEmpty() ? "-" : new java.util.TreeMap<>(d.tags()).toString());
                }
                System.out.print(t.render());
                System.out.println(more ? "the first " + (shown.size() == 1 ? "device" : shown.size() + " devices")
                        + "; more are registered: the next page is --after " + next
                        : shown.size() + " device" + (shown.size() == 1 ? "" : "s"));
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show a device and its certificates, newest first.")
    static final class Show implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "ID") String id;
        @Option(names = "--json", description = "the REST API's device object with its certificates: {\"id\", \"model\", \"tags\", \"status\", "
                + "\"keyLocation\", \"createdAt\", \"certificates\": [{\"serial\", \"profile\", \"ca\", \"notBefore\", \"notAfter\", \"status\", "
                + "\"current\"}]}") boolean json;

        @Override
        public Integer call() throws Exception {
            try (Fleet f = home.open()) {
                Device d = f.store().devices().deviceNow(id).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "device '" + id + "' is not registered"));
                if (json) {
                    Instant now = f.clock().instant();
                    Certs.printJson(dev.fleetpki.core.DeviceJson.withCertificates(d, f.store().certificates().certificates(id, now, null, 100), now));
                    return 0;
                }
                System.out.println("Device:       " + d.id());
                System.out.println("Status:       " + d.status().name().toLowerCase());
                System.out.println("Model:        " + (d.model() == null ? "-" : d.model()));
                System.out.println("Tags:         " + (d.tags().isEmpty() ? "-" : new java.util.TreeMap<>(d.tags())));
                System.out.println("Key location: " + (d.keyLocation() == null ? "unknown" : d.keyLocation()));
                System.out.println("Registered:   " + d.createdAt());
                List<StoredCertificate> certs = f.store().certificates().certificates(id, f.clock().instant(), null, 100);
                Set<String> seen = new HashSet<>();
                for (StoredCertificate c : certs) { // newest first: the first valid one per profile is current
                    if ("valid".equals(c.status(f.clock().instant())) && seen.add(c.issued().profile())) {
                        System.out.println("Current:      " + c.issued().serialHex() + " (" + c.issued().profile() + ", until " + c.issued().notAfter() + ")");
                    }
                }
                System.out.println("Certificates: " + (certs.isEmpty() ? "none" : ""));
                CertCommand.printTable(certs, f.clock().instant());
            }
            return 0;
        }
    }

    @Command(name = "disable", mixinStandardHelpOptions = true, description = {"Disable a device: it receives no more certificates "
        + "until it is enabled again (its certificates stay valid; revoke them to end them).", "Disabling a disabled device is fine; a "
        + "revoked device cannot be disabled (exit 65)."})
    static final class Disable implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "ID") String id;

        @Override
        public Integer call() {
            return setStatus(home, id, Device.Status.DISABLED);
        }
    }

    @Command(name = "enable", mixinStandardHelpOptions = true, description = {"Enable a disabled device again.",
        "Enabling an active device is fine; a revoked device stays revoked (exit 65): register the hardware under a new id."})
    static final class Enable implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "ID") String id;

        @Override
        public Integer call() {
            return setStatus(home, id, Device.Status.ACTIVE);
        }
    }

    private static int setStatus(HomeOption home, String id, Device.Status status) {
        boolean enable = status == Device.Status.ACTIVE;
        try (Fleet f = home.open()) {
            f.store().devices().setDeviceStatus(id, status, new AuditEvent(f.clock().instant(), home.actor(), enable ? AuditAction.DEVICE_ENABLE : AuditAction.DEVICE_DISABLE,
                    "device:" + id, Map.of()));
            System.out.println((enable ? "Enabled" : "Disabled") + " device " + id);
        }
        return 0;
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = "Revoke a device: it receives no more certificates and all its certificates are revoked.")
    static final class Revoke implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "ID") String id;
        @Option(names = "--reason", defaultValue = "cessation-of-operation", description = "revocation reason (default: ${DEFAULT-VALUE})")
        String reason;

        @Override
        public Integer call() {
            var r = RevocationReason.parse(reason);
            try (Fleet f = home.open()) {
                List<String> serials = f.store().devices().revokeDevice(id, r, f.clock().instant(), home.actor());
                System.out.println("Revoked device " + id + " and " + serials.size() + " certificate" + (serials.size() == 1 ? "" : "s")
                        + (serials.isEmpty() ? "" : ": " + String.join(", ", serials)));
                RevokeCommand.publish(f, serials, home.actor());
            }
            return 0;
        }
    }
}
