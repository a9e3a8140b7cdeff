package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression tests for the trust boundaries: each case was seen to issue on an earlier main (a
 * device secret obtaining a server or code-signing certificate, a renewal switching profile, a
 * station leaving its fleet through serverkeygen or a bare key, any manufacturer leaf enrolling as
 * the server, a factory token reading requests through a second space). Each now asserts the exact
 * refusal, that nothing was stored, that a one-time secret a refusal met is still usable, and a
 * positive control that the same credential still gets what it may.
 */
class TrustBoundariesTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;
    private TestServer ts;
    private EstCurl curl;

    @AfterEach
    void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    private void start(String enrollment) throws Exception {
        ts = TestServer.start(dir, """
                sensor-keygen:
                  kind: device
                  keyAlgorithms: [ecdsa-p256]
                open-tls:
                  kind: server-tls
                """, enrollment);
        curl = EstCurl.of(ts, dir);
    }

    private long certificates() {
        return ts.fleet.store().certificates().certificateCount();
    }

    private String secret(String device, String model) {
        Cli.Result r = Cli.run(ts.home, "device", "add", device, "--model", model, "--enrollment-secret");
        assertThat(r.exit()).as(r.all()).isZero();
        String[] lines = r.out().trim().split("\n");
        return lines[lines.length - 1];
    }

    @Test
    void aDeviceSecretGetsNoServerOrCodeSigningCertificateAndStaysUsable() throws Exception {
        start(null);
        String s = secret("sensor-a", "sensor");
        long before = certificates();
        EstCurl.Http server = curl.est("/server-tls/simpleenroll",
                curl.csr("t1", "sensor-a", "-addext", "subjectAltName=DNS:broker.fleet.example,IP:127.0.0.1"), "-u sensor-a:" + s);
        assertThat(server.status()).as(server.body()).isEqualTo(403);
        assertThat(server.body()).contains("profile 'server-tls'").contains("secret");
        EstCurl.Http open = curl.est("/open-tls/simpleenroll",
                curl.csr("t2", "sensor-a", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"), "-u sensor-a:" + s);
        assertThat(open.status()).as(open.body()).isEqualTo(403);
        EstCurl.Http code = curl.est("/code-signing/simpleenroll", curl.csr("c1", "sensor-a"), "-u sensor-a:" + s);
        assertThat(code.status()).as(code.body()).isEqualTo(403);
        assertThat(code.body()).contains("profile 'code-signing'");
        assertThat(certificates()).isEqualTo(before);
        // the refusals used nothing up: the same secret still buys the device's own certificate
        assertThat(curl.certificate(curl.est("/simpleenroll", curl.csr("d1", "sensor-a"), "-u sensor-a:" + s), "d1.pem"))
                .contains("Subject: CN = sensor-a").contains("TLS Web Client Authentication").doesNotContain("Server Authentication");
        assertThat(certificates()).isEqualTo(before + 1);
    }

    @Test
    void aRenewalKeepsItsProfileAndItsNames() throws Exception {
        start(null);
        String s = secret("r-1", "sensor");
        curl.certificate(curl.est("/simpleenroll", curl.csr("r1", "r-1"), "-u r-1:" + s), "r1.pem");
        Path current = dir.resolve("r1.pem");
        long before = certificates();
        EstCurl.Http peer = curl.est("/device-peer/simplereenroll", curl.csr("p1", "r-1"), EstCurl.tls(current));
        assertThat(peer.status()).as(peer.body()).isEqualTo(403);
        assertThat(peer.body()).contains("renews").contains("'device'");
        EstCurl.Http server = curl.est("/server-tls/simplereenroll",
                curl.csr("p2", "r-1", "-addext", "subjectAltName=DNS:r-1.fleet.example,IP:127.0.0.1"), EstCurl.tls(current));
        assertThat(server.status()).as(server.body()).isEqualTo(403);
        // names asked for in a renewal CSR are not taken from it
        EstCurl.Http names = curl.est("/simplereenroll", curl.csr("p3", "r-1", "-addext", "subjectAltName=DNS:r-1.fleet.example"),
                EstCurl.tls(current));
        assertThat(names.status()).as(names.body()).isIn(400, 403);
        assertThat(certificates()).isEqualTo(before);
        assertThat(curl.certificate(curl.est("/simplereenroll", curl.csr("p4", "r-1"), EstCurl.tls(current)), "p4.pem"))
                .contains("Subject: CN = r-1");
    }

    @Test
    void aStationStaysInItsFleetOnEveryIssuingPath() throws Exception {
        start(null);
        Path station = curl.selfSigned("station", "/CN=line-1");
        Cli.Result add = Cli.run(ts.home, "station", "add", "line-1", "--certificate", station.toString(), "--fleet", "sensor");
        assertThat(add.exit()).as(add.all()).isZero();
        assertThat(Cli.run(ts.home, "device", "add", "s-1", "--model", "sensor").exit()).isZero();
        assertThat(Cli.run(ts.home, "device", "add", "cam-1", "--model", "camera").exit()).isZero();
        long before = certificates();
        EstCurl.Http keygen = curl.est("/sensor-keygen/serverkeygen", curl.csr("k1", "cam-1"), EstCurl.tls(station));
        assertThat(keygen.status()).as(keygen.body()).isEqualTo(403);
        assertThat(keygen.body()).contains("fleet 'sensor'").doesNotContain("PRIVATE");
        Proc.ok(dir, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", dir.resolve("bare.key").toString());
        String pub = Proc.ok(dir, "openssl", "pkey", "-in", dir.resolve("bare.key").toString(), "-pubout");
        EstCurl.Http camera = curl.rest("POST", "/api/v1/certificate-requests",
                JSON.writeValueAsString(Map.of("publicKey", pub, "device", "cam-1")), EstCurl.tls(station));
        assertThat(camera.status()).as(camera.body()).isEqualTo(403);
        assertThat(camera.body()).contains("fleet 'sensor'");
        // the server's own TLS identity is a device too: no station (nor any device credential) may obtain it
        EstCurl.Http server = curl.rest("POST", "/api/v1/certificate-requests",
                JSON.writeValueAsString(Map.of("publicKey", pub, "device", TestServer.HOST, "profile", "server-tls")), EstCurl.tls(station));
        assertThat(server.status()).as(server.body()).isEqualTo(403);
        EstCurl.Http serverAsDevice = curl.rest("POST", "/api/v1/certificate-requests",
                JSON.writeValueAsString(Map.of("publicKey", pub, "device", TestServer.HOST)), EstCurl.tls(station));
        assertThat(serverAsDevice.status()).as(serverAsDevice.body()).isEqualTo(403);
        assertThat(certificates()).isEqualTo(before);
        EstCurl.Http own = curl.rest("POST", "/api/v1/certificate-requests", JSON.writeValueAsString(Map.of("publicKey", pub, "device", "s-1")),
                EstCurl.tls(station));
        assertThat(own.status()).as(own.body()).isEqualTo(201);
        assertThat(certificates()).isEqualTo(before + 1);
    }

    /** A vendor root made with openssl and a leaf under it with these extensions. */
    private Path idevid(String file, String subject, String extensions) throws Exception {
        Path ca = dir.resolve("vendor-ca.pem");
        if (!Files.exists(ca)) {
            Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
                    "-keyout", dir.resolve("vendor-ca.key").toString(), "-out", ca.toString(), "-subj", "/O=Vendor/CN=Vendor Device Root",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
            Cli.Result t = Cli.run(ts.home, "trust", "add-manufacturer", ca.toString(), "--name", "vendor", "--fleet", "sensor");
            assertThat(t.exit()).as(t.all()).isZero();
        }
        Path csr = TestHome.opensslCsr(dir, file, "ec", subject, "-pkeyopt", "ec_paramgen_curve:P-256");
        Path ext = dir.resolve(file + ".ext");
        Files.writeString(ext, extensions);
        Path cert = dir.resolve(file + ".pem");
        Proc.ok(dir, "openssl", "x509", "-req", "-in", csr.toString(), "-CA", ca.toString(), "-CAkey", dir.resolve("vendor-ca.key").toString(),
                "-CAcreateserial", "-days", "3650", "-extfile", ext.toString(), "-out", cert.toString());
        return cert;
    }

    @Test
    void aManufacturerLeafMustBeAnEndEntityForClientAuthenticationOfItsFleet() throws Exception {
        start(null);
        for (String id : new String[] {"m-1", "m-2", "m-3"}) {
            assertThat(Cli.run(ts.home, "device", "add", id, "--model", "sensor").exit()).isZero();
        }
        assertThat(Cli.run(ts.home, "device", "add", "cam-9", "--model", "camera").exit()).isZero();
        String client = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";
        long before = certificates();
        Path ca = idevid("ca-leaf", "/CN=m-1", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign\n");
        EstCurl.Http asCa = curl.est("/simpleenroll", curl.csr("e1", "m-1"), EstCurl.tls(ca));
        assertThat(asCa.status()).as(asCa.body()).isEqualTo(401);
        assertThat(asCa.body()).contains("CA certificate");
        Path server = idevid("server-leaf", "/CN=m-2", "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n");
        EstCurl.Http asServer = curl.est("/simpleenroll", curl.csr("e2", "m-2"), EstCurl.tls(server));
        assertThat(asServer.status()).as(asServer.body()).isEqualTo(401);
        assertThat(asServer.body()).contains("client authentication");
        Path self = idevid("host-leaf", "/CN=" + TestServer.HOST, client);
        EstCurl.Http asHost = curl.est("/simpleenroll", curl.csr("e3", TestServer.HOST), EstCurl.tls(self));
        assertThat(asHost.status()).as(asHost.body()).isEqualTo(403);
        Path camera = idevid("camera-leaf", "/CN=cam-9", client);
        EstCurl.Http otherFleet = curl.est("/simpleenroll", curl.csr("e4", "cam-9"), EstCurl.tls(camera));
        assertThat(otherFleet.status()).as(otherFleet.body()).isEqualTo(403);
        assertThat(otherFleet.body()).contains("fleet 'sensor'");
        assertThat(certificates()).isEqualTo(before);
        Path good = idevid("good-leaf", "/CN=m-3", client);
        assertThat(curl.certificate(curl.est("/simpleenroll", curl.csr("e5", "m-3"), EstCurl.tls(good)), "e5.pem")).contains("Subject: CN = m-3");
    }

    @Test
    void aPendingRequestIsReadOnlyByItsDeviceAndByOperators() throws Exception {
        start("""
                enrollment:
                  fleets:
                    sensor:
                      accept: [renewal]
                      otherwise: pending
                """);
        String s = secret("q-1", "sensor");
        EstCurl.Http pending = curl.est("/simpleenroll", curl.csr("q1", "q-1"), "-u q-1:" + s);
        assertThat(pending.status()).as(pending.body()).isEqualTo(202);
        String id = ts.fleet.store().requests().pendingRequest("q-1", "device").orElseThrow().id();
        String path = "/api/v1/certificate-requests/" + id;
        String factory = token("line-token", "factory");
        String issuer = token("ops", "issuer");
        assertThat(curl.rest("GET", path, null, "-H 'Authorization: Bearer " + factory + "'").status()).isEqualTo(403);
        assertThat(curl.rest("GET", path, null, "-H 'Authorization: Bearer  " + factory + "'").status()).isEqualTo(403);
        assertThat(curl.rest("GET", path, null, "-H 'Authorization: bearer\t" + factory + "'").status()).isEqualTo(403);
        Path station = curl.selfSigned("st", "/CN=line-9");
        assertThat(Cli.run(ts.home, "station", "add", "line-9", "--certificate", station.toString(), "--fleet", "sensor").exit()).isZero();
        assertThat(curl.rest("GET", path, null, EstCurl.tls(station)).status()).isEqualTo(403);
        assertThat(curl.rest("GET", path, null, "-u q-1:" + s).status()).isEqualTo(200);
        assertThat(curl.rest("GET", path, null, "-H 'Authorization: Bearer  " + issuer + "'").status()).isEqualTo(200);
    }

    @Test
    void aFleetsProfileScopeIsClosedAnEmptyListGrantsNothing() throws Exception {
        start("""
                enrollment:
                  fleets:
                    sensor:
                      accept: [secret, renewal]
                      otherwise: refuse
                      profiles:
                        secret: []
                        renewal: [device]
                    gateway:
                      accept: [secret]
                      profiles:
                        secret: [device-peer]
                """);
        String sensor = secret("scope-s", "sensor");
        String gateway = secret("scope-g", "gateway");
        long before = certificates();
        EstCurl.Http nothing = curl.est("/simpleenroll", curl.csr("s1", "scope-s"), "-u scope-s:" + sensor);
        assertThat(nothing.status()).as(nothing.body()).isEqualTo(403);
        assertThat(nothing.body()).contains("may obtain nothing");
        EstCurl.Http notListed = curl.est("/simpleenroll", curl.csr("g1", "scope-g"), "-u scope-g:" + gateway);
        assertThat(notListed.status()).as(notListed.body()).isEqualTo(403);
        assertThat(notListed.body()).contains("may obtain device-peer");
        assertThat(certificates()).isEqualTo(before);
        assertThat(curl.certificate(curl.est("/device-peer/simpleenroll", curl.csr("g2", "scope-g"), "-u scope-g:" + gateway), "g2.pem"))
                .contains("Subject: CN = scope-g");
        // every refusal above is in the audit log with the credential that asked
        assertThat(Cli.run(ts.home, "audit", "list", "--last", "20").out()).contains("certificate.refuse").contains("device:scope-s");
    }

    @Test
    void aConfigCannotGiveADeviceCredentialAServerOrCodeSigningProfile() throws Exception {
        Path home = TestHome.write(dir.resolve("bad"), "ecdsa-p256", null, null);
        Files.writeString(home.resolve("fleetpki.yaml"), """

                enrollment:
                  fleets:
                    "*":
                      profiles:
                        secret: [server-tls, device]
                        station: [code-signing]
                        token: [no-such-profile]
                """, java.nio.file.StandardOpenOption.APPEND);
        Cli.Result check = Cli.run(home, "config", "check");
        assertThat(check.exit()).as(check.all()).isEqualTo(78);
        assertThat(check.err()).contains("enrollment.fleets.*.profiles.secret: profile 'server-tls' is a server-tls profile")
                .contains("enrollment.fleets.*.profiles.station: profile 'code-signing'")
                .contains("enrollment.fleets.*.profiles.token: no profile named 'no-such-profile'");
    }

    @Test
    void onlyACertificateForClientAuthenticationRenews() throws Exception {
        start(null);
        String id = "srv-1.fleet.example"; // a server certificate: serverAuth only
        assertThat(Cli.run(ts.home, "device", "add", id, "--model", "sensor").exit()).isZero();
        Path csr = curl.csrPem("cs", id);
        Cli.Result signed = Cli.run(ts.home, "sign", "--csr", csr.toString(), "--device", id, "--profile", "server-tls",
                "--out", dir.resolve("cs.pem").toString());
        assertThat(signed.exit()).as(signed.all()).isZero();
        long before = certificates();
        EstCurl.Http renew = curl.est("/server-tls/simplereenroll", curl.csr("cs2", id), EstCurl.tls(dir.resolve("cs.pem")));
        assertThat(renew.status()).as(renew.body()).isEqualTo(401);
        assertThat(renew.body()).contains("does not allow client authentication");
        EstCurl.Http asDevice = curl.est("/simpleenroll", curl.csr("cs3", id), EstCurl.tls(dir.resolve("cs.pem")));
        assertThat(asDevice.status()).as(asDevice.body()).isEqualTo(401);
        assertThat(certificates()).isEqualTo(before);
    }

    @Test
    void codeSigningCertificatesGoToFirmwareSignersNeverToADevice() throws Exception {
        // seen on an earlier main: an operator (and a token bound to code-signing) could give a device a code-signing
        // certificate, which signs firmware outside any signer's model binding and audit trail
        start(null);
        assertThat(Cli.run(ts.home, "device", "add", "signer-1", "--model", "sensor").exit()).isZero();
        long before = certificates();
        Cli.Result signed = Cli.run(ts.home, "sign", "--csr", curl.csrPem("cs", "signer-1").toString(), "--device", "signer-1", "--profile", "code-signing");
        assertThat(signed.exit()).as(signed.all()).isEqualTo(77);
        assertThat(signed.err()).contains("code-signing certificates; those go to named firmware signers, not devices")
                .contains("fleetpki signer add");
        Cli.Result token = Cli.run(ts.home, "token", "create", "cs-pipeline", "--role", "issuer", "--profiles", "code-signing");
        assertThat(token.exit()).as(token.all()).isEqualTo(65);
        assertThat(token.err()).contains("go to firmware signers");
        assertThat(certificates()).isEqualTo(before);
        // positive control: a signer gets one, with the codeSigning EKU and its name as CN
        Cli.Result signer = Cli.run(ts.home, "signer", "add", "release", "--key", "file:signers/release.p8", "--create", "--models", "sensor",
                "--out", dir.resolve("release.pem").toString());
        assertThat(signer.exit()).as(signer.all()).isZero();
        assertThat(Proc.ok(dir, "openssl", "x509", "-in", dir.resolve("release.pem").toString(), "-noout", "-text"))
                .contains("Subject: CN = release").contains("Code Signing");
        assertThat(certificates()).isEqualTo(before + 1);
    }

    @Test
    void stationsOperatorsAndDevicesAreDisabledAndEnabledAndADisabledStationIsRefusedAtOnce() throws Exception {
        start(null);
        Path station = curl.selfSigned("station", "/CN=line-2");
        assertThat(Cli.run(ts.home, "station", "add", "line-2", "--certificate", station.toString(), "--fleet", "sensor").exit()).isZero();
        assertThat(Cli.run(ts.home, "device", "add", "d-1", "--model", "sensor").exit()).isZero();
        assertThat(curl.est("/simpleenroll", curl.csr("d1", "d-1"), EstCurl.tls(station)).status()).isEqualTo(200);
        // the station was just used (and so looked up): disabling it still refuses its very next request
        Cli.Result off = Cli.run(ts.home, "station", "disable", "line-2");
        assertThat(off.exit()).as(off.all()).isZero();
        assertThat(Cli.run(ts.home, "station", "list").out()).containsPattern("line-2\\s+disabled");
        long before = certificates();
        EstCurl.Http refused = curl.est("/simpleenroll", curl.csr("d2", "d-1"), EstCurl.tls(station));
        assertThat(refused.status()).as(refused.body()).isEqualTo(401);
        assertThat(refused.body()).contains("line-2").contains("disabled");
        assertThat(certificates()).isEqualTo(before);
        assertThat(Cli.run(ts.home, "station", "enable", "line-2").exit()).isZero();
        assertThat(curl.est("/simpleenroll", curl.csr("d3", "d-1"), EstCurl.tls(station)).status()).isEqualTo(200);
        assertThat(Cli.run(ts.home, "station", "disable", "no-such-line").exit()).isEqualTo(66);

        // an operator token
        String ops = token("ops", "issuer");
        assertThat(curl.rest("GET", "/api/v1/devices", null, "-H 'Authorization: Bearer " + ops + "'").status()).isEqualTo(200);
        assertThat(Cli.run(ts.home, "token", "disable", "ops").exit()).isZero();
        assertThat(curl.rest("GET", "/api/v1/devices", null, "-H 'Authorization: Bearer " + ops + "'").status()).isEqualTo(401);
        assertThat(Cli.run(ts.home, "token", "list").out()).containsPattern("ops\\s+issuer\\s+\\S+\\s+disabled");
        assertThat(Cli.run(ts.home, "token", "enable", "ops").exit()).isZero();
        assertThat(curl.rest("GET", "/api/v1/devices", null, "-H 'Authorization: Bearer " + ops + "'").status()).isEqualTo(200);

        // a device: disabled, enabled again; a revoked device stays revoked
        assertThat(Cli.run(ts.home, "device", "disable", "d-1").exit()).isZero();
        assertThat(curl.est("/simpleenroll", curl.csr("d4", "d-1"), EstCurl.tls(station)).status()).isIn(403);
        assertThat(Cli.run(ts.home, "device", "enable", "d-1").exit()).isZero();
        assertThat(curl.est("/simpleenroll", curl.csr("d5", "d-1"), EstCurl.tls(station)).status()).isEqualTo(200);
        assertThat(curl.rest("POST", "/api/v1/devices/d-1/disable", null, "-H 'Authorization: Bearer " + ops + "'").status()).isEqualTo(200);
        EstCurl.Http enabled = curl.rest("POST", "/api/v1/devices/d-1/enable", null, "-H 'Authorization: Bearer " + ops + "'");
        assertThat(enabled.status()).as(enabled.body()).isEqualTo(200);
        assertThat(enabled.body()).contains("\"status\":\"active\"");
        assertThat(Cli.run(ts.home, "device", "revoke", "d-1").exit()).isZero();
        Cli.Result revived = Cli.run(ts.home, "device", "enable", "d-1");
        assertThat(revived.exit()).isEqualTo(65);
        assertThat(revived.err()).contains("revoked");
        assertThat(Cli.run(ts.home, "device", "disable", "d-1").exit()).isEqualTo(65);
        assertThat(Cli.run(ts.home, "device", "show", "d-1").out()).contains("revoked");
        assertThat(Cli.run(ts.home, "audit", "verify").exit()).isZero();
    }

    @Test
    void madeUpProfilesAddNoMetricSeriesAndMalformedRequestsAreLimitedPerSource() throws Exception {
        start(null);
        String ops = token("ops", "issuer");
        java.util.function.Function<String, java.net.http.HttpResponse<String>> post = json -> {
            try {
                return ts.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(ts.base + "/api/v1/certificate-requests"))
                        .header("Authorization", "Bearer " + ops).header("Content-Type", "application/json")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(json)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
        java.util.function.Supplier<String> metrics = () -> {
            try {
                return ts.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(ts.base + "/metrics")).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString()).body();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
        assertThat(post.apply("{\"profile\": \"x-first\", \"csr\": \"garbage\"}").statusCode()).isEqualTo(400);
        int size = metrics.get().length();
        for (int i = 0; i < 59; i++) {
            var r = post.apply("{\"profile\": \"x-" + i + "-" + "p".repeat(40) + "\", \"csr\": \"garbage\"}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        }
        String after = metrics.get();
        assertThat(after).doesNotContain("x-1-").contains("profile=\"other\"");
        assertThat(after.length() - size).as("no series per made-up profile").isLessThan(200);
        var limited = post.apply("{\"profile\": \"device\", \"csr\": \"garbage\"}");
        assertThat(limited.statusCode()).as(limited.body()).isEqualTo(429);
        assertThat(limited.headers().firstValue("Retry-After")).isPresent();
        assertThat(limited.body()).contains("malformed");
    }

    @Test
    void aTokenBoundToTheServerProfileGetsServerNamesUnderTheSuffixesOnly() throws Exception {
        start(null);
        Cli.Result bad = Cli.run(ts.home, "token", "create", "ca-maker", "--role", "issuer", "--profiles", "sub-ca");
        assertThat(bad.exit()).isEqualTo(65);
        assertThat(bad.err()).contains("come from the ceremony");
        Cli.Result made = Cli.run(ts.home, "token", "create", "deployer", "--role", "issuer", "--profiles", "server-tls");
        assertThat(made.exit()).as(made.all()).isZero();
        String deployer = made.out().trim();
        String plain = token("plain", "issuer");
        assertThat(Cli.run(ts.home, "token", "list").out()).containsPattern("deployer .* server-tls");
        assertThat(Cli.run(ts.home, "device", "add", "gw.fleet.example", "--model", "gateway").exit()).isZero();
        long before = certificates();
        java.util.function.BiFunction<String, String, EstCurl.Http> request = (token, san) -> {
            try {
                Path csr = curl.csrPem("gw" + System.nanoTime(), "gw.fleet.example", "-addext", "subjectAltName=" + san);
                return curl.rest("POST", "/api/v1/certificate-requests", JSON.writeValueAsString(Map.of("csr", Files.readString(csr),
                        "profile", "server-tls")), "-H 'Authorization: Bearer " + token + "'");
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
        EstCurl.Http unbound = request.apply(plain, "DNS:gw.fleet.example");
        assertThat(unbound.status()).as(unbound.body()).isEqualTo(403);
        EstCurl.Http outside = request.apply(deployer, "DNS:gw.other.example");
        assertThat(outside.status()).as(outside.body()).isEqualTo(400);
        EstCurl.Http ip = request.apply(deployer, "IP:10.0.0.1");
        assertThat(ip.status()).as("no ipRanges configured: IP addresses are an operator's").isEqualTo(403);
        assertThat(ip.body()).contains("ipRanges");
        EstCurl.Http own = request.apply(deployer, "DNS:" + TestServer.HOST);
        assertThat(own.status()).as("the CA's own host name").isEqualTo(403);
        assertThat(certificates()).isEqualTo(before);
        EstCurl.Http ok = request.apply(deployer, "DNS:gw.fleet.example");
        assertThat(ok.status()).as(ok.body()).isEqualTo(201);
        assertThat(ok.body()).contains("\"profile\":\"server-tls\"");
        EstCurl.Http code = curl.rest("POST", "/api/v1/certificate-requests", JSON.writeValueAsString(Map.of("csr",
                Files.readString(curl.csrPem("cs9", "gw.fleet.example")), "profile", "code-signing")), "-H 'Authorization: Bearer " + deployer + "'");
        assertThat(code.status()).as("bound to server-tls only").isEqualTo(403);
    }

    @Test
    void aCertificateWithAnEmptySubjectRenewsByItsUriName() throws Exception {
        ts = TestServer.start(dir, """
                device-uri:
                  kind: device
                  subject: uri-san
                  uriTemplate: "urn:acme:device:{id}"
                """);
        curl = EstCurl.of(ts, dir);
        String s = secret("u-1", "sensor");
        // a CSR with an empty subject that asks for the device's URI name (RFC 5280 4.1.2.6: the name is then in the SAN)
        java.util.function.Function<String, Path> emptySubjectCsr = name -> {
            Path k = dir.resolve(name + ".key");
            Proc.ok(dir, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", k.toString());
            Path b64 = dir.resolve(name + ".b64");
            Proc.ok(dir, "sh", "-c", "openssl req -new -key " + k + " -subj / -addext subjectAltName=URI:urn:acme:device:u-1 -outform DER"
                    + " | openssl base64 > " + b64);
            return b64;
        };
        String first = curl.certificate(curl.est("/device-uri/simpleenroll", emptySubjectCsr.apply("u1"), "-u u-1:" + s), "u1.pem");
        assertThat(first).contains("URI:urn:acme:device:u-1").doesNotContain("CN = u-1");
        String renewed = curl.certificate(curl.est("/device-uri/simplereenroll", emptySubjectCsr.apply("u2"), EstCurl.tls(dir.resolve("u1.pem"))),
                "u2.pem");
        assertThat(renewed).contains("URI:urn:acme:device:u-1");
    }

    private String token(String name, String role) {
        Cli.Result r = Cli.run(ts.home, "token", "create", name, "--role", role);
        assertThat(r.exit()).as(r.all()).isZero();
        return r.out().trim();
    }
}
