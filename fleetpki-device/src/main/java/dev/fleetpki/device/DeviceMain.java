package dev.fleetpki.device;

import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code fleetpki-device} command: one device's half from a shell (a gateway, a test bench, a
 * firmware engineer trying the flow). The device folder holds {@code device.properties} (id,
 * server, where the key's passphrase comes from), {@code anchor.pem}, the key (or its PKCS#11
 * reference in {@code key.ref}) and {@code chain.pem}.
 */
@Command(name = "fleetpki-device", mixinStandardHelpOptions = true, version = "fleetpki-device 0.1.0",
        description = "The device side of fleetpki: make a key that never leaves the device, enroll over EST, renew, use the certificate.%n",
        subcommands = {DeviceMain.Init.class, DeviceMain.Enroll.class, DeviceMain.Renew.class, DeviceMain.Anchors.class, DeviceMain.Show.class,
            DeviceMain.Publish.class, DeviceMain.Call.class,
            DeviceMain.Simulate.class, FirmwareCommand.class, CommandLine.HelpCommand.class},
        footer = {"%nExit codes: 0 ok, 64 usage, 65 refused (by the server, the broker or API, or by the device's checks), "
            + "75 pending approval (retry later)."})
public final class DeviceMain implements Runnable {
    static final String CONFIG = "device.properties";
    static final String ANCHOR = "anchor.pem";

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cl = new CommandLine(new DeviceMain());
        usageErrorsExit64(cl);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof DeviceException || ex instanceof IllegalArgumentException) {
                cmd.getErr().println("fleetpki-device: " + ex.getMessage());
                return 65;
            }
            cmd.getErr().println("fleetpki-device: internal error: " + ex);
            return 70;
        });
        return cl.execute(args);
    }

    /** Usage errors exit 64 (EX_USAGE), as documented, in every subcommand. */
    private static void usageErrorsExit64(CommandLine cl) {
        cl.getCommandSpec().exitCodeOnInvalidInput(64);
        cl.getSubcommands().values().forEach(DeviceMain::usageErrorsExit64);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The device folder option every subcommand takes. */
    static class Dir {
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "the device's folder") Path dir;

        Properties config() {
            Properties p = new Properties();
            try (InputStream in = Files.newInputStream(dir.resolve(CONFIG))) {
                p.load(in);
            } catch (IOException e) {
                throw new DeviceException("no device in " + dir + " (" + CONFIG + " missing); make one with: fleetpki-device init --dir " + dir);
            }
            return p;
        }

        X509Certificate anchor() {
            try {
                return DeviceIdentity.certificate(Files.readAllBytes(dir.resolve(ANCHOR)));
            } catch (IOException e) {
                throw new DeviceException("cannot read " + dir.resolve(ANCHOR) + ": " + e.getMessage(), e);
            }
        }

        DeviceIdentity open() {
            Properties p = config();
            return DeviceIdentity.open(dir, p.getProperty("id"), secret(p.getProperty("passphrase"), dir), anchor());
        }

        EstClient est() {
            List<X509Certificate> anchors = new java.util.ArrayList<>(List.of(anchor()));
            anchors.addAll(DeviceIdentity.learnedAnchors(dir)); // roots learned in a root rollover
            return new EstClient(URI.create(config().getProperty("server")), anchors, Duration.ofSeconds(30));
        }
    }

    static List<String> listNames(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    static SecretSource secret(String text, Path base) {
        return text == null || text.isBlank() ? null : SecretSource.parse(text, base);
    }

    @Command(name = "init", mixinStandardHelpOptions = true,
            description = "Make the device's key (on the device: an encrypted file, or a PKCS#11 token as non-extractable) and its folder.")
    static final class Init implements Callable<Integer> {
        @CommandLine.Mixin Dir dir;
        @Option(names = "--id", required = true, description = "the device id the fleet registered") String id;
        @Option(names = "--server", required = true, paramLabel = "URL", description = "the EST root, e.g. https://pki.example:8443/.well-known/est")
        String server;
        @Option(names = "--anchor", required = true, paramLabel = "FILE", description = "the fleet's root certificate, obtained out of band") Path anchor;
        @Option(names = "--key", defaultValue = "file:device.p8", paramLabel = "REF",
                description = "file:PATH (in the folder) or a pkcs11: URI (default: ${DEFAULT-VALUE})") String key;
        @Option(names = "--passphrase", paramLabel = "SOURCE", description = "for a file key: env:NAME, file:PATH or prompt (never the passphrase itself)")
        String passphrase;
        @Option(names = "--algorithm", defaultValue = "auto", description = "auto (what the server's csrattrs asks for; else ecdsa-p256), ecdsa-p256, "
                + "ecdsa-p384, ed25519, rsa-2048 ...") String algorithm;

        @Override
        public Integer call() throws IOException {
            KeyRef ref = KeyRef.parse(key);
            if (ref.isFile() && passphrase == null) {
                throw new DeviceException("a file key needs --passphrase env:NAME, file:PATH or prompt");
            }
            if (Files.exists(dir.dir.resolve(CONFIG))) {
                throw new DeviceException(dir.dir + " already holds a device; use another folder");
            }
            X509Certificate root = DeviceIdentity.certificate(Files.readAllBytes(anchor));
            KeyAlgorithm alg = algorithm.equals("auto")
                    ? new EstClient(URI.create(server), root, Duration.ofSeconds(30)).keyAlgorithm().orElse(KeyAlgorithm.EC_P256)
                    : KeyAlgorithm.parse(algorithm);
            // a passphrase file named relative to where the command runs is kept as an absolute path: later commands run anywhere
            String pass = passphrase != null && passphrase.startsWith("file:") ? "file:" + Path.of(passphrase.substring(5)).toAbsolutePath() : passphrase;
            boolean existed = Files.isDirectory(dir.dir);
            List<String> before = existed ? listNames(dir.dir) : List.of();
            Files.createDirectories(dir.dir);
            DeviceIdentity d;
            try {
                d = DeviceIdentity.create(dir.dir, id, ref, alg, secret(pass, null), root);
                Files.write(dir.dir.resolve(ANCHOR), Files.readAllBytes(anchor));
                Properties p = new Properties();
                p.setProperty("id", id);
                p.setProperty("server", server);
                if (pass != null) {
                    p.setProperty("passphrase", pass);
                }
                try (OutputStream out = Files.newOutputStream(dir.dir.resolve(CONFIG))) {
                    p.store(out, "fleetpki-device");
                }
            } catch (RuntimeException | IOException e) { // nothing half-made: no key file, anchor or config left behind
                for (String f : listNames(dir.dir)) {
                    if (!before.contains(f)) { // only what this run wrote
                        Files.deleteIfExists(dir.dir.resolve(f));
                    }
                }
                if (!existed) {
                    try (var left = Files.list(dir.dir)) {
                        if (left.findAny().isEmpty()) {
                            Files.delete(dir.dir);
                        }
                    }
                }
                throw e;
            }
            System.out.println("Device " + id + ": " + alg.configName() + " key made, " + d.key().location());
            System.out.println("Next: fleetpki-device enroll --dir " + dir.dir + " --secret env:ENROLLMENT_SECRET");
            return 0;
        }
    }

    @Command(name = "enroll", mixinStandardHelpOptions = true, description = "Enroll over EST with the device's one-time enrollment secret.")
    static final class Enroll implements Callable<Integer> {
        @CommandLine.Mixin Dir dir;
        @Option(names = "--secret", required = true, paramLabel = "SOURCE", description = "env:NAME, file:PATH or prompt (never the secret itself)")
        String secret;

        @Override
        public Integer call() {
            DeviceIdentity d = dir.open();
            return report(d.enroll(dir.est(), SecretSource.parse(secret, null).read(), Clock.systemUTC()), "Enrolled");
        }
    }

    @Command(name = "renew", mixinStandardHelpOptions = true,
            description = "Renew over EST simplereenroll with the current certificate; --rekey makes a new key first.")
    static final class Renew implements Callable<Integer> {
        @CommandLine.Mixin Dir dir;
        @Option(names = "--rekey", description = "a new key for the new certificate (the old key is deleted once it is installed)") boolean rekey;

        @Override
        public Integer call() {
            DeviceIdentity d = dir.open();
            return report(d.renew(dir.est(), Clock.systemUTC(), rekey), "Renewed");
        }
    }

    @Command(name = "anchors", mixinStandardHelpOptions = true,
            description = {"Fetch the CA certificates (EST cacerts) and learn a new root that a cross certificate from a trusted anchor vouches "
                    + "for (a root rollover); then list the anchors.", "A root offered without such a cross certificate is ignored."})
    static final class Anchors implements Callable<Integer> {
        @CommandLine.Mixin Dir dir;
        @Option(names = "--offline", description = "only list the anchors; fetch nothing") boolean offline;

        @Override
        public Integer call() {
            DeviceIdentity d = dir.open();
            if (!offline) {
                List<X509Certificate> learned = d.refreshAnchors(dir.est(), Clock.systemUTC());
                System.out.println(learned.isEmpty() ? "Nothing new to learn." : "Learned through a cross certificate from a trusted anchor: "
                        + learned.stream().map(c -> c.getSubjectX500Principal().getName()).toList());
            }
            for (X509Certificate a : d.anchors()) {
                System.out.println((a.equals(d.anchor()) ? "anchor:  " : "learned: ") + a.getSubjectX500Principal().getName()
                        + ", valid until " + a.getNotAfter().toInstant());
            }
            return 0;
        }
    }

    static int report(DeviceIdentity.Result r, String verb) {
        if (r.pending().isPresent()) {
            System.out.println("Pending: " + r.pending().get().message().strip() + " (retry after " + r.pending().get().retryAfterSeconds() + " s)");
            return 75;
        }
        X509Certificate leaf = r.chain().getFirst();
        System.out.println(verb + ": " + leaf.getSubjectX500Principal().getName() + ", serial " + leaf.getSerialNumber().toString(16) + ", valid until "
                + leaf.getNotAfter().toInstant() + " (checked: own key, own id, chain to the anchor)");
        return 0;
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "The device's id, key, certificate and when it renews.")
    static final class Show implements Callable<Integer> {
        @CommandLine.Mixin Dir dir;

        @Override
        public Integer call() {
            DeviceIdentity d = dir.open();
            System.out.println("id:          " + d.deviceId());
            System.out.println("key:         " + d.key().algorithm().configName() + ", " + d.key().location());
            System.out.println("server:      " + dir.config().getProperty("server"));
            System.out.println("anchor:      " + d.anchor().getSubjectX500Principal().getName());
            for (X509Certificate learned : DeviceIdentity.learnedAnchors(dir.dir)) {
                System.out.println("learned:     " + learned.getSubjectX500Principal().getName() + " (root rollover)");
            }
            var chain = d.chain();
            if (chain.isEmpty()) {
                System.out.println("certificate: none yet (fleetpki-device enroll)");
                return 0;
            }
            X509Certificate leaf = chain.get().getFirst();
            System.out.println("certificate: serial " + leaf.getSerialNumber().toString(16) + ", issued by " + leaf.getIssuerX500Principal().getName());
            System.out.println("valid:       " + leaf.getNotBefore().toInstant() + " .. " + leaf.getNotAfter().toInstant());
            System.out.println("renews at:   about " + RenewalPolicy.DEFAULT.renewAt(leaf, new SplittableRandom(0)) + " (two thirds of its life, +/- 5%)");
            return 0;
        }
    }

    @Command(name = "simulate", mixinStandardHelpOptions = true,
            description = {"Run N simulated devices (virtual threads) through register -> enroll -> MQTT publish -> renew -> (some) revoked "
                + "and locked out, with a progress bar and a summary. Needs an API token with the issuer role (fleetpki token create sim --role issuer)."})
    static final class Simulate implements Callable<Integer> {
        @Option(names = "--server", required = true, paramLabel = "URL", description = "the fleetpki server, https://host:port") String server;
        @Option(names = "--anchor", required = true, paramLabel = "FILE", description = "the fleet's root certificate") Path anchor;
        @Option(names = "--token", required = true, paramLabel = "SOURCE", description = "the API token: env:NAME, file:PATH or prompt") String token;
        @Option(names = "--devices", defaultValue = "100", description = "how many (default: ${DEFAULT-VALUE})") int devices;
        @Option(names = "--prefix", description = "device ids are PREFIX00000, PREFIX00001 ... (default: sim-<time>-)") String prefix;
        @Option(names = "--concurrency", defaultValue = "64", description = "devices in flight at once (default: ${DEFAULT-VALUE})") int concurrency;
        @Option(names = "--broker", paramLabel = "HOST:PORT", description = "MQTT broker with client-certificate auth (optional)") String broker;
        @Option(names = "--broker-name", paramLabel = "NAME", description = "the name the broker's certificate carries (default: HOST)") String brokerName;
        @Option(names = "--connect-to", paramLabel = "ADDRESS", description = "connect to this address instead of resolving HOST") String connectTo;
        @Option(names = "--renew", negatable = true, defaultValue = "true", description = "renew each device once, with a new key (default: on)") boolean renew;
        @Option(names = "--revoke", defaultValue = "0", description = "revoke this many devices afterwards and check the broker locks them out") int revoke;
        @Option(names = "--after-revoke", paramLabel = "COMMAND",
                description = "a shell command run after the revocations, e.g. the broker's CRL refresh (export the CRLs, reload the broker)") String afterRevoke;
        @Option(names = "--lockout-timeout", defaultValue = "60", description = "seconds to wait for the broker to refuse revoked devices (default: ${DEFAULT-VALUE})")
        int lockoutTimeout;

        @Override
        public Integer call() throws Exception {
            X509Certificate root = DeviceIdentity.certificate(Files.readAllBytes(anchor));
            InetSocketAddress brokerAddress = null;
            String name = null;
            if (broker != null) {
                int colon = broker.lastIndexOf(':');
                if (colon < 0) {
                    throw new DeviceException("--broker is HOST:PORT, e.g. broker.fleet.example:8883");
                }
                String host = broker.substring(0, colon);
                brokerAddress = new InetSocketAddress(connectTo == null ? host : connectTo, Integer.parseInt(broker.substring(colon + 1)));
                name = brokerName == null ? host : brokerName;
            }
            Runnable hook = afterRevoke == null ? null : () -> {
                try {
                    Process p = new ProcessBuilder("/bin/sh", "-c", afterRevoke).inheritIO().start();
                    if (p.waitFor() != 0) {
                        throw new DeviceException("--after-revoke command failed with exit " + p.exitValue());
                    }
                } catch (IOException e) {
                    throw new DeviceException("cannot run --after-revoke: " + e.getMessage(), e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            String p = prefix != null ? prefix : "sim-" + Long.toString(System.currentTimeMillis(), 36) + "-";
            var summary = new FleetSimulator().run(new FleetSimulator.Options(URI.create(server), root, SecretSource.parse(token, null).read(), devices, p,
                    concurrency, brokerAddress, name, revoke, renew, Duration.ofSeconds(lockoutTimeout), hook), System.err);
            System.out.print(summary.render());
            return summary.failures().isEmpty() ? 0 : 65;
        }
    }

    @Command(name = "publish", mixinStandardHelpOptions = true, description = "Publish one MQTT message over mutual TLS with the device's certificate.")
    static final class Publish implements Callable<Integer> {
        @CommandLine.Mixin Dir dir;
        @Option(names = "--broker", required = true, paramLabel = "HOST:PORT") String broker;
        @Option(names = "--broker-name", paramLabel = "NAME", description = "the name the broker's certificate must carry (default: HOST)") String name;
        @Option(names = "--connect-to", paramLabel = "ADDRESS", description = "connect to this address instead of resolving HOST") String connectTo;
        @Option(names = "--topic", required = true) String topic;
        @Option(names = "--message", required = true) String message;

        @Override
        public Integer call() {
            int colon = broker.lastIndexOf(':');
            if (colon < 0) {
                throw new DeviceException("--broker is HOST:PORT, e.g. broker.fleet.example:8883");
            }
            String host = broker.substring(0, colon);
            int port = Integer.parseInt(broker.substring(colon + 1));
            DeviceIdentity d = dir.open();
            try (MqttTlsClient c = MqttTlsClient.connect(new InetSocketAddress(connectTo == null ? host : connectTo, port), name == null ? host : name, d,
                    Duration.ofSeconds(10))) {
                c.publish(topic, message.getBytes(StandardCharsets.UTF_8));
            }
            System.out.println("Published to " + topic + " as " + d.deviceId() + " (acknowledged by the broker)");
            return 0;
        }
    }

    @Command(name = "call", mixinStandardHelpOptions = true,
            description = "Call an HTTPS API over mutual TLS with the device's certificate (like curl with the device's identity); "
                + "prints the status line and the body, exit 0 on 2xx.")
    static final class Call implements Callable<Integer> {
        @CommandLine.Mixin Dir dir;
        @CommandLine.Parameters(paramLabel = "URL", description = "https://host[:port]/path; the API's certificate must name host") URI url;
        @Option(names = "--data", paramLabel = "TEXT", description = "POST this body (without it: GET)") String data;
        @Option(names = "--content-type", defaultValue = "application/json", description = "of the --data body (default: ${DEFAULT-VALUE})")
        String contentType;
        @Option(names = "--server-anchor", paramLabel = "FILE",
                description = "trust the API's certificate if it chains to this CA (repeatable; default: the device's fleet anchor)") List<Path> anchors;

        @Override
        public Integer call() throws IOException {
            if (!"https".equalsIgnoreCase(url.getScheme())) {
                throw new DeviceException("the URL must be https:// (the device's certificate is only presented over TLS): " + url);
            }
            DeviceIdentity d = dir.open();
            List<X509Certificate> trust = new ArrayList<>();
            for (Path a : anchors == null ? List.<Path>of() : anchors) {
                trust.add(DeviceIdentity.certificate(Files.readAllBytes(a)));
            }
            DeviceHttps api = trust.isEmpty() ? DeviceHttps.of(d, Duration.ofSeconds(30)) : DeviceHttps.of(d, trust, Duration.ofSeconds(30));
            DeviceHttps.Response r = data == null ? api.get(url) : api.post(url, contentType, data.getBytes(StandardCharsets.UTF_8));
            System.out.println("HTTP " + r.status() + (r.contentType().isEmpty() ? "" : " " + r.contentType()));
            System.out.print(r.text());
            if (!r.text().isEmpty() && !r.text().endsWith("\n")) {
                System.out.println();
            }
            return r.status() / 100 == 2 ? 0 : 65;
        }
    }
}
