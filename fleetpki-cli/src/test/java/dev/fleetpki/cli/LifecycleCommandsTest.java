package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.store.Database;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI end to end: offline root, bare-key issuance, listing, decoding, revocation, trust bundle, audit tampering, config errors. */
class LifecycleCommandsTest {
    private static final int CONFLICT_EXIT = dev.fleetpki.core.ErrorKind.CONFLICT.exitCode();
    @TempDir Path dir;

    @Test
    void offlineRootSignsTheIssuingCaWhichThenIssues() throws Exception {
        Path offline = TestHome.write(dir.resolve("offline"), "ecdsa-p384", null, null);
        Path server = TestHome.write(dir.resolve("server"), "ecdsa-p384", null, null);
        Cli.Result root = Cli.run(offline, "init", "--root-only");
        assertThat(root.exit()).as(root.all()).isZero();
        assertThat(offline.resolve("keys/issuing.p8")).doesNotExist();
        assertThat(server.resolve("keys/root.p8")).doesNotExist();

        Cli.Result csr = Cli.run(server, "ca", "csr", "--name", "issuing");
        assertThat(csr.exit()).as(csr.all()).isZero();
        Files.copy(server.resolve("ca/issuing.csr"), offline.resolve("issuing.csr"));
        Cli.Result signed = Cli.run(offline, "ca", "sign", "--name", "issuing", "--csr", offline.resolve("issuing.csr").toString(),
                "--out", offline.resolve("issuing.pem").toString());
        assertThat(signed.exit()).as(signed.all()).isZero();
        Cli.Result imported = Cli.run(server, "ca", "import", "--name", "issuing", "--cert", offline.resolve("issuing.pem").toString(),
                "--root", offline.resolve("ca/root.pem").toString());
        assertThat(imported.exit()).as(imported.all()).isZero();
        assertThat(server.resolve("keys/root.p8")).as("the root key never reaches the server").doesNotExist();

        assertThat(Cli.run(server, "device", "add", "sensor-9").exit()).isZero();
        Path devCsr = TestHome.opensslCsr(dir, "sensor-9", "ec", "/CN=sensor-9", "-pkeyopt", "ec_paramgen_curve:P-256");
        Path leaf = dir.resolve("sensor-9.crt");
        assertThat(Cli.run(server, "sign", "--csr", devCsr.toString(), "--device", "sensor-9", "--out", leaf.toString()).exit()).isZero();
        assertThat(Proc.ok(dir, Proc.opensslVerify(offline.resolve("ca/root.pem"), server.resolve("ca/issuing.pem"), leaf).toArray(new String[0])))
                .contains("OK");
        String text = Proc.ok(dir, "openssl", "x509", "-in", server.resolve("ca/issuing.pem").toString(), "-noout", "-text");
        assertThat(text).contains("CA:TRUE, pathlen:0").contains("Certificate Sign, CRL Sign");

        // the offline root's CRL: the intermediate it signed is revoked there, the CRL signed there (90 days) and imported on the server
        java.math.BigInteger issuingSerial;
        try (var in = Files.newInputStream(offline.resolve("issuing.pem"))) {
            issuingSerial = ((java.security.cert.X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in))
                    .getSerialNumber();
        }
        Cli.Result revoked = Cli.run(offline, "revoke", issuingSerial.toString(16), "--reason", "ca-compromise", "--no-publish");
        assertThat(revoked.exit()).as(revoked.all()).isZero();
        Cli.Result gen = Cli.run(offline, "crl", "generate", "--ca", "root", "--validity", "90d");
        assertThat(gen.exit()).as(gen.all()).isZero();
        assertThat(gen.out()).contains("CRL of root: number 1, 1 entry");
        Path rootCrl = dir.resolve("root-crl.pem");
        Files.writeString(rootCrl, Cli.run(offline, "crl", "show", "--ca", "root").out());
        assertThat(Proc.ok(dir, "openssl", "crl", "-in", rootCrl.toString(), "-noout", "-text")).contains("CA Compromise")
                .contains(issuingSerial.toString(16).toUpperCase(java.util.Locale.ROOT));
        Cli.Result imp = Cli.run(server, "crl", "import", rootCrl.toString());
        assertThat(imp.exit()).as(imp.all()).isZero();
        assertThat(imp.out()).contains("Imported the CRL of root: number 1, 1 entry");
        assertThat(Cli.run(server, "crl", "show").out()).containsPattern("root\\s+0/1\\s+1\\s");
        // the columns crl show --help names, SIZE among them; and the same as JSON
        assertThat(Cli.run(server, "crl", "show").out()).contains("SIZE").containsPattern("root\\s+0/1\\s+1\\s+\\S+\\s+\\S+\\s+1\\s+[1-9]\\d+ B\\s");
        var crls = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Cli.run(server, "crl", "show", "--json").out()).get("crls");
        var rootCrlJson = java.util.stream.StreamSupport.stream(crls.spliterator(), false).filter(c -> c.get("ca").asText().equals("root")).findFirst().orElseThrow();
        assertThat(rootCrlJson.get("bytes").asInt()).isEqualTo(java.util.Base64.getMimeDecoder().decode(Files.readString(rootCrl)
                .replaceAll("-----[A-Z0-9 ]+-----", "")).length);
        assertThat(rootCrlJson.get("stale").asBoolean()).isFalse();
        // OpenSSL, with the imported root CRL and the server's issuing CRL: the device's chain is refused, as its issuing CA is revoked
        assertThat(Cli.run(server, "crl", "generate", "--ca", "issuing").exit()).isZero();
        // all CRLs here as JSON: the issuing CA's made, the offline root's passed over with what to do
        Cli.Result all = Cli.run(server, "crl", "generate", "--json");
        assertThat(all.exit()).as(all.all()).isZero();
        var generated = new com.fasterxml.jackson.databind.ObjectMapper().readTree(all.out());
        assertThat(generated.get("crls").findValuesAsText("ca")).contains("issuing").doesNotContain("root");
        assertThat(generated.get("skipped").get(0).get("ca").asText()).isEqualTo("root");
        assertThat(generated.get("skipped").get(0).get("why").asText()).contains("fleetpki crl import");
        Path bundle = dir.resolve("crls.pem");
        assertThat(Cli.run(server, "crl", "export", "--bundle", "--out", bundle.toString()).exit()).isZero();
        Proc.Result chain = Proc.run(dir, java.util.Map.of(), "openssl", "verify", "-crl_check_all", "-CRLfile", bundle.toString(), "-CAfile",
                offline.resolve("ca/root.pem").toString(), "-untrusted", server.resolve("ca/issuing.pem").toString(), leaf.toString());
        assertThat(chain.exit()).isNotZero();
        assertThat(chain.output()).contains("certificate revoked");

        // refused, nothing stored: the same CRL again, garbage, a CRL of a CA this server does not know, --validity without --ca
        Cli.Result again = Cli.run(server, "crl", "import", rootCrl.toString());
        assertThat(again.exit()).isEqualTo(CONFLICT_EXIT);
        assertThat(again.err()).contains("not above the one this store has (1)");
        Files.writeString(dir.resolve("garbage.pem"), "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
        Cli.Result garbage = Cli.run(server, "crl", "import", dir.resolve("garbage.pem").toString());
        assertThat(garbage.exit()).isEqualTo(65);
        assertThat(garbage.err()).contains("not a CRL");
        Path otherOffline = TestHome.write(dir.resolve("other-offline"), "ecdsa-p384", null, null);
        assertThat(Cli.run(otherOffline, "init", "--root-only").exit()).isZero();
        assertThat(Cli.run(otherOffline, "crl", "generate", "--ca", "root").exit()).isZero();
        Path foreign = dir.resolve("foreign-crl.pem");
        Files.writeString(foreign, Cli.run(otherOffline, "crl", "show", "--ca", "root").out());
        Cli.Result foreignImport = Cli.run(server, "crl", "import", foreign.toString());
        assertThat(foreignImport.exit()).isEqualTo(77);
        assertThat(foreignImport.err()).contains("no CA in this store signed this CRL");
        assertThat(Cli.run(server, "crl", "generate", "--validity", "90d").err()).contains("--validity goes with --ca");
        assertThat(Cli.run(server, "crl", "show").out()).containsPattern("root\\s+0/1\\s+1\\s");

        // a certificate for another key is refused on import
        Path otherServer = TestHome.write(dir.resolve("other"), "ecdsa-p384", null, null);
        assertThat(Cli.run(otherServer, "ca", "csr", "--name", "issuing").exit()).isZero();
        Cli.Result wrong = Cli.run(otherServer, "ca", "import", "--name", "issuing", "--cert", offline.resolve("issuing.pem").toString(),
                "--root", offline.resolve("ca/root.pem").toString());
        assertThat(wrong.exit()).isEqualTo(65);
        assertThat(wrong.err()).contains("certifies another key");
    }

    @Test
    void nameConstraintsAndSeveralIssuingCas() throws Exception {
        Path home = dir.resolve("nc");
        Files.createDirectories(home.resolve("secrets"));
        Files.writeString(home.resolve("secrets/passphrase"), "a long enough passphrase\n");
        Files.writeString(home.resolve("fleetpki.yaml"), """
                passphrase: file:secrets/passphrase
                ceremony:
                  root: {subject: "CN=NC Root"}
                  issuing:
                    - name: factory-a
                      subject: "CN=Factory A Issuing CA"
                      nameConstraints: {permittedDns: [fleet.example]}
                    - name: factory-b
                      subject: "CN=Factory B Issuing CA"
                profiles:
                  device-b: {kind: device, issuer: factory-b}
                """);
        TestHome.init(home);
        assertThat(Proc.ok(home, "openssl", "x509", "-in", home.resolve("ca/factory-a.pem").toString(), "-noout", "-ext", "nameConstraints"))
                .contains("Permitted").contains("DNS:fleet.example");
        assertThat(Cli.run(home, "device", "add", "d1").exit()).isZero();
        Path csr = TestHome.opensslCsr(home, "d1", "ec", "/CN=d1", "-pkeyopt", "ec_paramgen_curve:P-256");
        Cli.Result b = Cli.run(home, "sign", "--csr", csr.toString(), "--device", "d1", "--profile", "device-b");
        assertThat(b.exit()).as(b.all()).isZero();
        Files.writeString(home.resolve("b.crt"), b.out());
        Proc.ok(home, Proc.opensslVerify(home.resolve("ca/root.pem"), home.resolve("ca/factory-b.pem"), home.resolve("b.crt")).toArray(new String[0]));
        assertThat(Cli.run(home, "cert", "list", "--device", "d1").out()).contains("device-b");
    }

    @Test
    void bareKeyIssuanceOnlyForFactoryStations() throws Exception {
        Path home = TestHome.write(dir.resolve("h"), "ecdsa-p256", null, null);
        TestHome.init(home);
        assertThat(Cli.run(home, "device", "add", "se-1", "--key-location", "se:atecc608/slot0").exit()).isZero();
        Proc.ok(home, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "se.key");
        Proc.ok(home, "openssl", "pkey", "-in", "se.key", "-pubout", "-out", "se.pub");
        Cli.Result refused = Cli.run(home, "issue", "--public-key", home.resolve("se.pub").toString(), "--device", "se-1", "--station", "line-3");
        assertThat(refused.exit()).isEqualTo(77);
        assertThat(refused.err()).contains("not an active factory station");

        assertThat(Cli.run(home, "station", "add", "line-3", "--fleet", "*").exit()).isZero();
        Cli.Result ok = Cli.run(home, "issue", "--public-key", home.resolve("se.pub").toString(), "--device", "se-1", "--station", "line-3",
                "--out", home.resolve("se.crt").toString());
        assertThat(ok.exit()).as(ok.all()).isZero();
        Proc.ok(home, Proc.opensslVerify(home.resolve("ca/root.pem"), home.resolve("ca/issuing.pem"), home.resolve("se.crt")).toArray(new String[0]));
        String serial = serialOf(Cli.run(home, "cert", "list", "--device", "se-1").out());
        Cli.Result show = Cli.run(home, "cert", "show", serial);
        assertThat(show.out()).contains("no (issued from a bare public key)").contains("station:line-3").contains("clientAuth");
        Cli.Result device = Cli.run(home, "device", "show", "se-1");
        assertThat(device.out()).contains("se:atecc608/slot0").contains(serial);

        Cli.Result notPem = Cli.run(home, "issue", "--public-key", home.resolve("se.key").toString(), "--device", "se-1", "--station", "line-3");
        assertThat(notPem.exit()).isEqualTo(65);
        assertThat(notPem.err()).contains("not a PUBLIC KEY");
    }

    @Test
    void listShowRevokeExportAndExpiring() throws Exception {
        Path home = TestHome.write(dir.resolve("h"), "ecdsa-p256", null, "device-short: {kind: device, validity: 10d}");
        TestHome.init(home);
        assertThat(Cli.run(home, "device", "add", "a").exit()).isZero();
        Path csr = TestHome.opensslCsr(home, "a", "ec", "/CN=a", "-pkeyopt", "ec_paramgen_curve:P-256");
        assertThat(Cli.run(home, "sign", "--csr", csr.toString(), "--device", "a").exit()).isZero();
        assertThat(Cli.run(home, "sign", "--csr", csr.toString(), "--device", "a", "--profile", "device-short").exit()).isZero();
        Cli.Result expiring = Cli.run(home, "cert", "list", "--expiring-within", "30d");
        assertThat(expiring.out()).contains("device-short").doesNotContain(" device  ").contains("1 certificate");
        String serial = serialOf(expiring.out());
        Cli.Result revoke = Cli.run(home, "revoke", serial, "--reason", "key-compromise");
        assertThat(revoke.exit()).as(revoke.all()).isZero();
        assertThat(Cli.run(home, "cert", "show", serial).out()).contains("revoked at").contains("key-compromise");
        Cli.Result again = Cli.run(home, "revoke", serial);
        assertThat(again.exit()).isEqualTo(65);
        assertThat(again.err()).contains("already revoked");
        assertThat(Cli.run(home, "revoke", "abcdef").err()).contains("no certificate with serial abcdef");
        assertThat(Cli.run(home, "revoke", serial, "--reason", "bored").err()).contains("unknown revocation reason 'bored'");
        assertThat(Cli.run(home, "cert", "list", "--expiring-within", "30d").out()).contains("0 certificates");

        Path bundle = home.resolve("bundle.pem");
        assertThat(Cli.run(home, "export", "trust-bundle", "--out", bundle.toString()).exit()).isZero();
        assertThat(Files.readString(bundle)).contains("# root (root)").contains("# issuing (issuing)");
        Path leaf = home.resolve("leaf.pem");
        Files.writeString(leaf, Cli.run(home, "cert", "show", serialOf(Cli.run(home, "cert", "list").out()), "--pem").out());
        assertThat(Proc.ok(home, "openssl", "verify", "-CAfile", bundle.toString(), leaf.toString())).contains("OK");
    }

    @Test
    void auditVerifyDetectsEditedAndDeletedRows() throws Exception {
        Path home = TestHome.write(dir.resolve("h"), "ecdsa-p256", null, null);
        TestHome.init(home);
        for (String id : new String[] {"x1", "x2", "x3"}) {
            assertThat(Cli.run(home, "device", "add", id).exit()).isZero();
        }
        // root + issuing CA creation, then three devices
        assertThat(Cli.run(home, "audit", "verify").out()).contains("Audit log intact: 5 events");
        sql(home, "UPDATE audit_event SET target = 'device:evil' WHERE seq = 3");
        Cli.Result edited = Cli.run(home, "audit", "verify");
        assertThat(edited.exit()).isEqualTo(65);
        assertThat(edited.err()).contains("event 3 was edited");
        sql(home, "UPDATE audit_event SET target = 'device:x1' WHERE seq = 3");
        assertThat(Cli.run(home, "audit", "verify").exit()).isZero();
        sql(home, "DELETE FROM audit_event WHERE seq = 4");
        Cli.Result deleted = Cli.run(home, "audit", "verify");
        assertThat(deleted.err()).contains("events 4 are missing").contains("event 5 does not link");
        sql(home, "DELETE FROM audit_event WHERE seq = 5");
        assertThat(Cli.run(home, "audit", "verify").err()).contains("the newest events are missing");
    }

    @Test
    void configCheckReportsEveryErrorAtOnce() throws Exception {
        Path home = dir.resolve("bad");
        Files.createDirectories(home);
        Files.writeString(home.resolve("fleetpki.yaml"), """
                store: {url: "mysql://x"}
                passphrase: hunter2-inline
                ceremony:
                  root: {algorithm: dsa-1024, validity: 5y}
                  issuing:
                    - {name: issuing, validity: 10y, key: "http://nope"}
                profiles:
                  device: {validity: 40y, subject: email}
                  relative: {kind: device, subject: uri-san, uriTemplate: "rel-{id}"}
                  server-tls: {validity: 2y}
                  mystery: {validity: 1d}
                  colour: 7
                  sensor: {kind: device, renewWithSameKey: maybe}
                enrollment:
                  fleets:
                    sensor-v2: {accept: [manufacturer, password], otherwise: ignore}
                  deviceRate: -1
                  ratePeriod: soon
                  secretValidity: 200d
                  wildcard: true
                  cmpImplicitConfirm: sometimes
                notifications:
                  webhooks:
                    - name: hub
                      url: http://hub.example.com/events
                      events: [certificate.issued, certificate.expired]
                      perMinute: 0
                    - name: hub
                      url: https://hub.example.com/events
                      trust: nowhere.pem
                      backoff: 1h
                """);
        Cli.Result r = Cli.run(home, "config", "check");
        assertThat(r.exit()).isEqualTo(78);
        assertThat(r.err()).contains("store.url: 'mysql://x'")
                .contains("passphrase: the secret source is not env:NAME")
                .contains("ceremony.root.algorithm: unknown key algorithm 'dsa-1024'")
                .contains("ceremony.issuing[0].key: key reference 'http://nope' has an unknown scheme")
                .contains("CA 'issuing' validity 10y is longer than the root's 5y")
                .contains("profiles.device.validity: 40y is too long")
                .contains("profiles.device.subject: 'email' must be cn or uri-san")
                .contains("profiles.relative.uriTemplate: 'rel-{id}' has no scheme")
                .contains("profiles.server-tls.validity: 2y is too long")
                .contains("profiles.mystery.kind: missing").contains("profiles.colour: must be a map")
                .contains("profiles.sensor.renewWithSameKey: must be true or false")
                .contains("enrollment.fleets.sensor-v2.accept: 'password' is not a credential kind")
                .contains("enrollment.cmpImplicitConfirm: must be true or false")
                .contains("enrollment.secretValidity: 200d is outside 1m..90d")
                .contains("enrollment.fleets.sensor-v2.otherwise: 'ignore' must be pending")
                .contains("enrollment.deviceRate: must be a whole number >= 0").contains("enrollment.ratePeriod: ")
                .contains("enrollment.wildcard: unknown setting")
                .contains("notifications.webhooks[0].url: 'http://hub.example.com/events' is plain http to another machine")
                .contains("notifications.webhooks[0].events: 'certificate.expired' is not an event")
                .contains("notifications.webhooks[0].perMinute: '0' must be a whole number from 1 to 100000")
                .contains("notifications.webhooks[1].name: 'hub' is used twice")
                .contains("notifications.webhooks[1].trust: no file at").contains("notifications.webhooks[1].backoff: must be more than 0 and at most 5m")
                .doesNotContain("hunt");
        Path good = TestHome.write(dir.resolve("good"), "ecdsa-p256", null, null);
        Cli.Result ok = Cli.run(good, "config", "check");
        assertThat(ok.exit()).as(ok.all()).isZero();
        assertThat(ok.out()).contains("cloud-verification").contains("device-peer");
    }

    static String serialOf(String listing) {
        Matcher m = Pattern.compile("\\b([0-9a-f]{30,40})\\b").matcher(listing);
        assertThat(m.find()).as(listing).isTrue();
        return m.group(1);
    }

    static void sql(Path home, String sql) throws Exception {
        try (Database db = Database.open("jdbc:sqlite:fleetpki.db", null, null, home); Connection c = db.read(); Statement s = c.createStatement()) {
            s.executeUpdate(sql);
        }
    }
}
