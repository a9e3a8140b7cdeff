package dev.fleetpki.app;

import dev.fleetpki.cli.Certs;
import dev.fleetpki.cli.Fleet;
import dev.fleetpki.core.Actor;
import dev.fleetpki.core.ApiToken;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.TokenSecrets;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.config.ConfigLoader;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.Pem;
import dev.fleetpki.server.FleetServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "quickstart", mixinStandardHelpOptions = true,
        description = {"Set up a demo CA in a local folder and issue a device certificate.",
            "Creates the folder with fleetpki.yaml, the embedded SQLite store and encrypted CA keys, runs the ceremony, registers "
                + "a device, signs its CSR and prints what was done and where the files are. Run again to issue the demo device a new certificate."})
final class QuickstartCommand implements Callable<Integer> {
    static final String DEVICE = "demo-sensor-001";

    @Option(names = "--dir", defaultValue = "fleetpki-demo", description = "demo folder (default: ${DEFAULT-VALUE})")
    Path dir;
    @Option(names = "--serve", description = "then run the HTTPS server on the demo until Ctrl-C, with an API token to try it")
    boolean serve;
    @Option(names = "--port", defaultValue = "8443", description = "with --serve: HTTPS port (default: ${DEFAULT-VALUE})")
    int port;
    @Option(names = "--http-port", defaultValue = "8080", description = "plain-HTTP port for CRLs and OCSP, named in the certificates' URLs "
            + "when the demo is made and served there with --serve (default: ${DEFAULT-VALUE}; a demo made earlier keeps its own)")
    int httpPort;
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (serve) {
            FleetServer.sessionTickets(false); // as fleetpki serve: before anything loads the JDK's TLS classes
        }
        Path home = dir.toAbsolutePath().normalize();
        boolean fresh = !Files.exists(home.resolve(ConfigLoader.FILE_NAME));
        if (fresh) {
            // 0 (any free port) or -1 (no plain HTTP) cannot be named in a certificate: the URLs then say 8080
            writeConfig(home, httpPort > 0 ? httpPort : 8080);
        } else {
            // the certificates already issued name the port the demo was made with: serve there, or say why not
            String url = ConfigLoader.load(home.resolve(ConfigLoader.FILE_NAME)).crlUrl("ca", 0);
            int made = url == null ? -1 : java.net.URI.create(url).getPort(); // -1: edited to name no port or no URL
            if (spec.commandLine().getParseResult().hasMatchedOption("--http-port") && httpPort > 0 && made > 0 && made != httpPort) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "the demo in " + home + " was made with --http-port " + made
                        + ": its certificates name CRL and OCSP URLs on that port, so --http-port " + httpPort + " would serve where none of them "
                        + "look; leave --http-port out, or give a new --dir");
            }
            if (httpPort > 0 && made > 0) {
                httpPort = made;
            }
        }
        var actor = Actor.operator(System.getProperty("user.name", "demo"));
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            if (fresh) {
                step("Running the CA ceremony (root, issuing CA, OCSP signer, code-signing CA; ECDSA P-256 keys, encrypted)");
                List<CaRecord> cas = f.ceremony(actor).init(false);
                Certs.writeCaFiles(home, cas);
                Certs.printCaTable(cas);
                step("Registering device " + DEVICE);
                f.store().devices().addDevice(new Device(DEVICE, "demo-board", Map.of("line", "1"), Device.Status.ACTIVE, "software", f.clock().instant()),
                        new AuditEvent(f.clock().instant(), actor, AuditAction.DEVICE_ADD, "device:" + DEVICE, Map.of("model", "demo-board")));
            } else {
                step("Demo already set up in " + home + "; issuing " + DEVICE + " a new certificate");
            }
            step("On the 'device': generating an ECDSA P-256 key and a CSR with CN=" + DEVICE);
            KeyPair kp = KeyAlgorithm.EC_P256.generate();
            var csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + DEVICE), kp.getPublic())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()));
            Path devices = home.resolve("devices");
            Pem.writePrivateFile(devices.resolve(DEVICE + ".key"), Pem.encode("PRIVATE KEY", kp.getPrivate().getEncoded()).getBytes(StandardCharsets.US_ASCII));
            Pem.writePublicFile(devices.resolve(DEVICE + ".csr"), Pem.encode("CERTIFICATE REQUEST", csr.getEncoded()).getBytes(StandardCharsets.US_ASCII));

            step("Signing the CSR with the issuing CA (profile 'device')");
            IssuedCertificate issued = f.pipeline().issue(IssuanceRequest.fromCsr(UntrustedCsr.parse(csr.getEncoded()), DEVICE, "device", "cli"),
                    f.authorizer().operator(actor, DEVICE, "device", "cli"));
            Path crt = devices.resolve(DEVICE + ".crt");
            Pem.writePublicFile(crt, Certs.pemChain(issued.certificate(), f.chainAbove(issued)).getBytes(StandardCharsets.US_ASCII));
            System.out.println("  serial " + issued.serialHex() + ", valid until " + issued.notAfter() + ", "
                    + issued.certificate().getEncoded().length + " bytes DER");

            Path root = home.resolve("ca").resolve(f.store().cas().stream().filter(c -> c.role() == CaRole.ROOT).findFirst().orElseThrow().name() + ".pem");
            Path issuing = home.resolve("ca").resolve(issued.caName() + ".pem");
            System.out.println();
            System.out.println("Done. Files in " + home + ":");
            System.out.println("  fleetpki.yaml                 configuration (ceremony, profiles, store)");
            System.out.println("  fleetpki.db                   SQLite store: CAs, devices, certificates, audit log");
            System.out.println("  keys/*.p8                     CA keys, encrypted; passphrase in secrets/passphrase");
            System.out.println("  ca/*.pem                      CA certificates");
            System.out.println("  devices/" + DEVICE + ".*  the demo device's key, CSR and certificate chain");
            System.out.println();
            System.out.println("Try:");
            System.out.println("  openssl verify -CAfile " + root + " -untrusted " + issuing + " " + crt);
            System.out.println("  ./fleetpki --help");
            System.out.println("  ./fleetpki device show " + DEVICE + " --home " + home);
            System.out.println("  ./fleetpki cert show " + issued.serialHex() + " --home " + home);
            System.out.println("  ./fleetpki audit verify --home " + home);
            if (serve) {
                System.out.println();
                step("Creating an API token (role issuer, 30 days) in " + home.resolve(TOKEN_FILE) + " and starting the server");
                String token = demoToken(f, actor, home);
                String url = "https://localhost:" + port;
                ServeCommand.serveUntilStopped(f, actor, "127.0.0.1", port, httpPort, "localhost", List.of(
                        "  the API:   TOKEN=$(cat " + home.resolve(TOKEN_FILE) + ")",
                        "             curl --cacert root.pem -H \"Authorization: Bearer $TOKEN\" " + url + "/api/v1/devices/" + DEVICE,
                        "  docs:      docs/server.md, docs/rest.md; the API is described at " + url + "/api/v1/openapi.json"));
            }
        }
        return 0;
    }

    static final String TOKEN_FILE = "secrets/demo-token";

    /** An issuer token for trying the API, written to secrets/demo-token (mode 0600), never printed. */
    private static String demoToken(Fleet f, Actor actor, Path home) {
        Instant now = f.clock().instant();
        TokenSecrets.New t = TokenSecrets.create();
        String name = "quickstart-" + now.getEpochSecond();
        f.store().credentials().addToken(new ApiToken(t.id(), name, Role.ISSUER, t.secretHash(), now, actor, now.plus(Duration.ofDays(30)), null, null, null, null),
                new AuditEvent(now, actor, AuditAction.TOKEN_CREATE, "token:" + name, Map.of("role", "issuer", "id", t.id(), "expires", now.plus(Duration.ofDays(30)).toString())));
        Pem.writePrivateFile(home.resolve(TOKEN_FILE), (t.text() + "\n").getBytes(StandardCharsets.US_ASCII));
        return t.text();
    }

    private static void step(String s) {
        System.out.println("==> " + s);
    }

    private static void writeConfig(Path home, int httpPort) throws Exception {
        Files.createDirectories(home);
        byte[] rnd = new byte[24];
        new SecureRandom().nextBytes(rnd);
        Pem.writePrivateFile(home.resolve("secrets/passphrase"),
                (Base64.getUrlEncoder().withoutPadding().encodeToString(rnd) + "\n").getBytes(StandardCharsets.US_ASCII));
        String yaml = """
                # fleetpki demo configuration, written by 'fleetpki quickstart'. See docs/ceremony.md and docs/profiles.md.
                store:
                  url: jdbc:sqlite:fleetpki.db
                # Passphrase for the encrypted CA key files (env:NAME, file:PATH or prompt; never inline).
                passphrase: file:secrets/passphrase
                urls:
                  crl: http://localhost:%1$d/crl/{ca}.crl
                  ocsp: http://localhost:%1$d/ocsp
                  caIssuers: http://localhost:%1$d/ca/{ca}.crt
                ceremony:
                  root:
                    name: root
                    subject: "CN=fleetpki Demo Root CA,O=fleetpki demo"
                    algorithm: ecdsa-p256
                    key: file:keys/root.p8
                    validity: 20y
                  issuing:
                    - name: issuing
                      subject: "CN=fleetpki Demo Issuing CA 1,O=fleetpki demo"
                      algorithm: ecdsa-p256
                      key: file:keys/issuing.p8
                      validity: 10y
                  ocsp:
                    name: ocsp
                    subject: "CN=fleetpki Demo OCSP Signer,O=fleetpki demo"
                    key: file:keys/ocsp.p8
                    validity: 30d
                  codeSigning:
                    name: code-signing
                    subject: "CN=fleetpki Demo Code Signing CA,O=fleetpki demo"
                    key: file:keys/code-signing.p8
                    validity: 10y
                profiles:
                  device:
                    validity: 365d
                  server-tls:
                    validity: 90d
                """.formatted(httpPort);
        Pem.writePublicFile(home.resolve(ConfigLoader.FILE_NAME), yaml.getBytes(StandardCharsets.UTF_8));
    }
}
