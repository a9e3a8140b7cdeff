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

    /** fpest (the 2.28 build) under the sanitizers, in dir */
    static Proc.Result fpest(Path dir, Map<String, String> env, List<String> common, String... args) {
        return fpestOf(build, dir, env, common, args);
    }

    /** The fpest of a build folder under the sanitizers, in dir; no sanitizer report. */
    static Proc.Result fpestOf(Path buildDir, Path dir, Map<String, String> env, List<String> common, String... args) {
        List<String> cmd = new ArrayList<>(List.of(buildDir.resolve("fpest").toString()));
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
        try (TestServer ts = TestServer.start(dir.resolve("server"), """
                p384-devices:
                  kind: device
                  keyAlgorithms: [ecdsa-p384]
                """)) {
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

            // csrattrs decides the key and the CSR's hash: a profile that takes P-384 only
            List<String> p384 = new ArrayList<>(pinned);
            p384.addAll(List.of("--label", "p384-devices"));
            assertThat(fpest(dir, Map.of(), p384, "csrattrs").output()).contains("key: EC P-384").contains("signature: SHA-384");
            assertThat(fpest(dir, Map.of(), p384, "keygen", "p384.key", "--csrattrs").output()).contains("P-384 key made (as csrattrs asks): p384.key");
            String s384 = secret(ts.home, "device", "add", "c-384", "--enrollment-secret");
            Proc.Result e384 = fpest(dir, Map.of(), p384, "enroll", "--id", "c-384", "--key", "p384.key", "--secret", s384, "--out", "p384.pem", "--csrattrs");
            assertThat(e384.exit()).as(e384.output()).isZero();
            assertThat(e384.output()).contains("CSR signed with SHA-384, as csrattrs asks").contains("enrolled: CN=c-384");
            assertThat(((java.security.interfaces.ECPublicKey) cert(dir.resolve("p384.pem")).getPublicKey()).getParams().getCurve().getField().getFieldSize())
                    .isEqualTo(384);

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

            // an IDevID naming a device nobody registered: 202 for an operator; the renewal step keeps the CSR, and after
            // the approval its next step sends the same CSR and installs the certificate the operator let through
            Proc.ok(dir, "sh", "-c", "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout idevid2.key "
                    + "-subj '/O=Acme Secure Elements/serialNumber=01233F9B01/CN=se' | openssl x509 -req -CA acme-root.pem -CAkey acme-root.key "
                    + "-CAcreateserial -days 365 -out idevid2.pem");
            Path pendingState = Files.createDirectories(dir.resolve("pending-state"));
            String[] step = {"renew", "--id", "01233F9B01", "--state", "pending-state", "--key", "op.key", "--idevid", "idevid2.pem", "--idevid-key",
                    "idevid2.key"};
            Proc.Result waits = fpest(dir, Map.of(), pinned, step);
            assertThat(waits.exit()).as(waits.output()).isEqualTo(75);
            assertThat(waits.output()).contains("waits for an operator").contains("HTTP 202");
            byte[] kept = Files.readAllBytes(pendingState.resolve("csr.new"));
            Cli.Result listed = Cli.run(ts.home, "request", "list", "--json");
            java.util.regex.Matcher id = java.util.regex.Pattern.compile("\"id\"\\s*:\\s*\"([0-9a-f]+)\"").matcher(listed.out());
            assertThat(id.find()).as(listed.out()).isTrue();
            assertThat(Cli.run(ts.home, "request", "approve", id.group(1)).exit()).isZero();
            Proc.Result approved = fpest(dir, Map.of(), pinned, step);
            assertThat(approved.exit()).as(approved.output()).isZero();
            assertThat(approved.output()).contains("installed: CN=01233F9B01");
            assertThat(pendingState.resolve("csr.new")).doesNotExist();
            var requests = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Cli.run(ts.home, "request", "list", "--status", "all", "--json").out())
                    .path("requests");
            assertThat(requests).hasSize(1);
            assertThat(requests.get(0).path("status").asText()).isEqualTo("issued");
            String approvedCsr = requests.get(0).path("csrPem").asText().replaceAll("-----[A-Z ]+-----|\\s", "");
            assertThat(java.util.Base64.getDecoder().decode(approvedCsr)).as("the request the operator approved is the CSR sent first").isEqualTo(kept);

            // 3. keys made on a PKCS#11 token (the secure element's stand-in): CSR and TLS signed inside it; EC through the
            // opaque callback, RSA (as the ESP32's DS peripheral holds one) through the RSA-alt callback
            Map<String, String> hsm = TestHome.softHsmToken(dir, "se");
            for (String[] k : List.of(new String[] {"c-se", "dev", "EC:prime256v1"}, new String[] {"c-rsa", "rsa", "rsa:2048"})) {
                String device = k[0], label = k[1];
                tokenKeypair(dir, hsm, label, k[2]);
                tokenKeypair(dir, hsm, label + "2", k[2]);
                String s3 = secret(ts.home, "device", "add", device, "--enrollment-secret");
                String tokenKey = "pkcs11:token=se;object=" + label + ";pin-value=1234", tokenKey2 = "pkcs11:token=se;object=" + label + "2;pin-value=1234";
                Proc.Result se = fpest(dir, hsm, pinned, "enroll", "--id", device, "--key", tokenKey, "--secret", s3, "--out", label + ".pem");
                assertThat(se.exit()).as(se.output()).isZero();
                assertThat(publicKeyOnToken(dir, hsm, label)).isEqualTo(cert(dir.resolve(label + ".pem")).getPublicKey().getEncoded());
                // rekey on the token: the TLS client signature by the old token key, the CSR by the new one
                Proc.Result re = fpest(dir, hsm, pinned, "reenroll", "--id", device, "--cert", label + ".pem", "--key", tokenKey, "--new-key", tokenKey2,
                        "--out", label + "2.pem");
                assertThat(re.exit()).as(re.output()).isZero();
                assertThat(re.output()).contains("renewed: CN=" + device);
                assertThat(publicKeyOnToken(dir, hsm, label + "2")).isEqualTo(cert(dir.resolve(label + "2.pem")).getPublicKey().getEncoded());
            }
            String tokenKey2 = "pkcs11:token=se;object=dev2;pin-value=1234";

            // 4. the renewal step over file storage: bootstrap, not due, due (rekey), expired (bootstrap again)
            String s4 = secret(ts.home, "device", "add", "c-ren", "--enrollment-secret");
            Path state = Files.createDirectories(dir.resolve("state"));
            for (String k : List.of("r1.key", "r2.key", "r3.key")) {
                fpest(dir, Map.of(), List.of(), "keygen", k);
            }
            Proc.Result first = fpest(dir, Map.of(), pinned, "renew", "--id", "c-ren", "--state", "state", "--key", "r1.key", "--secret", s4);
            assertThat(first.output()).as(first.output()).contains("installed: CN=c-ren");
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
                Proc.Result tok = fpest(dir, hsm, mq, "mqtt", "--broker", addr, "--id", "c-se", "--cert", "dev2.pem", "--key", tokenKey2, "--topic",
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

    /**
     * The same sources against Mbed TLS 3.6 (the upstream archive Debian 13 packages, built by
     * libfleetpki-est/scripts/mbedtls3), under the sanitizers too: the unit tests, enrollment with a
     * secret and with a token key (the CSR signed by the callback), a software rekey, an RSA token
     * key signing TLS 1.2 through RSA-alt, MQTT; a callback-only EC key asked to sign a TLS handshake
     * is refused with the reason (3.x wants a PSA opaque key there).
     */
    @Test
    void theSameSourcesBuildAgainstMbedtls3AndEnroll() throws Exception {
        Proc.Result fetched = Proc.run(LIB, Map.of(), LIB.resolve("scripts/mbedtls3").toString());
        assertThat(fetched.exit()).as("Mbed TLS 3.6 from Debian's archive:\n" + fetched.output()).isZero();
        String mbedtls3 = fetched.output().trim().lines().reduce((a, b) -> b).orElseThrow();
        Path build3 = Path.of("target/libfleetpki-est-3-san").toAbsolutePath();
        Proc.Result make = Proc.run(LIB, Map.of(), "make", "-s", "SAN=1", "BUILD=" + build3, "MBEDTLS_DIR=" + mbedtls3, "all");
        assertThat(make.exit()).as(make.output()).isZero();
        Proc.Result unit = Proc.run(LIB, sanitizers(Map.of()), build3.resolve("test_parsers").toString(), LIB.resolve("tests/data").toString());
        assertThat(unit.output()).contains("0 failed");
        clean(unit);
        assertThat(Proc.run(LIB, Map.of(), build3.resolve("fpest").toString(), "version").output()).contains("Mbed TLS 3.6.6");
        assertThat(Proc.run(LIB, Map.of(), build.resolve("fpest").toString(), "version").output()).contains("Mbed TLS 2.28");

        try (TestServer ts = TestServer.start(dir.resolve("server"), null)) {
            Path root = ts.home.resolve("ca/root.pem");
            List<String> server = List.of("--host", TestServer.HOST, "--connect-to", "127.0.0.1", "--port", Integer.toString(URI.create(ts.base).getPort()));
            List<String> byPin = new ArrayList<>(server);
            byPin.addAll(List.of("--pin", fingerprint(root)));
            Proc.Result keygen = run3(build3, Map.of(), List.of(), "keygen", "k1.key");
            assertThat(keygen.exit()).as(keygen.output()).isZero();
            run3(build3, Map.of(), List.of(), "keygen", "k2.key");
            String s1 = secret(ts.home, "device", "add", "m3-1", "--enrollment-secret");
            Proc.Result enrolled = run3(build3, Map.of(), byPin, "enroll", "--id", "m3-1", "--key", "k1.key", "--secret", s1, "--out", "m3.pem");
            assertThat(enrolled.exit()).as(enrolled.output()).isZero();
            assertThat(opensslVerify(dir, root, ts.home.resolve("ca/issuing.pem"), dir.resolve("m3.pem"))).contains(": OK");
            Proc.Result re = run3(build3, Map.of(), byPin, "reenroll", "--id", "m3-1", "--cert", "m3.pem", "--key", "k1.key", "--new-key", "k2.key", "--out",
                    "m3b.pem");
            assertThat(re.exit()).as(re.output()).isZero();

            Map<String, String> hsm = TestHome.softHsmToken(dir, "se");
            tokenKeypair(dir, hsm, "dev", "EC:prime256v1");
            String tokenKey = "pkcs11:token=se;object=dev;pin-value=1234";
            String s2 = secret(ts.home, "device", "add", "m3-se", "--enrollment-secret");
            Proc.Result se = run3(build3, hsm, byPin, "enroll", "--id", "m3-se", "--key", tokenKey, "--secret", s2, "--out", "m3se.pem");
            assertThat(se.exit()).as(se.output()).isZero();
            assertThat(publicKeyOnToken(dir, hsm, "dev")).isEqualTo(cert(dir.resolve("m3se.pem")).getPublicKey().getEncoded());
            // an RSA token key signs TLS 1.2 through RSA-alt on 3.x too
            tokenKeypair(dir, hsm, "rsa", "rsa:2048");
            String s3 = secret(ts.home, "device", "add", "m3-rsa", "--enrollment-secret");
            String rsaKey = "pkcs11:token=se;object=rsa;pin-value=1234";
            assertThat(run3(build3, hsm, byPin, "enroll", "--id", "m3-rsa", "--key", rsaKey, "--secret", s3, "--out", "m3rsa.pem").exit()).isZero();
            Proc.Result rsaTls = run3(build3, hsm, byPin, "reenroll", "--id", "m3-rsa", "--cert", "m3rsa.pem", "--key", rsaKey, "--new-key", "k1.key",
                    "--out", "m3rsa2.pem");
            assertThat(rsaTls.exit()).as(rsaTls.output()).isZero();
            // an EC token key cannot: 3.x wants a PSA opaque key for that
            Proc.Result tls = run3(build3, hsm, byPin, "reenroll", "--id", "m3-se", "--cert", "m3se.pem", "--key", tokenKey, "--new-key", "k1.key",
                    "--out", "no.pem");
            assertThat(tls.exit()).isEqualTo(1);
            assertThat(tls.output()).contains("use a PSA opaque key");

            try (TestBroker broker = new TestBroker(ts.home, dir.resolve("broker"))) {
                Proc.Result pub = run3(build3, Map.of(), List.of("--connect-to", "127.0.0.1", "--root", root.toString()), "mqtt", "--broker",
                        TestBroker.NAME + ":" + broker.port, "--id", "m3-1", "--cert", "m3b.pem", "--key", "k2.key", "--topic", "fleet/m3-1/t", "--message", "3");
                assertThat(pub.exit()).as(pub.output()).isZero();
                assertThat(broker.log()).contains("u'm3-1'");
            }
        }
    }

    /**
     * A PSA opaque key on Mbed TLS 3.6 built with MBEDTLS_USE_PSA_CRYPTO (how ESP-IDF and Zephyr
     * builds reach a secure element through a PSA driver): the key is made inside PSA (persistent,
     * not exportable), signs the CSR and the TLS handshakes of a rekey and of MQTT.
     */
    @Test
    void aPsaOpaqueKeyEnrollsRekeysAndPublishesOnMbedtls3() throws Exception {
        Proc.Result fetched = Proc.run(LIB, Map.of(), LIB.resolve("scripts/mbedtls3").toString(), "--psa");
        assertThat(fetched.exit()).as(fetched.output()).isZero();
        String mbedtls3 = fetched.output().trim().lines().reduce((a, b) -> b).orElseThrow();
        Path build3 = Path.of("target/libfleetpki-est-3psa-san").toAbsolutePath();
        Proc.Result make = Proc.run(LIB, Map.of(), "make", "-s", "SAN=1", "BUILD=" + build3, "MBEDTLS_DIR=" + mbedtls3, "all");
        assertThat(make.exit()).as(make.output()).isZero();
        try (TestServer ts = TestServer.start(dir.resolve("server"), null)) {
            Path root = ts.home.resolve("ca/root.pem");
            List<String> pinned = List.of("--host", TestServer.HOST, "--connect-to", "127.0.0.1", "--port", Integer.toString(URI.create(ts.base).getPort()),
                    "--root", root.toString());
            assertThat(run3(build3, Map.of(), List.of(), "keygen", "--psa", "7").output()).contains("P-256 key made in PSA: psa:7");
            assertThat(run3(build3, Map.of(), List.of(), "keygen", "--psa", "8").exit()).isZero();
            String s1 = secret(ts.home, "device", "add", "psa-1", "--enrollment-secret");
            Proc.Result enrolled = run3(build3, Map.of(), pinned, "enroll", "--id", "psa-1", "--key", "psa:7", "--secret", s1, "--out", "psa1.pem");
            assertThat(enrolled.exit()).as(enrolled.output()).isZero();
            Proc.Result re = run3(build3, Map.of(), pinned, "reenroll", "--id", "psa-1", "--cert", "psa1.pem", "--key", "psa:7", "--new-key", "psa:8",
                    "--out", "psa2.pem");
            assertThat(re.exit()).as(re.output()).isZero();
            assertThat(cert(dir.resolve("psa2.pem")).getPublicKey()).isNotEqualTo(cert(dir.resolve("psa1.pem")).getPublicKey());
            try (TestBroker broker = new TestBroker(ts.home, dir.resolve("broker"))) {
                Proc.Result pub = run3(build3, Map.of(), List.of("--connect-to", "127.0.0.1", "--root", root.toString()), "mqtt", "--broker",
                        TestBroker.NAME + ":" + broker.port, "--id", "psa-1", "--cert", "psa2.pem", "--key", "psa:8", "--topic", "fleet/psa-1/t", "--message", "p");
                assertThat(pub.exit()).as(pub.output()).isZero();
                assertThat(broker.log()).contains("u'psa-1'");
            }
        }
    }

    Proc.Result run3(Path build3, Map<String, String> env, List<String> common, String... args) {
        return fpestOf(build3, dir, env, common, args);
    }

    /** The libFuzzer targets (clang) replay their corpus, then fuzz a few seconds each, without a finding (scripts/fuzz-c fuzzes longer). */
    @Test
    void theFuzzTargetsReplayTheirCorpusAndFuzzBriefly() {
        Proc.Result make = Proc.run(LIB, Map.of(), "make", "-s", "fuzz");
        assertThat(make.exit()).as("clang + libclang-rt-dev:\n" + make.output()).isZero();
        for (String target : List.of("http", "pkcs7")) {
            Path corpus = dir.resolve(target);
            Proc.ok(dir, "cp", "-r", LIB.resolve("fuzz/corpus/" + target).toString(), corpus.toString()); // the repository's corpus stays as it is
            Proc.Result run = Proc.run(LIB, Map.of(), LIB.resolve("build-fuzz/fuzz_" + target).toString(), "-max_total_time=5", "-max_len=8192",
                    "-artifact_prefix=" + dir.resolve("crash-") , corpus.toString());
            assertThat(run.exit()).as(run.output()).isZero();
            assertThat(run.output()).contains("INITED").contains("Done");
            assertThat(dir.toFile().list((d, n) -> n.startsWith("crash-"))).isEmpty();
        }
    }

    /**
     * A fake EST server (TLS with a certificate from the fleet, so the connection itself is trusted)
     * gives each bad answer to the renewal step: another key, another subject, a chain to a foreign
     * root, a truncated body, a 500, a slow server, an answer over the receive buffer, not HTTP, the
     * wrong content type. Each is refused with its own error and the stored certificate stays as it
     * was; a 202 keeps the CSR and the next step sends the very same one; a good chunked answer is
     * then installed.
     */
    @Test
    void eachBadServerAnswerIsRefusedAndTheOldCertificateIsKept() throws Exception {
        try (TestServer ts = TestServer.start(dir.resolve("server"), null)) {
            Path root = ts.home.resolve("ca/root.pem");
            List<String> real = List.of("--host", TestServer.HOST, "--connect-to", "127.0.0.1", "--port", Integer.toString(URI.create(ts.base).getPort()),
                    "--root", root.toString());
            String s1 = secret(ts.home, "device", "add", "bad-1", "--enrollment-secret");
            Path state = Files.createDirectories(dir.resolve("state"));
            fpest(dir, Map.of(), List.of(), "keygen", "cur.key");
            fpest(dir, Map.of(), List.of(), "keygen", "next.key");
            assertThat(fpest(dir, Map.of(), real, "renew", "--id", "bad-1", "--state", "state", "--key", "cur.key", "--secret", s1).exit()).isZero();
            byte[] current = Files.readAllBytes(state.resolve("cert"));
            X509Certificate c1 = cert(derToPem(state.resolve("cert")));
            long nb = c1.getNotBefore().toInstant().getEpochSecond(), na = c1.getNotAfter().toInstant().getEpochSecond();
            String due = Long.toString(nb + (na - nb) * 80 / 100);

            // what the fake answers with, each a real certificate
            Proc.ok(dir, "openssl", "req", "-new", "-key", "next.key", "-subj", "/CN=bad-1", "-out", "good.csr");
            Proc.ok(dir, "openssl", "req", "-new", "-key", "next.key", "-subj", "/CN=bad-2", "-out", "other-subject.csr");
            Path otherKeyCsr = TestHome.opensslCsr(dir, "other-key", "ec", "/CN=bad-1", "-pkeyopt", "ec_paramgen_curve:P-256");
            assertThat(Cli.run(ts.home, "device", "add", "bad-2").exit()).isZero();
            Map<String, byte[]> p7 = new HashMap<>();
            p7.put("good", certsOnly(sign(ts.home, dir.resolve("good.csr"), "bad-1", dir.resolve("good.pem"))));
            p7.put("other-key", certsOnly(sign(ts.home, otherKeyCsr, "bad-1", dir.resolve("other-key.pem"))));
            p7.put("other-subject", certsOnly(sign(ts.home, dir.resolve("other-subject.csr"), "bad-2", dir.resolve("other-subject.pem"))));
            Path foreign = TestHome.write(dir.resolve("foreign"), "ecdsa-p256", null, null);
            TestHome.init(foreign);
            assertThat(Cli.run(foreign, "device", "add", "bad-1").exit()).isZero();
            p7.put("untrusted", certsOnly(sign(foreign, dir.resolve("good.csr"), "bad-1", dir.resolve("untrusted.pem"))));
            byte[] cacerts = ts.http.send(java.net.http.HttpRequest.newBuilder(URI.create(ts.base + "/.well-known/est/cacerts")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofByteArray()).body();

            // bootstrap through a server that is not the fleet's: it serves the fleet's real cacerts (public, anyone can
            // fetch them), so the pin matches, but its own TLS certificate does not chain to that root: refused
            Path mitm = Files.createDirectories(dir.resolve("mitm"));
            TestHome.serverCertificate(foreign, mitm, FakeEst.NAME);
            try (FakeEst impostor = new FakeEst(mitm, cacerts, p7)) {
                Proc.Result boot = fpest(dir, Map.of(), List.of("--host", FakeEst.NAME, "--connect-to", "127.0.0.1", "--port",
                        Integer.toString(impostor.port)), "cacerts", "--pin", fingerprint(root), "--out", "mitm-cas.pem");
                assertThat(boot.exit()).as(boot.output()).isEqualTo(2);
                assertThat(boot.output()).contains("the server's TLS certificate does not chain to the pinned root");
                assertThat(dir.resolve("mitm-cas.pem")).doesNotExist();
            }

            Path work = Files.createDirectories(dir.resolve("fake"));
            TestHome.serverCertificate(ts.home, work, FakeEst.NAME);
            try (FakeEst fake = new FakeEst(work, cacerts, p7)) {
                List<String> toFake = List.of("--host", FakeEst.NAME, "--connect-to", "127.0.0.1", "--port", Integer.toString(fake.port), "--root",
                        root.toString(), "--timeout-ms", "1500");
                String[] step = {"renew", "--id", "bad-1", "--state", "state", "--key", "cur.key", "--new-key", "next.key", "--now", due};
                Map<String, String> refusals = new java.util.LinkedHashMap<>();
                refusals.put("other-key", "2:certifies another key than this device's");
                refusals.put("other-subject", "2:names another subject than this device's id");
                refusals.put("untrusted", "2:does not chain to the pinned root");
                refusals.put("truncated", "1:the connection ended before the whole answer arrived");
                refusals.put("error-500", "1:(HTTP 500: the signing key is not available)");
                refusals.put("slow", "1:did not answer in time");
                refusals.put("huge", "1:does not fit the receive buffer");
                refusals.put("not-http", "1:not valid HTTP/1.1");
                refusals.put("wrong-type", "1:content type EST does not use");
                for (var e : refusals.entrySet()) {
                    fake.mode = e.getKey();
                    Proc.Result r = fpest(dir, Map.of(), toFake, step);
                    String[] want = e.getValue().split(":", 2);
                    assertThat(r.exit()).as(e.getKey() + ": " + r.output()).isEqualTo(Integer.parseInt(want[0]));
                    assertThat(r.output()).as(e.getKey()).contains(want[1]);
                    assertThat(Files.readAllBytes(state.resolve("cert"))).as(e.getKey() + ": the old certificate is kept").isEqualTo(current);
                    assertThat(state.resolve("cert.new")).as(e.getKey()).doesNotExist();
                }
                assertThat(fake.requests).as("each step reached the fake").hasSizeGreaterThanOrEqualTo(refusals.size());

                // 202: the CSR is kept and sent again byte for byte; then a good answer (chunked) is installed
                fake.mode = "pending";
                fake.requests.clear();
                Proc.Result pending = fpest(dir, Map.of(), toFake, step);
                assertThat(pending.exit()).as(pending.output()).isEqualTo(75);
                assertThat(pending.output()).contains("waits for an operator");
                assertThat(state.resolve("csr.new")).exists();
                fake.mode = "good-chunked";
                Proc.Result good = fpest(dir, Map.of(), toFake, step);
                assertThat(good.exit()).as(good.output()).isZero();
                assertThat(good.output()).contains("installed: CN=bad-1");
                assertThat(fake.requests).hasSize(2);
                assertThat(fake.requests.get(1)).isEqualTo(fake.requests.get(0));
                assertThat(Files.readAllBytes(state.resolve("cert"))).isEqualTo(cert(dir.resolve("good.pem")).getEncoded());
                assertThat(state.resolve("csr.new")).doesNotExist();
            }
        }
    }

    static Path sign(Path home, Path csr, String device, Path out) {
        Cli.Result r = Cli.run(home, "sign", "--csr", csr.toString(), "--device", device, "--out", out.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        return out;
    }

    /** The leaf of a PEM file as a certs-only PKCS#7, base64 in CRLF lines (as EST servers send it). */
    static byte[] certsOnly(Path pem) throws Exception {
        Path leaf = pem.resolveSibling(pem.getFileName() + ".leaf");
        Files.write(leaf, ("-----BEGIN CERTIFICATE-----\n" + java.util.Base64.getMimeEncoder().encodeToString(cert(pem).getEncoded())
                + "\n-----END CERTIFICATE-----\n").getBytes());
        Path der = pem.resolveSibling(pem.getFileName() + ".p7");
        Proc.ok(pem.getParent(), "openssl", "crl2pkcs7", "-nocrl", "-certfile", leaf.toString(), "-outform", "DER", "-out", der.toString());
        return java.util.Base64.getMimeEncoder().encode(Files.readAllBytes(der));
    }

    /** A TLS server answering EST requests as {@link #mode} says; records each POST body. */
    static final class FakeEst implements AutoCloseable {
        static final String NAME = "est.fleet.example";
        final int port;
        final List<byte[]> requests = java.util.Collections.synchronizedList(new ArrayList<>());
        volatile String mode = "good";
        private final javax.net.ssl.SSLServerSocket server;
        private final Thread loop;
        private final byte[] cacerts;
        private final Map<String, byte[]> p7;

        FakeEst(Path work, byte[] cacerts, Map<String, byte[]> p7) throws Exception {
            this.cacerts = cacerts;
            this.p7 = p7;
            Proc.ok(work, "openssl", "pkcs12", "-export", "-inkey", "server.key", "-in", "server.crt", "-certfile", "ca.pem", "-out", "server.p12",
                    "-passout", "pass:fake");
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            try (var in = Files.newInputStream(work.resolve("server.p12"))) {
                ks.load(in, "fake".toCharArray());
            }
            var kmf = javax.net.ssl.KeyManagerFactory.getInstance("PKIX");
            kmf.init(ks, "fake".toCharArray());
            var ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            server = (javax.net.ssl.SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(0, 8, java.net.InetAddress.getLoopbackAddress());
            port = server.getLocalPort();
            loop = Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        java.net.Socket s = server.accept();
                        Thread.ofVirtual().start(() -> { // one thread per connection: a slow answer holds up no other
                            try (s) {
                                s.setSoTimeout(10_000);
                                answer(s);
                            } catch (Exception e) {
                                // the client went away (the timeout case): nothing to answer
                            }
                        });
                    } catch (Exception e) {
                        // the server closed
                    }
                }
            });
        }

        private void answer(java.net.Socket s) throws Exception {
            var in = new java.io.BufferedInputStream(s.getInputStream());
            var head = new java.io.ByteArrayOutputStream();
            while (!head.toString(java.nio.charset.StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) return;
                head.write(b);
            }
            String h = head.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
            var m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(h);
            byte[] body = in.readNBytes(m.find() ? Integer.parseInt(m.group(1)) : 0);
            var out = s.getOutputStream();
            if (h.startsWith("GET ") && h.contains("/cacerts ")) {
                out.write(ok("application/pkcs7-mime; smime-type=certs-only", cacerts));
                out.flush();
                return;
            }
            requests.add(body);
            String md = mode;
            byte[] answer = switch (md) {
                case "truncated" -> {
                    byte[] full = ok("application/pkcs7-mime; smime-type=certs-only", p7.get("good"));
                    yield java.util.Arrays.copyOf(full, full.length - 200);
                }
                case "error-500" -> response("500 Server Error", "application/problem+json",
                        "{\"status\":500,\"detail\":\"the signing key is not available\"}".getBytes());
                case "slow" -> "HTTP/1.1 200 OK\r\n".getBytes();
                case "huge" -> ok("application/pkcs7-mime", "A".repeat(20_000).getBytes());
                case "not-http" -> "SSH-2.0-OpenSSH_9.2p1\r\n\r\n".getBytes();
                case "wrong-type" -> ok("text/html", "<html>maintenance</html>".getBytes());
                case "pending" -> "HTTP/1.1 202 Accepted\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n".getBytes();
                case "good-chunked" -> chunked(p7.get("good"));
                default -> ok("application/pkcs7-mime; smime-type=certs-only", p7.get(md));
            };
            out.write(answer);
            out.flush();
            if (md.equals("slow")) {
                Thread.sleep(4_000); // longer than the client's --timeout-ms
            }
        }

        static byte[] ok(String type, byte[] body) {
            return response("200 OK", type, body);
        }

        static byte[] response(String status, String type, byte[] body) {
            byte[] head = ("HTTP/1.1 " + status + "\r\nContent-Type: " + type + "\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes();
            byte[] all = java.util.Arrays.copyOf(head, head.length + body.length);
            System.arraycopy(body, 0, all, head.length, body.length);
            return all;
        }

        static byte[] chunked(byte[] body) {
            var out = new java.io.ByteArrayOutputStream();
            out.writeBytes("HTTP/1.1 200 OK\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\nTransfer-Encoding: chunked\r\n\r\n".getBytes());
            for (int at = 0; at < body.length; at += 300) {
                int n = Math.min(300, body.length - at);
                out.writeBytes((Integer.toHexString(n) + "\r\n").getBytes());
                out.write(body, at, n);
                out.writeBytes("\r\n".getBytes());
            }
            out.writeBytes("0\r\n\r\n".getBytes());
            return out.toByteArray();
        }

        @Override
        public void close() throws Exception {
            server.close();
            loop.join(5_000);
        }
    }

    /** A key pair made on the SoftHSM2 token "se" (PIN 1234) by pkcs11-tool, as a factory provisions a secure element. */
    static void tokenKeypair(Path dir, Map<String, String> hsm, String label, String keyType) {
        Proc.Result gen = Proc.run(dir, hsm, "pkcs11-tool", "--module", TestHome.SOFTHSM_MODULE, "--token-label", "se", "--login", "--pin", "1234",
                "--keypairgen", "--key-type", keyType, "--label", label);
        assertThat(gen.exit()).as(gen.output()).isZero();
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
