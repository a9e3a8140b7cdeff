package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.revocation.RevocationService;
import dev.fleetpki.server.RevocationHttp;
import dev.fleetpki.server.RevocationScheduler;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x509.CRLDistPoint;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.IssuingDistributionPoint;
import org.bouncycastle.cert.ocsp.BasicOCSPResp;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.cert.ocsp.RevokedStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Revocation publishing checked by independent implementations: OpenSSL verifies the CRLs
 * ({@code openssl crl -verify}, {@code openssl verify -crl_check_all}) and queries the OCSP
 * responder ({@code openssl ocsp}), for good, revoked, unknown and foreign certificates; bad OCSP
 * input gets an OCSP or HTTP error, never a 500; a read-only store still serves; partitioned CRLs
 * carry the URL each certificate names.
 */
class RevocationTest {
    @TempDir Path dir;

    private record Issued(String serial, Path pem) {}

    private static Issued issue(TestServer t, String device) {
        assertThat(Cli.run(t.home, "device", "add", device).exit()).isZero();
        Path csr = TestHome.opensslCsr(t.home, device, "ec", "/CN=" + device, "-pkeyopt", "ec_paramgen_curve:P-256");
        Path pem = t.home.resolve(device + ".crt");
        Cli.Result r = Cli.run(t.home, "sign", "--csr", csr.toString(), "--device", device, "--out", pem.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        return new Issued(first(pem).getSerialNumber().toString(16), pem);
    }

    private static X509Certificate first(Path pem) {
        try (var in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static String ocsp(TestServer t, String url, Path cert, String... extra) {
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl", "ocsp", "-issuer", t.home.resolve("ca/issuing.pem").toString(),
                "-cert", cert.toString(), "-url", url, "-CAfile", t.home.resolve("ca/root.pem").toString()));
        cmd.addAll(List.of(extra));
        return Proc.run(t.home, Map.of(), cmd.toArray(new String[0])).output();
    }

    @Test
    void opensslChecksCrlsAndOcsp() throws Exception {
        try (TestServer t = TestServer.start(dir, null);
             RevocationHttp http = RevocationHttp.start(t.services.revocation(), t.fleet.store(), t.fleet.store().revocation(), t.services.metrics(), "127.0.0.1", 0)) {
            String base = "http://127.0.0.1:" + http.port();
            Issued good = issue(t, "sensor-good");
            Issued byCli = issue(t, "sensor-lost");
            Issued byApi = issue(t, "sensor-stolen");

            // good, signed live with the nonce openssl sends, then again without one (pre-signed on the first miss)
            assertThat(ocsp(t, base + "/ocsp", good.pem())).contains("Response verify OK").contains(good.pem() + ": good");
            // revoked with the CLI: published at once (OCSP re-signed, CRL regenerated)
            Cli.Result rev = Cli.run(t.home, "revoke", byCli.serial(), "--reason", "key-compromise", "--invalid-since", "2026-11-01T00:00:00Z");
            assertThat(rev.exit()).as(rev.all()).isZero();
            assertThat(rev.out()).contains("CRL of issuing number").contains("with 1 entry");
            String revoked = ocsp(t, base + "/ocsp", byCli.pem(), "-no_nonce");
            assertThat(revoked).contains("Response verify OK").contains(byCli.pem() + ": revoked").contains("Reason: keyCompromise");

            // revoked through the REST API: the very next OCSP answer says so, and the CRL follows within seconds
            String token = Cli.run(t.home, "token", "create", "ops", "--role", "issuer").out().trim();
            HttpResponse<String> api = t.http.send(HttpRequest.newBuilder(URI.create(t.base + "/api/v1/certificates/" + byApi.serial() + "/revoke"))
                    .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"reason\":\"superseded\"}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(api.statusCode()).as(api.body()).isEqualTo(200);
            assertThat(ocsp(t, base + "/ocsp", byApi.pem(), "-no_nonce")).contains(byApi.pem() + ": revoked").contains("Reason: superseded");
            assertThat(t.services.metrics().scrape()).contains("fleetpki_ocsp_presigned_total{trigger=\"revocation\"} 1.0");
            X509CRL crl = null;
            for (int i = 0; i < 50; i++) { // regenerated by the service 200 ms after the revocation
                crl = fetchCrl(base + "/crl/issuing.crl");
                if (crl.getRevokedCertificates() != null && crl.getRevokedCertificates().size() == 2) {
                    break;
                }
                Thread.sleep(100);
            }
            assertThat(crl.getRevokedCertificates()).extracting(e -> e.getSerialNumber().toString(16))
                    .containsExactlyInAnyOrder(byCli.serial(), byApi.serial());
            assertThat(crl.getRevokedCertificate(new BigInteger(byCli.serial(), 16)).getExtensionValue("2.5.29.24")).as("invalidity date").isNotNull();
            assertThat(t.services.metrics().scrape()).containsPattern("fleetpki_ocsp_responses_total\\{source=\"presigned\",status=\"(good|revoked)\"\\} [1-9]");

            // crl fetch checks the signature with the CA home, or --issuer; with neither it says so and does not exit 0
            Cli.Result fetched = Cli.run(t.home, "crl", "fetch", base + "/crl/issuing.crl", "--entries");
            assertThat(fetched.exit()).as(fetched.all()).isZero();
            assertThat(fetched.out()).contains("signature:   verified with CA 'issuing'").contains(byCli.serial());
            Path nowhere = Files.createDirectories(dir.resolve("not-a-ca-home"));
            Cli.Result unchecked = Cli.run(nowhere, "crl", "fetch", base + "/crl/issuing.crl");
            assertThat(unchecked.exit()).as(unchecked.all()).isEqualTo(78);
            assertThat(unchecked.err()).contains("the CRL's signature was not checked").contains("--issuer");
            Cli.Result withIssuer = Cli.run(nowhere, "crl", "fetch", base + "/crl/issuing.crl", "--issuer", t.home.resolve("ca/issuing.pem").toString());
            assertThat(withIssuer.exit()).as(withIssuer.all()).isZero();
            assertThat(withIssuer.out()).contains("verified with " + t.home.resolve("ca/issuing.pem"));
            Cli.Result wrongIssuer = Cli.run(nowhere, "crl", "fetch", base + "/crl/issuing.crl", "--issuer", t.home.resolve("ca/root.pem").toString());
            assertThat(wrongIssuer.exit()).isEqualTo(65);
            assertThat(wrongIssuer.err()).contains("the CRL's issuer is");

            // the same CRL checked by OpenSSL: signature, and chain validation with CRLs for every CA in the chain
            Path crlFile = t.home.resolve("issuing.crl");
            Files.write(crlFile, crl.getEncoded());
            assertThat(Proc.ok(t.home, "openssl", "crl", "-inform", "DER", "-in", crlFile.toString(), "-CAfile",
                    t.home.resolve("ca/issuing.pem").toString(), "-noout", "-verify")).contains("verify OK");
            Path bundle = t.home.resolve("crls.pem");
            Cli.Result exp = Cli.run(t.home, "crl", "export", "--bundle", "--out", bundle.toString(), "--generate");
            assertThat(exp.exit()).as(exp.all()).isZero();
            assertThat(verifyWithCrls(t, bundle, good.pem()).output()).contains(": OK");
            Proc.Result bad = verifyWithCrls(t, bundle, byCli.pem());
            assertThat(bad.exit()).isNotZero();
            assertThat(bad.output()).contains("certificate revoked");
            // control: without the CRL check the revoked certificate verifies, so the refusal above is the CRL's
            assertThat(Proc.ok(t.home, Proc.opensslVerify(t.home.resolve("ca/root.pem"), t.home.resolve("ca/issuing.pem"), byCli.pem())
                    .toArray(new String[0]))).contains(": OK");

            // a serial this CA never issued is "unknown"; a certificate of another CA is "unauthorized"
            String unknown = Proc.run(t.home, Map.of(), "openssl", "ocsp", "-issuer", t.home.resolve("ca/issuing.pem").toString(),
                    "-serial", "0x1234567890abcdef", "-url", base + "/ocsp", "-CAfile", t.home.resolve("ca/root.pem").toString()).output();
            assertThat(unknown).contains("0x1234567890abcdef: unknown");
            Path other = dir.resolve("other");
            TestHome.write(other, "ecdsa-p256", null, null);
            TestHome.init(other);
            String foreign = Proc.run(t.home, Map.of(), "openssl", "ocsp", "-issuer", other.resolve("ca/issuing.pem").toString(),
                    "-serial", "0x1234", "-url", base + "/ocsp").output();
            assertThat(foreign).contains("unauthorized");

            // a sub-CA revoked: the root's CRL lists it, and chain validation refuses even the good device
            Cli.Result caRev = Cli.run(t.home, "ca", "revoke", "issuing");
            assertThat(caRev.exit()).as(caRev.all()).isZero();
            assertThat(caRev.out()).contains("CRL of root number");
            assertThat(Cli.run(t.home, "crl", "export", "--bundle", "--out", bundle.toString()).exit()).isZero();
            Proc.Result chainRevoked = verifyWithCrls(t, bundle, good.pem());
            assertThat(chainRevoked.exit()).isNotZero();
            assertThat(chainRevoked.output()).contains("certificate revoked");
        }
    }

    @Test
    void certificatesTheServerIssuesArePreSignedWithinASecond() throws Exception {
        try (TestServer t = TestServer.start(dir, null);
             RevocationHttp http = RevocationHttp.start(t.services.revocation(), t.fleet.store(), t.fleet.store().revocation(), t.services.metrics(), "127.0.0.1", 0);
             RevocationScheduler scheduler = RevocationScheduler.start(t.services.revocation())) { // its first pass runs now, on an empty store; the next is minutes away
            var rs = t.fleet.store().revocation();
            for (int i = 0; i < 50 && rs.ocspResponseCount() < 1; i++) { // the server's own TLS certificate, from the first pass
                Thread.sleep(100);
            }
            long before = rs.ocspResponseCount();

            // issued by the server (EST): its "good" answer is stored without waiting for the next pass
            X509Certificate enrolled = t.enrolledDevice(dir.resolve("dev-a"), "sensor-presigned", null).chain().orElseThrow().getFirst();
            String serial = enrolled.getSerialNumber().toString(16);
            // control: issued by another process on the same store (the CLI), it waits for the periodic pass
            Issued byCli = issue(t, "sensor-offline");
            for (int i = 0; i < 50 && rs.ocspResponse(serial).isEmpty(); i++) {
                Thread.sleep(100);
            }
            assertThat(rs.ocspResponse(serial)).as("answer of the certificate the server issued").hasValueSatisfying(row -> {
                assertThat(row.status()).isEqualTo("good");
                assertThat(row.ca()).isEqualTo("issuing");
            });
            Thread.sleep(2 * RevocationService.ISSUED_PRESIGN_DELAY.toMillis());
            assertThat(rs.ocspResponse(byCli.serial())).as("the CLI's certificate, before the next pass").isEmpty();
            assertThat(rs.ocspResponseCount()).isEqualTo(before + 1);

            // what is stored is what openssl gets, checked against the issuer; served from the store, not signed live
            Path pem = t.home.resolve("sensor-presigned.crt");
            Files.writeString(pem, Certs.pem(enrolled));
            assertThat(ocsp(t, "http://127.0.0.1:" + http.port() + "/ocsp", pem, "-no_nonce")).contains("Response verify OK").contains(pem + ": good");
            assertThat(t.services.metrics().scrape()).contains("fleetpki_ocsp_responses_total{source=\"presigned\",status=\"good\"} 1.0")
                    .doesNotContain("source=\"live\"")
                    .contains("fleetpki_ocsp_presigned_total{trigger=\"issuance\"} 1.0")
                    .contains("fleetpki_ocsp_presigned_total{trigger=\"pass\"} 1.0") // the server's TLS certificate
                    .contains("fleetpki_ocsp_presign_queue 0.0");
        }
    }

    @Test
    void answersStillQueuedWhenTheServiceStopsAreSignedAsItStops() throws Exception {
        try (TestServer t = TestServer.start(dir, null)) {
            RevocationService revocation = t.services.revocation();
            RevocationScheduler scheduler = RevocationScheduler.start(revocation);
            var rs = t.fleet.store().revocation();
            for (int i = 0; i < 50 && rs.ocspResponseCount() < 1; i++) { // the first periodic pass is done
                Thread.sleep(100);
            }
            Issued last = issue(t, "sensor-last"); // by the CLI, so nothing pre-signs it but the next pass
            assertThat(rs.ocspResponse(last.serial())).isEmpty();
            // the server is told of it as of one it issued, and stops within microseconds, before its 200 ms drain
            revocation.issued(t.fleet.store().certificates().certificate(last.serial()).orElseThrow().issued(), "est", 0);
            scheduler.close();
            assertThat(rs.ocspResponse(last.serial())).as("answer of the last certificate issued before the stop")
                    .hasValueSatisfying(row -> assertThat(row.status()).isEqualTo("good"));
        }
    }

    private static Proc.Result verifyWithCrls(TestServer t, Path bundle, Path leaf) {
        return Proc.run(t.home, Map.of(), "openssl", "verify", "-crl_check_all", "-CRLfile", bundle.toString(), "-CAfile",
                t.home.resolve("ca/root.pem").toString(), "-untrusted", t.home.resolve("ca/issuing.pem").toString(), leaf.toString());
    }

    private static X509CRL fetchCrl(String url) throws Exception {
        HttpResponse<byte[]> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/pkix-crl");
        assertThat(r.headers().firstValue("ETag")).isPresent();
        assertThat(r.headers().firstValue("Cache-Control").orElseThrow()).contains("max-age=");
        return (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(new ByteArrayInputStream(r.body()));
    }

    @Test
    void badOcspInputGetsTheRightStatusNeverA500() throws Exception {
        try (TestServer t = TestServer.start(dir, null);
             RevocationHttp http = RevocationHttp.start(t.services.revocation(), t.fleet.store(), t.fleet.store().revocation(), t.services.metrics(), "127.0.0.1", 0)) {
            String base = "http://127.0.0.1:" + http.port();
            Issued good = issue(t, "sensor-1");
            Path req = t.home.resolve("req.der");
            Proc.ok(t.home, "openssl", "ocsp", "-issuer", t.home.resolve("ca/issuing.pem").toString(), "-cert", good.pem().toString(),
                    "-no_nonce", "-reqout", req.toString());
            byte[] valid = Files.readAllBytes(req);
            HttpClient c = HttpClient.newHttpClient();
            byte[] malformed = {0x30, 0x03, 0x0a, 0x01, 0x01}; // OCSPResponse { responseStatus malformedRequest }

            record Case(String name, HttpRequest request, int status, byte[] body, String text) {}
            byte[] truncated = Arrays.copyOf(valid, valid.length - 5);
            byte[] trailing = Arrays.copyOf(valid, valid.length + 3);
            List<Case> cases = List.of(
                    new Case("garbage", post(base, "application/ocsp-request", "not an OCSP request".getBytes()), 200, malformed, null),
                    new Case("truncated", post(base, "application/ocsp-request", truncated), 200, malformed, null),
                    new Case("trailing bytes", post(base, "application/ocsp-request", trailing), 200, malformed, null),
                    new Case("empty", post(base, "application/ocsp-request", new byte[0]), 200, malformed, null),
                    new Case("oversized", post(base, "application/ocsp-request", new byte[100_000]), 413, null, "larger than"),
                    new Case("wrong content type", post(base, "text/plain", valid), 415, null, "application/ocsp-request"),
                    new Case("GET not base64", HttpRequest.newBuilder(URI.create(base + "/ocsp/not*base64!!")).build(), 200, malformed, null),
                    new Case("PUT", HttpRequest.newBuilder(URI.create(base + "/ocsp")).PUT(HttpRequest.BodyPublishers.ofByteArray(valid)).build(),
                            405, null, "not allowed"),
                    new Case("unknown CRL", HttpRequest.newBuilder(URI.create(base + "/crl/nope.crl")).build(), 404, null, "no CRL published"),
                    new Case("bad shard", HttpRequest.newBuilder(URI.create(base + "/crl/issuing/x.crl")).build(), 404, null, "no such CRL"));
            for (Case k : cases) {
                HttpResponse<byte[]> r = c.send(k.request(), HttpResponse.BodyHandlers.ofByteArray());
                assertThat(r.statusCode()).as(k.name()).isEqualTo(k.status());
                if (k.body() != null) {
                    assertThat(r.headers().firstValue("Content-Type")).as(k.name()).hasValue("application/ocsp-response");
                    assertThat(HexFormat.of().formatHex(r.body())).as(k.name()).isEqualTo(HexFormat.of().formatHex(k.body()));
                } else {
                    assertThat(new String(r.body())).as(k.name()).contains(k.text()).doesNotContain("Exception").doesNotContain("at dev.");
                }
            }
            // the valid request by GET, URL-encoded base64 as RFC 6960 A.1 says, answered from the pre-signed store with caching headers
            String b64 = java.net.URLEncoder.encode(java.util.Base64.getEncoder().encodeToString(valid), java.nio.charset.StandardCharsets.US_ASCII);
            HttpResponse<byte[]> first = c.send(HttpRequest.newBuilder(URI.create(base + "/ocsp/" + b64)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(status(first.body())).isEqualTo("good");
            assertThat(t.services.revocation().presign()).as("pre-signing pass").isGreaterThanOrEqualTo(1);
            HttpResponse<byte[]> second = c.send(HttpRequest.newBuilder(URI.create(base + "/ocsp/" + b64)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(status(second.body())).isEqualTo("good");
            assertThat(second.headers().firstValue("Cache-Control").orElseThrow()).contains("max-age=").contains("must-revalidate");
            assertThat(second.headers().firstValue("Last-Modified")).isPresent();
            // the entity tag names the answer's bytes (first 8 bytes of its SHA-256), the same on every GET of it
            String tag = "\"" + HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(second.body()), 0, 8) + "\"";
            assertThat(second.headers().firstValue("ETag")).hasValue(tag);
            HttpResponse<byte[]> third = c.send(HttpRequest.newBuilder(URI.create(base + "/ocsp/" + b64)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(third.headers().firstValue("ETag")).hasValue(tag);
            // HEAD: the same headers, no body
            HttpResponse<byte[]> head = c.send(HttpRequest.newBuilder(URI.create(base + "/ocsp/" + b64)).method("HEAD", HttpRequest.BodyPublishers.noBody())
                    .build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(head.statusCode()).isEqualTo(200);
            assertThat(head.headers().firstValue("Content-Type")).hasValue("application/ocsp-response");
            assertThat(head.headers().firstValue("ETag")).hasValue(tag);
            assertThat(head.body()).isEmpty();
        }
    }

    private static HttpRequest post(String base, String type, byte[] body) {
        return HttpRequest.newBuilder(URI.create(base + "/ocsp")).header("Content-Type", type).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    }

    private static String status(byte[] der) throws Exception {
        OCSPResp resp = new OCSPResp(der);
        assertThat(resp.getStatus()).isZero();
        var s = ((BasicOCSPResp) resp.getResponseObject()).getResponses()[0].getCertStatus();
        return s == null ? "good" : s instanceof RevokedStatus ? "revoked" : "unknown";
    }

    @Test
    void aReadOnlyReplicaServesWhatTheWriterPublished() throws Exception {
        Issued good;
        Issued lost;
        Path home;
        try (TestServer t = TestServer.start(dir, null)) {
            home = t.home;
            good = issue(t, "sensor-1");
            lost = issue(t, "sensor-2");
            assertThat(Cli.run(t.home, "crl", "generate").exit()).isZero();
            assertThat(t.services.revocation().presign()).isEqualTo(3); // two devices and the server's own TLS certificate
            assertThat(Cli.run(t.home, "revoke", lost.serial(), "--no-publish").exit()).isZero(); // the replica must still not say "good"
        }
        try (Fleet replica = Fleet.openReadOnly(home, Clock.systemUTC())) {
            RevocationService rev = replica.revocation();
            try (RevocationHttp http = RevocationHttp.start(rev, replica.store(), replica.store().revocation(), new dev.fleetpki.server.Metrics(java.util.Set.of()), "127.0.0.1", 0)) {
                assertThat(rev.writable()).isFalse();
                String base = "http://127.0.0.1:" + http.port();
                List<String> ocspCmd = List.of("openssl", "ocsp", "-issuer", home.resolve("ca/issuing.pem").toString(), "-url", base + "/ocsp",
                        "-CAfile", home.resolve("ca/root.pem").toString(), "-no_nonce", "-cert");
                assertThat(Proc.run(home, Map.of(), concat(ocspCmd, good.pem().toString())).output()).contains(good.pem() + ": good");
                assertThat(Proc.run(home, Map.of(), concat(ocspCmd, lost.pem().toString())).output()).contains(lost.pem() + ": revoked");
                assertThat(fetchCrl(base + "/crl/issuing.crl").getIssuerX500Principal().getName()).contains("Test Issuing CA");
                assertThat(fetchCrl(base + "/crl/root.crl").getIssuerX500Principal().getName()).contains("Test Root CA");
                var e = org.junit.jupiter.api.Assertions.assertThrows(dev.fleetpki.core.PkiException.class,
                        () -> rev.generateCrl("issuing", dev.fleetpki.core.Actor.operator("test")));
                assertThat(e.getMessage()).contains("read-only");
                assertThat(replica.store().revocation().ocspResponseCount()).isEqualTo(2); // the revoked one's "good" was dropped, nothing written
            }
        }
    }

    @Test
    void keptAnswersFollowARevocationCommittedByAnotherProcess() throws Exception {
        try (TestServer t = TestServer.start(dir, null)) {
            Issued device = issue(t, "sensor-kept");
            assertThat(t.services.revocation().presign()).isPositive();
            Path req = t.home.resolve("req.der");
            Proc.ok(t.home, "openssl", "ocsp", "-issuer", t.home.resolve("ca/issuing.pem").toString(), "-cert", device.pem().toString(),
                    "-no_nonce", "-reqout", req.toString());
            byte[] question = Files.readAllBytes(req);
            // a second node on the same store (read-only, as a replica would be) with answers kept in memory
            try (Fleet replica = Fleet.openReadOnly(t.home, Clock.systemUTC())) {
                RevocationService rev = replica.revocation();
                try (RevocationHttp http = RevocationHttp.start(rev, replica.store(), replica.store().revocation(),
                        new dev.fleetpki.server.Metrics(java.util.Set.of()), "127.0.0.1", 0);
                     RevocationScheduler scheduler = RevocationScheduler.start(rev)) {
                    HttpClient c = HttpClient.newHttpClient();
                    String base = "http://127.0.0.1:" + http.port();
                    assertThat(status(c.send(post(base, "application/ocsp-request", question), HttpResponse.BodyHandlers.ofByteArray()).body())).isEqualTo("good");
                    assertThat(rev.keptAnswers()).as("the answer is now kept").isEqualTo(1);
                    assertThat(status(c.send(post(base, "application/ocsp-request", question), HttpResponse.BodyHandlers.ofByteArray()).body())).isEqualTo("good");

                    // revoked by another process without re-signing (--no-publish): only the store's revocation epoch tells the replica
                    assertThat(Cli.run(t.home, "revoke", device.serial(), "--no-publish").exit()).isZero();
                    String now = "good";
                    for (int i = 0; i < 100 && now.equals("good"); i++) { // the kept answer is good for hours; the epoch poll runs every 100 ms
                        Thread.sleep(50);
                        now = status(c.send(post(base, "application/ocsp-request", question), HttpResponse.BodyHandlers.ofByteArray()).body());
                    }
                    assertThat(now).as("answer after the revocation committed elsewhere").isEqualTo("revoked");
                }
            }
        }
    }

    private static String[] concat(List<String> a, String b) {
        List<String> out = new java.util.ArrayList<>(a);
        out.add(b);
        return out.toArray(new String[0]);
    }

    @Test
    void partitionedCrlsNameTheShardEachCertificatePointsTo() throws Exception {
        try (TestServer t = TestServer.start(dir, null, """
                revocation:
                  crl:
                    shards: 4
                """, dev.fleetpki.server.FleetServer.Limits.DEFAULT, yaml -> yaml.replace("/crl/{ca}.crl", "/crl/{ca}/{shard}.crl"))) {
            List<Issued> certs = new java.util.ArrayList<>();
            for (int i = 0; i < 12; i++) {
                Issued c = issue(t, "sensor-" + i);
                certs.add(c);
                assertThat(Cli.run(t.home, "revoke", c.serial(), "--no-publish").exit()).isZero();
            }
            Cli.Result gen = Cli.run(t.home, "crl", "generate", "--ca", "issuing");
            assertThat(gen.exit()).as(gen.all()).isZero();
            assertThat(gen.out()).contains("12 entries in 4 shards");
            for (Issued c : certs) {
                BigInteger serial = new BigInteger(c.serial(), 16);
                int shard = serial.mod(BigInteger.valueOf(4)).intValue();
                String url = "http://pki.test/crl/issuing/" + shard + ".crl";
                X509Certificate cert = first(c.pem());
                CRLDistPoint dp = CRLDistPoint.getInstance(ASN1OctetString.getInstance(cert.getExtensionValue("2.5.29.31")).getOctets());
                assertThat(GeneralNames.getInstance(dp.getDistributionPoints()[0].getDistributionPoint().getName()).getNames()[0].getName().toString())
                        .isEqualTo(url);
                byte[] der = t.fleet.store().revocation().crl("issuing", shard).orElseThrow().der();
                X509CRL crl = (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(new ByteArrayInputStream(der));
                IssuingDistributionPoint idp = IssuingDistributionPoint.getInstance(ASN1OctetString.getInstance(crl.getExtensionValue("2.5.29.28")).getOctets());
                assertThat(GeneralNames.getInstance(idp.getDistributionPoint().getName()).getNames()[0].getName().toString()).isEqualTo(url);
                assertThat(crl.getCriticalExtensionOIDs()).contains("2.5.29.28");
                assertThat(crl.getRevokedCertificates()).allMatch(e -> e.getSerialNumber().mod(BigInteger.valueOf(4)).intValue() == shard);
                assertThat(crl.getRevokedCertificate(serial)).isNotNull();
                // OpenSSL matches the CRL's issuing distribution point to the certificate's distribution point, and finds it revoked
                Path shardFile = t.home.resolve("shard-" + shard + ".crl.pem");
                Files.writeString(shardFile, dev.fleetpki.kms.Pem.encode("X509 CRL", der));
                Proc.Result v = Proc.run(t.home, Map.of(), "openssl", "verify", "-crl_check", "-CRLfile", shardFile.toString(), "-CAfile",
                        t.home.resolve("ca/root.pem").toString(), "-untrusted", t.home.resolve("ca/issuing.pem").toString(), c.pem().toString());
                assertThat(v.output()).contains("certificate revoked");
            }
            // a certificate for no device (cloud verification) names its shard too: a relying party checking every CRL finds
            // one whose scope covers it (without a distribution point, openssl says error 44, "Different CRL scope")
            Path cvCsr = TestHome.opensslCsr(t.home, "cv", "ec", "/CN=ABCDEF0123456789", "-pkeyopt", "ec_paramgen_curve:P-256");
            Path cv = t.home.resolve("cv.pem");
            Cli.Result signed = Cli.run(t.home, "sign", "--csr", cvCsr.toString(), "--profile", "cloud-verification", "--registration-code",
                    "ABCDEF0123456789", "--out", cv.toString());
            assertThat(signed.exit()).as(signed.all()).isZero();
            assertThat(Proc.ok(t.home, "openssl", "x509", "-in", cv.toString(), "-noout", "-ext", "crlDistributionPoints"))
                    .contains("http://pki.test/crl/issuing/" + first(cv).getSerialNumber().mod(BigInteger.valueOf(4)) + ".crl");
            assertThat(Cli.run(t.home, "crl", "generate").exit()).isZero();
            StringBuilder all = new StringBuilder();
            all.append(dev.fleetpki.kms.Pem.encode("X509 CRL", t.fleet.store().revocation().crl("root", 0).orElseThrow().der()));
            for (int shard = 0; shard < 4; shard++) {
                all.append(dev.fleetpki.kms.Pem.encode("X509 CRL", t.fleet.store().revocation().crl("issuing", shard).orElseThrow().der()));
            }
            Path crls = t.home.resolve("all-crls.pem");
            Files.writeString(crls, all.toString());
            Proc.Result checked = Proc.run(t.home, Map.of(), "openssl", "verify", "-crl_check_all", "-CRLfile", crls.toString(), "-CAfile",
                    t.home.resolve("ca/root.pem").toString(), "-untrusted", t.home.resolve("ca/issuing.pem").toString(), cv.toString());
            assertThat(checked.output()).as("every CRL checked").contains(cv + ": OK");
        }
    }

    @Test
    void expiredCertificatesDropOffTheCrlUnlessKeepExpiredSaysOtherwise() throws Exception {
        Path home = TestHome.write(dir, "ecdsa-p256", null, null);
        TestHome.init(home);
        assertThat(Cli.run(home, "device", "add", "sensor-old").exit()).isZero();
        Path csr = TestHome.opensslCsr(home, "sensor-old", "ec", "/CN=sensor-old", "-pkeyopt", "ec_paramgen_curve:P-256");
        Path pem = home.resolve("sensor-old.crt");
        assertThat(Cli.run(home, "sign", "--csr", csr.toString(), "--device", "sensor-old", "--out", pem.toString()).exit()).isZero();
        X509Certificate cert = first(pem);
        assertThat(Cli.run(home, "revoke", cert.getSerialNumber().toString(16), "--no-publish").exit()).isZero();
        // two days after the certificate ended (the CAs live on)
        Clock later = Clock.fixed(cert.getNotAfter().toInstant().plus(java.time.Duration.ofDays(2)), java.time.ZoneOffset.UTC);
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            RevocationService rev = f.revocation();
            assertThat(rev.generateCrl("issuing", dev.fleetpki.core.Actor.operator("test")).entries()).as("listed while it lives").isEqualTo(1);
        }
        // RFC 5280 3.3: still listed by the CRLs of the refresh period (1d) and backdate (5m) after it ended, so that one
        // regularly scheduled CRL issued after its notAfter lists it
        for (java.time.Duration after : List.of(java.time.Duration.ofMinutes(1), java.time.Duration.ofHours(23), java.time.Duration.ofHours(24))) {
            Clock justAfter = Clock.fixed(cert.getNotAfter().toInstant().plus(after), java.time.ZoneOffset.UTC);
            try (Fleet f = Fleet.open(home, justAfter)) {
                RevocationService rev = f.revocation();
                assertThat(rev.generateCrl("issuing", dev.fleetpki.core.Actor.operator("test")).entries()).as("listed %s after its notAfter", after)
                        .isEqualTo(1);
            }
        }
        try (Fleet f = Fleet.open(home, later)) {
            RevocationService rev = f.revocation();
            var run = rev.generateCrl("issuing", dev.fleetpki.core.Actor.operator("test"));
            assertThat(run.entries()).as("dropped a refresh period and a backdate after its notAfter (default)").isZero();
            X509CRL crl = (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(new ByteArrayInputStream(run.crls().getFirst().der()));
            assertThat(crl.getExtensionValue("2.5.29.60")).as("no ExpiredCertsOnCRL by default").isNull();
        }
        Files.writeString(home.resolve("fleetpki.yaml"), "revocation:\n  crl:\n    keepExpired: true\n", java.nio.file.StandardOpenOption.APPEND);
        try (Fleet f = Fleet.open(home, later)) {
            RevocationService rev = f.revocation();
            var run = rev.generateCrl("issuing", dev.fleetpki.core.Actor.operator("test"));
            assertThat(run.entries()).as("kept with keepExpired: true").isEqualTo(1);
            X509CRL crl = (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(new ByteArrayInputStream(run.crls().getFirst().der()));
            assertThat(crl.getRevokedCertificate(cert.getSerialNumber())).isNotNull();
            byte[] ext = crl.getExtensionValue("2.5.29.60");
            assertThat(ext).as("ExpiredCertsOnCRL (RFC 5280 5.2.7)").isNotNull();
            java.util.Date since = org.bouncycastle.asn1.ASN1GeneralizedTime.getInstance(ASN1OctetString.getInstance(ext).getOctets()).getDate();
            assertThat(since).as("kept since the CA's notBefore").isEqualTo(f.store().ca("issuing").orElseThrow().certificate().getNotBefore());
        }
    }

    @Test
    void revocationSettingsAreCheckedWhenLoaded() throws Exception {
        TestHome.write(dir, "ecdsa-p256", null, null);
        String base = Files.readString(dir.resolve("fleetpki.yaml"));
        Map<String, List<String>> cases = Map.of(
                "revocation:\n  crl:\n    shards: 8\n", List.of("revocation.crl.shards", "{shard}"),
                "revocation:\n  ocsp:\n    cacheEntries: -1\n", List.of("revocation.ocsp.cacheEntries", ">= 0"),
                "revocation:\n  ocsp:\n    cacheEntries: lots\n", List.of("revocation.ocsp.cacheEntries", "'lots'"),
                "revocation:\n  ocsp:\n    validity: 1h\n    refreshAhead: 2h\n", List.of("revocation.ocsp.refreshAhead", "shorter than"));
        for (var c : cases.entrySet()) {
            Files.writeString(dir.resolve("fleetpki.yaml"), base + c.getKey());
            Cli.Result r = Cli.run(dir, "init");
            assertThat(r.exit()).as(c.getKey()).isEqualTo(78);
            assertThat(r.err()).as(c.getKey()).contains(c.getValue());
            assertThat(dir.resolve("fleetpki.db")).as("nothing created").doesNotExist();
        }
    }
}
