package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * EST enrollment (RFC 7030 4.2, 4.4) with each credential kind, driven by the plain curl + openssl
 * client of docs/est.md against the real server: one-time secrets, manufacturer IDevIDs (a vendor
 * PKI made with openssl), factory station certificates, renewal by the current certificate, and
 * pending requests an operator approves. Every refusal is checked to store nothing.
 */
class EstEnrollmentTest {
    @TempDir
    Path dir;
    private TestServer ts;
    private Path root;
    private String est;
    private EstCurl curl;

    @AfterEach
    void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    private TestServer start(String enrollment) throws Exception {
        ts = TestServer.start(dir, """
                sensor-keygen:
                  kind: device
                  keyAlgorithms: [ecdsa-p256]
                """, enrollment);
        curl = EstCurl.of(ts, dir);
        root = curl.root();
        est = ts.base + "/.well-known/est";
        return ts;
    }

    /** A new P-256 key and a base64 DER CSR for it (as docs/est.md makes them). */
    private Path csr(String name, String cn) {
        return curl.csr(name, cn);
    }

    /** A CSR for an existing key. */
    private Path csrForKey(String name, Path key, String cn) {
        Path b64 = dir.resolve(name + ".b64");
        Proc.ok(dir, "sh", "-c", "openssl req -new -key " + key + " -subj /CN=" + cn + " -outform DER | openssl base64 > " + b64);
        return b64;
    }

    private EstCurl.Http post(String path, Path body, String... auth) {
        return curl.est(path, body, auth);
    }

    private EstCurl.Http postTyped(String path, Path body, String contentType, String... auth) {
        return curl.estTyped(path, body, contentType, auth);
    }

    /** The certificate inside a certs-only answer, as PEM in {@code file}; returns openssl's text of it. */
    private String certificate(EstCurl.Http h, String file) {
        return curl.certificate(h, file);
    }

    private void verifies(String file) {
        Path issuing = dir.resolve("issuing.pem");
        Proc.ok(dir, "sh", "-c", "curl -sS --cacert " + root + " " + ts.base + "/api/v1/cas/issuing/certificate > " + issuing);
        assertThat(Proc.ok(dir, Proc.opensslVerify(root, issuing, dir.resolve(file)).toArray(new String[0]))).contains(": OK");
    }

    private long certificates() {
        return ts.fleet.store().certificates().certificateCount();
    }

    private String secret(String device, String model) {
        Cli.Result r = Cli.run(ts.home, "device", "add", device, "--model", model, "--enrollment-secret");
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.err()).contains("shown only now");
        String[] lines = r.out().trim().split("\n");
        assertThat(lines[0]).isEqualTo("Registered device " + device);
        return lines[lines.length - 1];
    }

    /** A vendor PKI made with openssl: a root CA and one device certificate (IDevID) with this subject. */
    private void vendor(String name) {
        Path ca = dir.resolve(name + "-ca.pem");
        if (!Files.exists(ca)) {
            Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
                    "-keyout", dir.resolve(name + "-ca.key").toString(), "-out", ca.toString(), "-subj", "/O=" + name + "/CN=" + name + " Device Root",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        }
    }

    private Path idevid(String vendor, String file, String subject) {
        vendor(vendor);
        Path csr = TestHome.opensslCsr(dir, file, "ec", subject, "-pkeyopt", "ec_paramgen_curve:P-256");
        Path cert = dir.resolve(file + ".pem");
        Path ext = dir.resolve("leaf.ext");
        try {
            Files.writeString(ext, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        Proc.ok(dir, "openssl", "x509", "-req", "-in", csr.toString(), "-CA", dir.resolve(vendor + "-ca.pem").toString(), "-CAkey",
                dir.resolve(vendor + "-ca.key").toString(), "-CAcreateserial", "-days", "3650", "-extfile", ext.toString(), "-out", cert.toString());
        return cert;
    }

    private static String tls(Path cert) {
        return EstCurl.tls(cert);
    }

    /**
     * RFC 7030 3.5: on EST a challengePassword carries the tls-unique channel binding, which this
     * server cannot check (TLS 1.3 has none); such a CSR is refused with the reason, and the secret
     * stays usable for a CSR without it.
     */
    @Test
    void aCsrWithAChallengePasswordIsRefusedOnEst() throws Exception {
        start(null);
        String a = secret("sensor-cp", "sensor");
        Path conf = dir.resolve("cp.cnf");
        Files.writeString(conf, """
                [req]
                distinguished_name = dn
                attributes = attrs
                prompt = no
                [dn]
                CN = sensor-cp
                [attrs]
                challengePassword = channel-binding-we-cannot-check
                """);
        Path b64 = dir.resolve("cp.b64");
        Proc.ok(dir, "sh", "-c", "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cp.key -config " + conf
                + " -outform DER | openssl base64 > " + b64);
        long before = certificates();
        EstCurl.Http refused = post("/simpleenroll", b64, "-u sensor-cp:" + a);
        assertThat(refused.status()).as(refused.body()).isEqualTo(400);
        assertThat(refused.body()).contains("challengePassword").contains("tls-unique").contains("without it");
        assertThat(certificates()).isEqualTo(before);
        EstCurl.Http ok = post("/simpleenroll", csr("cp2", "sensor-cp"), "-u sensor-cp:" + a);
        assertThat(ok.status()).as(ok.body()).isEqualTo(200);
    }

    @Test
    void oneTimeSecretEnrollsItsDeviceOnceAndNoOther() throws Exception {
        start(null);
        String a = secret("sensor-a", "sensor");
        String b = secret("sensor-b", "sensor");
        long before = certificates();
        // A's secret under B's name, and A's secret for a CSR naming B: refused, nothing stored, A's secret still unused
        assertThat(post("/simpleenroll", csr("b1", "sensor-b"), "-u sensor-b:" + a).status()).isEqualTo(401);
        EstCurl.Http wrongName = post("/simpleenroll", csr("b2", "sensor-b"), "-u sensor-a:" + a);
        assertThat(wrongName.status()).as(wrongName.body()).isEqualTo(400);
        assertThat(wrongName.body()).contains("sensor-b").contains("sensor-a");
        assertThat(post("/simpleenroll", csr("a0", "sensor-a"), "-u sensor-a:fpe_0000000000000000_" + "A".repeat(43)).status()).isEqualTo(401);
        assertThat(certificates()).isEqualTo(before);

        EstCurl.Http ok = post("/simpleenroll", csr("a1", "sensor-a"), "-u sensor-a:" + a);
        assertThat(certificate(ok, "a1.pem")).contains("CN = sensor-a");
        verifies("a1.pem");
        assertThat(certificates()).isEqualTo(before + 1);
        // single use
        EstCurl.Http again = post("/simpleenroll", csr("a2", "sensor-a"), "-u sensor-a:" + a);
        assertThat(again.status()).isEqualTo(401);
        assertThat(again.body()).contains("already used or has expired");
        assertThat(certificates()).isEqualTo(before + 1);
        // B's own secret still works: on REST as a bearer token
        Path bPem = TestHome.opensslCsr(dir, "b3", "ec", "/CN=sensor-b", "-pkeyopt", "ec_paramgen_curve:P-256");
        Files.writeString(dir.resolve("b3.json"), "{\"csr\": " + com.fasterxml.jackson.databind.node.TextNode.valueOf(Files.readString(bPem)) + "}");
        Proc.Result rest = Proc.run(dir, Map.of(), "sh", "-c", "curl -sS -w '\\n%{http_code}' --cacert " + root + " -H 'Authorization: Bearer " + b
                + "' -H 'Content-Type: application/json' --data-binary @" + dir.resolve("b3.json") + " " + ts.base + "/api/v1/certificate-requests");
        assertThat(rest.output()).endsWith("201").contains("\"device\":\"sensor-b\"");
        assertThat(certificates()).isEqualTo(before + 2);
        // the audit log names the device as the actor, and the chain still verifies
        assertThat(Cli.run(ts.home, "audit", "verify").exit()).isZero();
    }

    @Test
    void manufacturerCertificateEnrollsARegisteredDeviceAndQueuesAnUnknownOne() throws Exception {
        start(null);
        assertThat(Cli.run(ts.home, "device", "add", "m-100", "--model", "sensor").exit()).isZero();
        vendor("acme-se");
        Cli.Result trust = Cli.run(ts.home, "trust", "add-manufacturer", dir.resolve("acme-se-ca.pem").toString(), "--name", "acme-se", "--fleet", "*");
        assertThat(trust.exit()).as(trust.all()).isZero();
        Path idev = idevid("acme-se", "idev-100", "/O=acme-se/CN=m-100");
        EstCurl.Http ok = post("/simpleenroll", csr("m100", "m-100"), tls(idev));
        assertThat(certificate(ok, "m100.pem")).contains("CN = m-100");
        verifies("m100.pem");

        // a vendor nobody imported: refused
        Path rogue = idevid("rogue", "idev-rogue", "/O=rogue/CN=m-100");
        long before = certificates();
        EstCurl.Http refused = post("/simpleenroll", csr("m100b", "m-100"), tls(rogue));
        assertThat(refused.status()).isEqualTo(401);
        assertThat(refused.body()).contains("not a factory station's").contains("trusted manufacturer");
        // the IDevID names m-100: it may not enroll another device
        EstCurl.Http other = post("/simpleenroll", csr("m101x", "m-101"), tls(idev));
        assertThat(other.status()).as(other.body()).isEqualTo(400);
        assertThat(certificates()).isEqualTo(before);

        // a genuine device nobody registered: pending, 202 + Retry-After; the same CSR again is still pending
        Path unknown = idevid("acme-se", "idev-200", "/O=acme-se/CN=m-200");
        Path csr200 = csr("m200", "m-200");
        Proc.Result first = Proc.run(dir, Map.of(), "sh", "-c", "curl -sS -D - --cacert " + root + " -H 'Content-Type: application/pkcs10' --data-binary @"
                + csr200 + " " + tls(unknown) + " " + est + "/simpleenroll");
        assertThat(first.output()).contains("HTTP/1.1 202").containsIgnoringCase("Retry-After: 60").contains("waits for an operator");
        Matcher loc = Pattern.compile("(?i)location: (/api/v1/certificate-requests/([0-9a-f]+))").matcher(first.output());
        assertThat(loc.find()).as(first.output()).isTrue();
        String id = loc.group(2);
        assertThat(post("/simpleenroll", csr200, tls(unknown)).status()).isEqualTo(202);
        // another CSR for the same device and profile while one is pending: 409 pointing at it
        Proc.Result conflict = Proc.run(dir, Map.of(), "sh", "-c", "curl -sS -D - --cacert " + root + " -H 'Content-Type: application/pkcs10' --data-binary @"
                + csr("m200b", "m-200") + " " + tls(unknown) + " " + est + "/simpleenroll");
        assertThat(conflict.output()).contains("HTTP/1.1 409").containsIgnoringCase("location: " + loc.group(1));
        assertThat(certificates()).isEqualTo(before);
        assertThat(Cli.run(ts.home, "request", "list").out()).contains(id).contains("m-200").contains("manufacturer");
        assertThat(scrape()).contains("fleetpki_pending_requests 1.0");

        Cli.Result approve = Cli.run(ts.home, "request", "approve", id);
        assertThat(approve.exit()).as(approve.all()).isZero();
        assertThat(approve.out()).contains("issued certificate");
        // the device sends the same CSR again and gets its certificate (RFC 7030 4.2.3)
        EstCurl.Http got = post("/simpleenroll", csr200, tls(unknown));
        assertThat(certificate(got, "m200.pem")).contains("CN = m-200");
        verifies("m200.pem");
        assertThat(Cli.run(ts.home, "device", "show", "m-200").out()).contains("active");
        assertThat(scrape()).contains("fleetpki_pending_requests 0.0");
        assertThat(Cli.run(ts.home, "request", "approve", id).err()).contains("is issued, not pending");

        // rejected: the device is told so
        Path csr300 = csr("m300", "m-300");
        Path idev300 = idevid("acme-se", "idev-300", "/O=acme-se/CN=m-300");
        assertThat(post("/simpleenroll", csr300, tls(idev300)).status()).isEqualTo(202);
        String id300 = ts.fleet.store().requests().requests(dev.fleetpki.core.EnrollmentRequest.Status.PENDING, 10).getFirst().id();
        assertThat(Cli.run(ts.home, "request", "reject", id300, "--reason", "not our hardware").exit()).isZero();
        EstCurl.Http rejected = post("/simpleenroll", csr300, tls(idev300));
        assertThat(rejected.status()).isEqualTo(403);
        assertThat(rejected.body()).contains("rejected").contains("not our hardware");
    }

    private String scrape() {
        return Proc.ok(dir, "curl", "-sS", "--cacert", root.toString(), ts.base + "/metrics");
    }

    @Test
    void factoryStationEnrollsItsFleetOnlyAndMayAskForServerKeygen() throws Exception {
        start(null);
        Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                "-keyout", dir.resolve("station.key").toString(), "-out", dir.resolve("station.pem").toString(), "-subj", "/CN=line-1");
        Cli.Result add = Cli.run(ts.home, "station", "add", "line-1", "--certificate", dir.resolve("station.pem").toString(), "--fleet", "sensor");
        assertThat(add.exit()).as(add.all()).isZero();
        Cli.run(ts.home, "device", "add", "s-1", "--model", "sensor");
        Cli.run(ts.home, "device", "add", "g-1", "--model", "gateway");
        Path station = dir.resolve("station.pem");
        assertThat(certificate(post("/simpleenroll", csr("s1", "s-1"), tls(station)), "s1.pem")).contains("CN = s-1");
        long before = certificates();
        EstCurl.Http otherFleet = post("/simpleenroll", csr("g1", "g-1"), tls(station));
        assertThat(otherFleet.status()).isEqualTo(403);
        assertThat(otherFleet.body()).contains("fleet 'sensor' only");
        assertThat(certificates()).isEqualTo(before);

        // serverkeygen (RFC 7030 4.4): the station may; the answer is the key (PKCS#8) and the certificate, multipart
        Proc.Result kg = Proc.run(dir, Map.of(), "sh", "-c", "curl -sS -D " + dir.resolve("kg.h") + " -o " + dir.resolve("kg.body")
                + " --cacert " + root + " -H 'Content-Type: application/pkcs10' --data-binary @" + csr("s1k", "s-1") + " " + tls(station) + " "
                + est + "/sensor-keygen/serverkeygen");
        assertThat(kg.exit()).isZero();
        String headers = Files.readString(dir.resolve("kg.h"));
        assertThat(headers).contains("200").containsIgnoringCase("Content-Type: multipart/mixed; boundary=");
        String body = Files.readString(dir.resolve("kg.body"));
        String[] parts = body.split("--fleetpki-[0-9a-f]+");
        String keyPart = parts[1].substring(parts[1].indexOf("\r\n\r\n") + 4).trim();
        String certPart = parts[2].substring(parts[2].indexOf("\r\n\r\n") + 4).trim();
        assertThat(parts[1]).contains("application/pkcs8");
        Files.writeString(dir.resolve("kg.key.b64"), keyPart + "\n");
        Files.writeString(dir.resolve("kg.p7"), certPart + "\n");
        Proc.ok(dir, "sh", "-c", "openssl base64 -d -in kg.key.b64 | openssl pkey -inform DER -out kg.key");
        Proc.ok(dir, "sh", "-c", "openssl base64 -d -in kg.p7 | openssl pkcs7 -inform DER -print_certs -out kg.pem");
        // the private key is the certificate's
        assertThat(Proc.ok(dir, "sh", "-c", "openssl pkey -in kg.key -pubout")).isEqualTo(Proc.ok(dir, "sh", "-c", "openssl x509 -in kg.pem -noout -pubkey"));
        verifies("kg.pem");

        // a device secret may not ask the server for a key (default rule: stations and tokens only)
        String secret = secret("s-2", "sensor");
        EstCurl.Http denied = post("/sensor-keygen/serverkeygen", csr("s2k", "s-2"), "-u s-2:" + secret);
        assertThat(denied.status()).isEqualTo(403);
        assertThat(denied.body()).contains("may not ask the server to generate a key");
    }

    @Test
    void renewalNeedsTheCurrentUnrevokedCertificateAndANewKey() throws Exception {
        start(null);
        String secret = secret("r-1", "sensor");
        EstCurl.Http first = post("/simpleenroll", csr("r1", "r-1"), "-u r-1:" + secret);
        certificate(first, "r1.pem");
        Path current = dir.resolve("r1.pem");
        // simplereenroll with the current certificate as the TLS client certificate, new key
        EstCurl.Http renewed = post("/simplereenroll", csr("r1n", "r-1"), tls(current));
        assertThat(certificate(renewed, "r1n.pem")).contains("CN = r-1");
        verifies("r1n.pem");
        long before = certificates();
        // same key: refused by the default profile
        EstCurl.Http sameKey = post("/simplereenroll", csrForKey("r1s", dir.resolve("r1.key"), "r-1"), tls(current));
        assertThat(sameKey.status()).isEqualTo(400);
        assertThat(sameKey.body()).contains("new key");
        // another subject: refused
        assertThat(post("/simplereenroll", csr("r1o", "r-2"), tls(current)).status()).isEqualTo(400);
        // reenroll without a certificate: refused
        Cli.Result fresh = Cli.run(ts.home, "device", "secret", "r-1");
        assertThat(fresh.exit()).as(fresh.all()).isZero();
        EstCurl.Http noCert = post("/simplereenroll", csr("r1x", "r-1"), "-u r-1:" + fresh.out().trim());
        assertThat(noCert.status()).isEqualTo(403);
        assertThat(noCert.body()).contains("current certificate as the TLS client certificate");
        // revoke the renewed certificate: it can no longer renew
        String serial = Proc.ok(dir, "openssl", "x509", "-in", dir.resolve("r1n.pem").toString(), "-noout", "-serial").trim().substring(7);
        assertThat(Cli.run(ts.home, "revoke", serial.toLowerCase(java.util.Locale.ROOT)).exit()).isZero();
        EstCurl.Http revoked = post("/simplereenroll", csr("r1r", "r-1"), tls(dir.resolve("r1n.pem")));
        assertThat(revoked.status()).isEqualTo(401);
        assertThat(revoked.body()).contains("revoked");
        assertThat(certificates()).isEqualTo(before);
        // the device's history lists both versions, newest first
        String show = Cli.run(ts.home, "device", "show", "r-1").out();
        assertThat(show.indexOf(serial.toLowerCase(java.util.Locale.ROOT))).isPositive();
    }

    @Test
    void badInputIsRefusedWithTheProtocolsStatusAndStoresNothing() throws Exception {
        start("""
                enrollment:
                  deviceRate: 3
                  ratePeriod: 1h
                """);
        String secret = secret("x-1", "sensor");
        long before = certificates();
        Path good = csr("x1", "x-1");
        Files.writeString(dir.resolve("junk.b64"), "this is not base64 !!!\n");
        Files.writeString(dir.resolve("notder.b64"), java.util.Base64.getEncoder().encodeToString("not a CSR at all".getBytes()) + "\n");
        Files.write(dir.resolve("big.b64"), new byte[100_000]);
        assertThat(postTyped("/simpleenroll", good, "text/plain", "-u x-1:" + secret).status()).isEqualTo(415);
        EstCurl.Http b64 = post("/simpleenroll", dir.resolve("junk.b64"), "-u x-1:" + secret);
        assertThat(b64.status()).isEqualTo(400);
        assertThat(b64.body()).contains("not base64");
        EstCurl.Http der = post("/simpleenroll", dir.resolve("notder.b64"), "-u x-1:" + secret);
        assertThat(der.status()).isEqualTo(400);
        assertThat(der.body()).contains("not valid DER-encoded PKCS#10");
        assertThat(post("/simpleenroll", dir.resolve("big.b64"), "-u x-1:" + secret).status()).isEqualTo(413);
        assertThat(post("/no-such-label/simpleenroll", good, "-u x-1:" + secret).status()).isEqualTo(404);
        EstCurl.Http anonymous = post("/simpleenroll", good);
        assertThat(anonymous.status()).isEqualTo(401);
        assertThat(anonymous.body()).contains("enrollment credential");
        assertThat(certificates()).isEqualTo(before);

        // per-credential rate limit: a device's IDevID re-sending a pending request is slowed down (3 per hour here)
        vendor("acme-se");
        Cli.run(ts.home, "trust", "add-manufacturer", dir.resolve("acme-se-ca.pem").toString(), "--fleet", "*");
        Path idev = idevid("acme-se", "idev-q", "/CN=q-1");
        Path q = csr("q1", "q-1");
        for (int i = 0; i < 3; i++) {
            assertThat(post("/simpleenroll", q, tls(idev)).status()).isEqualTo(202);
        }
        Proc.Result limited = Proc.run(dir, Map.of(), "sh", "-c", "curl -sS -D - --cacert " + root + " -H 'Content-Type: application/pkcs10' --data-binary @"
                + q + " " + tls(idev) + " " + est + "/simpleenroll");
        assertThat(limited.output()).contains("HTTP/1.1 429").containsIgnoringCase("Retry-After: ").contains("more than 3 enrollment requests");
        assertThat(scrape()).containsPattern("fleetpki_refusals_total\\{profile=\"device\",protocol=\"est\",reason=\"rate-limited\"} 1(\\.0)?\\n");
        // the secret of another device is its own credential: not limited by q-1's use
        assertThat(post("/simpleenroll", good, "-u x-1:" + secret).status()).isEqualTo(200);
    }
}
