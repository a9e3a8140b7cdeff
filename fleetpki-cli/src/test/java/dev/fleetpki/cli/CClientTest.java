package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libfleetpki-est, the C EST client on Debian's Mbed TLS 2.28, against a running fleetpki: built
 * under AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on), its unit tests run, then
 * its fpest command bootstraps trust from a root fingerprint, enrolls with a one-time secret, with
 * an IDevID and with a key on a SoftHSM2 token (the CSR and the TLS handshake signed inside the
 * token), renews and rekeys through the renewal step, and publishes over mutual TLS to mosquitto.
 * Every run must end without a sanitizer report.
 */
class CClientTest {
    static final Path LIB = Path.of("").toAbsolutePath().getParent().resolve("libfleetpki-est");
    static Path build;

    @TempDir Path dir;

    @BeforeAll
    static void buildUnderSanitizers() throws Exception {
        build = Path.of("target/libfleetpki-est-san").toAbsolutePath();
        Proc.Result make = Proc.run(LIB, Map.of(), "make", "-s", "SAN=1", "BUILD=" + build, "all");
        assertThat(make.exit()).as("gcc, make, libmbedtls-dev, libp11-kit-dev:\n" + make.output()).isZero();
        Proc.Result unit = Proc.run(LIB, sanitizers(Map.of()), build.resolve("test_parsers").toString(), LIB.resolve("tests/data").toString());
        assertThat(unit.exit()).as(unit.output()).isZero();
        assertThat(unit.output()).contains("0 failed");
        clean(unit);
    }

    static Map<String, String> sanitizers(Map<String, String> env) {
        Map<String, String> all = new HashMap<>(env);
        all.put("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=99");
        all.put("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
        all.put("LSAN_OPTIONS", "exitcode=99");
        return all;
    }

    static void clean(Proc.Result r) {
        assertThat(r.exit()).as(r.output()).isNotEqualTo(99);
        assertThat(r.output()).doesNotContain("Sanitizer").doesNotContain("runtime error");
    }

    /** fpest under the sanitizers, in dir */
    static Proc.Result fpest(Path dir, Map<String, String> env, List<String> common, String... args) {
        List<String> cmd = new ArrayList<>(List.of(build.resolve("fpest").toString()));
        cmd.addAll(common);
        cmd.addAll(List.of(args));
        Proc.Result r = Proc.run(dir, sanitizers(env), cmd.toArray(new String[0]));
        clean(r);
        return r;
    }

    static X509Certificate cert(Path pem) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem)));
    }

    static String fingerprint(Path pem) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert(pem).getEncoded()));
    }

    static String opensslVerify(Path dir, Path root, Path issuing, Path leaf) {
        return Proc.run(dir, Map.of(), "openssl", "verify", "-CAfile", root.toString(), "-untrusted", issuing.toString(), leaf.toString()).output();
    }

    static String secret(Path home, String... addArgs) {
        Cli.Result r = Cli.run(home, addArgs);
        assertThat(r.exit()).as(r.all()).isZero();
        String[] lines = r.out().trim().split("\n");
        return lines[lines.length - 1];
    }

    @Test
    void theCClientBootstrapsEnrollsWithEachCredentialRenewsAndPublishesOverMqtt() throws Exception {
        try (TestServer ts = TestServer.start(dir.resolve("server"), null)) {
            Path root = ts.home.resolve("ca/root.pem"), issuing = ts.home.resolve("ca/issuing.pem");
            List<String> server = List.of("--host", TestServer.HOST, "--connect-to", "127.0.0.1", "--port", Integer.toString(URI.create(ts.base).getPort()));

            // bootstrap: cacerts is kept only if its root has the fingerprint given out of band
            Proc.Result wrongPin = fpest(dir, Map.of(), server, "cacerts", "--pin", "00".repeat(32), "--out", "cas.pem");
            assertThat(wrongPin.exit()).isEqualTo(2);
            assertThat(wrongPin.output()).contains("cacerts holds no root with the pinned fingerprint");
            assertThat(dir.resolve("cas.pem")).doesNotExist();
            String pin = fingerprint(root);
            Proc.Result cacerts = fpest(dir, Map.of(), server, "cacerts", "--pin", pin, "--out", "cas.pem");
            assertThat(cacerts.exit()).as(cacerts.output()).isZero();
            assertThat(cacerts.output()).containsPattern("root pinned: .*CN=Test Root CA").containsPattern("CA: .*CN=Test Issuing CA");
            assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert(dir.resolve("cas.pem")).getEncoded()))).isEqualTo(pin);

            List<String> pinned = new ArrayList<>(server);
            pinned.addAll(List.of("--root", root.toString()));
            Proc.Result attrs = fpest(dir, Map.of(), pinned, "csrattrs");
            assertThat(attrs.output()).contains("key: EC P-256").contains("signature: SHA-256");

            // 1. a one-time secret, trust bootstrapped from the fingerprint in the same run
            String s1 = secret(ts.home, "device", "add", "c-sec", "--enrollment-secret");
            assertThat(fpest(dir, Map.of(), List.of(), "keygen", "sec.key").output()).contains("P-256 key made");
            List<String> byPin = new ArrayList<>(server);
            byPin.addAll(List.of("--pin", pin));
            Proc.Result enrolled = fpest(dir, Map.of(), byPin, "enroll", "--id", "c-sec", "--key", "sec.key", "--secret", s1, "--out", "sec.pem");
            assertThat(enrolled.exit()).as(enrolled.output()).isZero();
            assertThat(enrolled.output()).contains("enrolled: CN=c-sec").contains("checked: this device's key, CN=c-sec, chains to the pinned root");
            assertThat(opensslVerify(dir, root, issuing, dir.resolve("sec.pem"))).contains(": OK");
            String serial = cert(dir.resolve("sec.pem")).getSerialNumber().toString(16);
            assertThat(Cli.run(ts.home, "cert", "show", serial).out()).contains("c-sec");
            Proc.Result again = fpest(dir, Map.of(), pinned, "enroll", "--id", "c-sec", "--key", "sec.key", "--secret", s1, "--out", "again.pem");
            assertThat(again.exit()).isEqualTo(1);
            assertThat(again.output()).contains("HTTP 401").contains("already used");
            assertThat(dir.resolve("again.pem")).doesNotExist();

            // 2. an IDevID (manufacturer certificate, device id in its serialNumber) as the TLS client certificate
            Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650", "-keyout",
                    "acme-root.key", "-out", "acme-root.pem", "-subj", "/O=Acme Secure Elements/CN=Acme SE Root");
            Proc.ok(dir, "sh", "-c", "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout idevid.key "
                    + "-subj '/O=Acme Secure Elements/serialNumber=01233F9A77/CN=se' | openssl x509 -req -CA acme-root.pem -CAkey acme-root.key "
                    + "-CAcreateserial -days 365 -out idevid.pem");
            assertThat(Cli.run(ts.home, "trust", "add-manufacturer", dir.resolve("acme-root.pem").toString(), "--name", "acme", "--map",
                    "serial-number", "--fleet", "*").exit()).isZero();
            assertThat(Cli.run(ts.home, "device", "add", "01233F9A77", "--model", "sensor").exit()).isZero();
            fpest(dir, Map.of(), List.of(), "keygen", "op.key");
            Proc.Result idev = fpest(dir, Map.of(), pinned, "enroll", "--id", "01233F9A77", "--key", "op.key", "--idevid", "idevid.pem",
                    "--idevid-key", "idevid.key", "--out", "op.pem");
            assertThat(idev.exit()).as(idev.output()).isZero();
            assertThat(idev.output()).contains("enrolled: CN=01233F9A77");
            assertThat(opensslVerify(dir, root, issuing, dir.resolve("op.pem"))).contains(": OK");

            // 3. a key made on a PKCS#11 token (the secure element's stand-in): CSR and TLS signed inside it
            Map<String, String> hsm = TestHome.softHsmToken(dir, "se");
            for (String label : List.of("dev", "dev2")) {
                Proc.Result gen = Proc.run(dir, hsm, "pkcs11-tool", "--module", TestHome.SOFTHSM_MODULE, "--token-label", "se", "--login", "--pin",
                        "1234", "--keypairgen", "--key-type", "EC:prime256v1", "--label", label);
                assertThat(gen.exit()).as(gen.output()).isZero();
            }
            String s3 = secret(ts.home, "device", "add", "c-se", "--enrollment-secret");
            String tokenKey = "pkcs11:token=se;object=dev;pin-value=1234", tokenKey2 = "pkcs11:token=se;object=dev2;pin-value=1234";
            Proc.Result se = fpest(dir, hsm, pinned, "enroll", "--id", "c-se", "--key", tokenKey, "--secret", s3, "--out", "se.pem");
            assertThat(se.exit()).as(se.output()).isZero();
            assertThat(publicKeyOnToken(dir, hsm, "dev")).isEqualTo(cert(dir.resolve("se.pem")).getPublicKey().getEncoded());
            // rekey on the token: the TLS client signature by the old token key, the CSR by the new one
            Proc.Result re = fpest(dir, hsm, pinned, "reenroll", "--id", "c-se", "--cert", "se.pem", "--key", tokenKey, "--new-key", tokenKey2, "--out",
                    "se2.pem");
            assertThat(re.exit()).as(re.output()).isZero();
            assertThat(re.output()).contains("renewed: CN=c-se");
            assertThat(publicKeyOnToken(dir, hsm, "dev2")).isEqualTo(cert(dir.resolve("se2.pem")).getPublicKey().getEncoded());

            // 4. the renewal step over file storage: bootstrap, not due, due (rekey), expired (bootstrap again)
            String s4 = secret(ts.home, "device", "add", "c-ren", "--enrollment-secret");
            Path state = Files.createDirectories(dir.resolve("state"));
            for (String k : List.of("r1.key", "r2.key", "r3.key")) {
                fpest(dir, Map.of(), List.of(), "keygen", k);
            }
            Proc.Result first = fpest(dir, Map.of(), pinned, "renew", "--id", "c-ren", "--state", "state", "--key", "r1.key", "--secret", s4);
            assertThat(first.output()).as(first.output()).contains("renewed: installed CN=c-ren");
            X509Certificate c1 = cert(derToPem(state.resolve("cert")));
            assertThat(fpest(dir, Map.of(), pinned, "renew", "--id", "c-ren", "--state", "state", "--key", "r1.key").output())
                    .contains("not due: renewal at ");
            long nb = c1.getNotBefore().toInstant().getEpochSecond(), na = c1.getNotAfter().toInstant().getEpochSecond();
            String due = Long.toString(nb + (na - nb) * 80 / 100);
            Proc.Result rekey = fpest(dir, Map.of(), pinned, "renew", "--id", "c-ren", "--state", "state", "--key", "r1.key", "--new-key", "r2.key",
                    "--now", due);
            assertThat(rekey.exit()).as(rekey.output()).isZero();
            X509Certificate c2 = cert(derToPem(state.resolve("cert")));
            assertThat(c2.getSerialNumber()).isNotEqualTo(c1.getSerialNumber());
            assertThat(c2.getPublicKey()).isNotEqualTo(c1.getPublicKey());
            assertThat(state.resolve("cert.new")).doesNotExist();
            assertThat(state.resolve("csr.new")).doesNotExist();
            String expired = Long.toString(c2.getNotAfter().toInstant().getEpochSecond() + 86400);
            Proc.Result none = fpest(dir, Map.of(), pinned, "renew", "--id", "c-ren", "--state", "state", "--key", "r2.key", "--new-key", "r3.key",
                    "--now", expired);
            assertThat(none.exit()).isEqualTo(1);
            assertThat(none.output()).contains("no bootstrap credential");
            String s5 = secret(ts.home, "device", "secret", "c-ren");
            Proc.Result back = fpest(dir, Map.of(), pinned, "renew", "--id", "c-ren", "--state", "state", "--key", "r2.key", "--new-key", "r3.key",
                    "--secret", s5, "--now", expired);
            assertThat(back.exit()).as(back.output()).isZero();
            X509Certificate c3 = cert(derToPem(state.resolve("cert")));
            assertThat(c3.getSerialNumber()).isNotIn(c1.getSerialNumber(), c2.getSerialNumber());

            // 5. the new certificates at work: MQTT over mutual TLS with Mbed TLS, a software key and the token key
            try (TestBroker broker = new TestBroker(ts.home, dir.resolve("broker"))) {
                List<String> mq = List.of("--connect-to", "127.0.0.1", "--root", root.toString());
                String addr = TestBroker.NAME + ":" + broker.port;
                Proc.Result pub = fpest(dir, Map.of(), mq, "mqtt", "--broker", addr, "--id", "c-sec", "--cert", "sec.pem", "--key", "sec.key", "--topic",
                        "fleet/c-sec/telemetry", "--message", "{\"t\":21.5}");
                assertThat(pub.exit()).as(pub.output()).isZero();
                assertThat(pub.output()).contains("published to fleet/c-sec/telemetry as c-sec over mutual TLS (Mbed TLS), acknowledged");
                Proc.Result tok = fpest(dir, hsm, mq, "mqtt", "--broker", addr, "--id", "c-se", "--cert", "se2.pem", "--key", tokenKey2, "--topic",
                        "fleet/c-se/telemetry", "--message", "on");
                assertThat(tok.exit()).as(tok.output()).isZero();
                assertThat(broker.log()).contains("u'c-sec'").contains("u'c-se'");
                // a key that does not match the certificate: the broker ends the handshake
                Proc.Result wrong = fpest(dir, Map.of(), mq, "mqtt", "--broker", addr, "--id", "c-sec", "--cert", "sec.pem", "--key", "op.key", "--topic",
                        "fleet/c-sec/telemetry", "--message", "x");
                assertThat(wrong.exit()).isNotZero();
                assertThat(wrong.output()).contains("TLS with the broker");
            }
        }
    }

    /** The SubjectPublicKeyInfo of the token's public key object, as pkcs11-tool reads it. */
    static byte[] publicKeyOnToken(Path dir, Map<String, String> hsm, String label) throws Exception {
        Path out = dir.resolve(label + ".pub.der");
        Proc.Result r = Proc.run(dir, hsm, "pkcs11-tool", "--module", TestHome.SOFTHSM_MODULE, "--token-label", "se", "--read-object", "--type", "pubkey",
                "--label", label, "-o", out.toString());
        assertThat(r.exit()).as(r.output()).isZero();
        return Files.readAllBytes(out);
    }

    static Path derToPem(Path der) throws Exception {
        Path pem = Files.createTempFile("fpest-cert", ".pem");
        Files.writeString(pem, "-----BEGIN CERTIFICATE-----\n" + java.util.Base64.getMimeEncoder().encodeToString(Files.readAllBytes(der))
                + "\n-----END CERTIFICATE-----\n");
        return pem;
    }
}
