package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.EnrollmentSecret;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.Pem;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every route of the HTTPS server against every kind of credential, with the exact status each
 * must get, and on every refusal nothing stored and no secret used up. The rows are checked
 * against the server's own route list: a route added without a row fails this test, so a new
 * endpoint cannot arrive unreviewed. docs/security.md shows the same table.
 */
public class AuthorizationMatrixTest {
    /** The columns: one credential each, presented as a real client would. */
    enum Cred {
        NONE, SECRET_A, SECRET_B, USED_SECRET, IDEVID_A, STATION_X, STATION_Y, STATION_OFF, RENEW_CURRENT, RENEW_REVOKED, RENEW_EXPIRED,
        FOREIGN_CERT, ADMIN, ISSUER, AUDITOR, FACTORY, OPERATOR_CERT, FIRMWARE_SIGNER,
        /** An API token of role approver. */
        APPROVER,
        /** A console session of an operator of role issuer: its cookie and CSRF token, no Authorization header. */
        SESSION
    }

    static final String A = "mx-a";
    static final String B = "mx-b";
    static final String PENDING_DEVICE = "mx-p";

    @TempDir static Path dir;
    static TestServer ts;
    static Map<Cred, HttpClient> clients = new LinkedHashMap<>();
    static Map<Cred, String> tokens = new LinkedHashMap<>();
    static String usedSecret;
    /** The console session's cookie header and CSRF token. */
    static String[] session;
    static String currentSerial;
    static int counter;

    /**
     * One route's request (made fresh for each attempt) and the status each credential must get. A row written before
     * the firmware-signer column existed gets 403 there: that token may sign firmware and nothing else.
     */
    record Row(String route, Supplier<Req> request, int... expected) {
        Row {
            if (expected.length == Cred.FIRMWARE_SIGNER.ordinal()) {
                expected = Arrays.copyOf(expected, expected.length + 1);
                expected[expected.length - 1] = 403;
            }
            // rows written before the approver and console-session columns: an approver token gets what an auditor's
            // does, and a session cookie is no credential at all (what a request without one gets)
            if (expected.length == Cred.APPROVER.ordinal()) {
                expected = Arrays.copyOf(expected, Cred.values().length);
                expected[Cred.APPROVER.ordinal()] = expected[Cred.AUDITOR.ordinal()];
                expected[Cred.SESSION.ordinal()] = expected[Cred.NONE.ordinal()];
            }
        }

        /** The same row with one cell changed. */
        Row with(Cred c, int status) {
            int[] e = expected.clone();
            e[c.ordinal()] = status;
            return new Row(route, request, e);
        }

        /** The console (an issuer's session) may call this route, and gets what the issuer's token gets. */
        Row console() {
            return with(Cred.SESSION, expected[Cred.ISSUER.ordinal()]);
        }
    }

    /** A concrete request: path, body (null: none) and its type; {@code est}: secrets go as HTTP basic, else as a bearer token. */
    record Req(String method, String path, byte[] body, String type, boolean est) {}

    static final int[] PUBLIC = fill(200);
    static final int[] OPERATOR_READ = {401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 200, 200, 200, 403, 200, 403, 200, 401};
    /** A console page: a browser without a session is sent to sign in, whatever else it carries. */
    static final int[] CONSOLE_PAGE = fill(303);

    static int[] fill(int status) {
        int[] a = new int[Cred.values().length];
        Arrays.fill(a, status);
        return a;
    }

    static int[] operatorWrite(int ok) {
        return new int[] {401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, ok, ok, 403, 403, ok};
    }

    @BeforeAll
    static void start() throws Exception {
        ts = TestServer.start(dir, """
                short:
                  kind: device
                  validity: 5m
                """, """
                enrollment:
                  deviceRate: 0
                  fleets:
                    pend:
                      accept: []
                      otherwise: pending
                notifications:
                  webhooks:
                    - name: mx-hook
                      url: http://127.0.0.1:9/events
                      attempts: 1
                """, dev.fleetpki.server.FleetServer.Limits.DEFAULT, yaml -> yaml, Duration.ofHours(2));
        for (String[] d : new String[][] {{A, "sensor"}, {B, "sensor"}, {PENDING_DEVICE, "pend"}, {"mx-r", "sensor"}, {"mx-w", "sensor"},
            {"mx-s", "sensor"}}) {
            assertThat(Cli.run(ts.home, "device", "add", d[0], "--model", d[1]).exit()).isZero();
        }
        EstCurl curl = EstCurl.of(ts, dir);
        Path stX = curl.selfSigned("st-x", "/CN=line-x");
        Path stY = curl.selfSigned("st-y", "/CN=line-y");
        Path stOff = curl.selfSigned("st-off", "/CN=line-off");
        assertThat(Cli.run(ts.home, "station", "add", "line-x", "--certificate", stX.toString(), "--fleet", "sensor").exit()).isZero();
        assertThat(Cli.run(ts.home, "station", "add", "line-y", "--certificate", stY.toString(), "--fleet", "camera").exit()).isZero();
        assertThat(Cli.run(ts.home, "station", "add", "line-off", "--certificate", stOff.toString(), "--fleet", "sensor").exit()).isZero();
        assertThat(Cli.run(ts.home, "station", "disable", "line-off").exit()).isZero();
        Path foreign = curl.selfSigned("foreign", "/CN=" + A);
        // a vendor CA bound to the sensor fleet, and an IDevID for device A under it
        Path vendor = dir.resolve("vendor.pem");
        Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                "-keyout", dir.resolve("vendor.key").toString(), "-out", vendor.toString(), "-subj", "/CN=Vendor Root",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
        assertThat(Cli.run(ts.home, "trust", "add-manufacturer", vendor.toString(), "--name", "vendor", "--fleet", "sensor").exit()).isZero();
        Path idevCsr = curl.csrPem("idev", A);
        Files.writeString(dir.resolve("idev.ext"), "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n");
        Proc.ok(dir, "openssl", "x509", "-req", "-in", idevCsr.toString(), "-CA", vendor.toString(), "-CAkey", dir.resolve("vendor.key").toString(),
                "-CAcreateserial", "-days", "30", "-extfile", dir.resolve("idev.ext").toString(), "-out", dir.resolve("idev.pem").toString());
        // A's current certificate and a revoked one, both enrolled with secrets (the second secret is then used up)
        String s1 = secret(A).text();
        assertThat(curl.certificate(curl.est("/simpleenroll", curl.csr("cur", A), "-u " + A + ":" + s1), "cur.pem")).contains("CN = " + A);
        usedSecret = secret(A).text();
        curl.certificate(curl.est("/simpleenroll", curl.csr("rev", A), "-u " + A + ":" + usedSecret), "rev.pem");
        String revSerial = ServerTest.parse(Files.readAllBytes(dir.resolve("rev.pem"))).getSerialNumber().toString(16);
        assertThat(Cli.run(ts.home, "revoke", revSerial).exit()).isZero();
        currentSerial = ServerTest.parse(Files.readAllBytes(dir.resolve("cur.pem"))).getSerialNumber().toString(16);
        // a certificate of A that expired an hour ago (issued with a clock set back, by a 5-minute profile)
        KeyPair old = KeyAlgorithm.EC_P256.generate();
        byte[] oldCsr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + A), old.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(old.getPrivate())).getEncoded();
        try (Fleet past = Fleet.open(ts.home, java.time.Clock.offset(java.time.Clock.systemUTC(), Duration.ofHours(-1)))) {
            var expired = past.pipeline().issue(IssuanceRequest.fromCsr(UntrustedCsr.parse(oldCsr), A, "short", "cli"),
                    past.authorizer().operator(Actor.operator("matrix"), A, "short", "cli"));
            assertThat(expired.notAfter()).isBefore(Instant.now());
            Files.writeString(dir.resolve("exp.pem"), Pem.encode("CERTIFICATE", expired.der()));
            Files.writeString(dir.resolve("exp.key"), Pem.encode("PRIVATE KEY", old.getPrivate().getEncoded()));
        }
        for (String role : new String[] {"admin", "issuer", "auditor", "factory", "approver"}) {
            Cli.Result t = Cli.run(ts.home, "token", "create", "mx-" + role, "--role", role);
            assertThat(t.exit()).isZero();
            tokens.put(Cred.valueOf(role.toUpperCase(java.util.Locale.ROOT)), t.out().trim());
        }
        // a firmware signer for the sensor fleet, and a token bound to it and that model
        Cli.Result signer = Cli.run(ts.home, "signer", "add", "mx-release", "--key", "file:signers/mx-release.p8", "--create", "--models", "sensor");
        assertThat(signer.exit()).as(signer.all()).isZero();
        Cli.Result fw = Cli.run(ts.home, "token", "create", "mx-firmware", "--role", "firmware-signer", "--signers", "mx-release", "--models", "sensor");
        assertThat(fw.exit()).as(fw.all()).isZero();
        tokens.put(Cred.FIRMWARE_SIGNER, fw.out().trim());
        Path op = curl.selfSigned("op", "/CN=alice");
        assertThat(Cli.run(ts.home, "token", "create", "alice", "--role", "issuer", "--client-cert", op.toString()).exit()).isZero();

        session = ConsoleTest.signIn(ts, dir, "mx-console", "issuer");

        HttpClient plain = ts.http;
        clients.put(Cred.STATION_X, ts.clientWith(stX, dir.resolve("st-x.key")));
        clients.put(Cred.STATION_Y, ts.clientWith(stY, dir.resolve("st-y.key")));
        clients.put(Cred.STATION_OFF, ts.clientWith(stOff, dir.resolve("st-off.key")));
        clients.put(Cred.IDEVID_A, ts.clientWith(dir.resolve("idev.pem"), dir.resolve("idev.key")));
        clients.put(Cred.RENEW_CURRENT, ts.clientWith(dir.resolve("cur.pem"), dir.resolve("cur.key")));
        clients.put(Cred.RENEW_REVOKED, ts.clientWith(dir.resolve("rev.pem"), dir.resolve("rev.key")));
        clients.put(Cred.RENEW_EXPIRED, ts.clientWith(dir.resolve("exp.pem"), dir.resolve("exp.key")));
        clients.put(Cred.FOREIGN_CERT, ts.clientWith(foreign, dir.resolve("foreign.key")));
        clients.put(Cred.OPERATOR_CERT, ts.clientWith(op, dir.resolve("op.key")));
        for (Cred c : Cred.values()) {
            clients.putIfAbsent(c, plain);
        }
    }

    @AfterAll
    static void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    private static Enrollment.NewSecret secret(String device) {
        return Enrollment.newSecret(ts.fleet.store().devices(), ts.fleet.store().credentials(), ts.fleet.enrollmentSecrets(), device, Duration.ofHours(1), Actor.operator("matrix"), Instant.now());
    }

    // ---- request bodies ----

    static byte[] csrDer(String cn, String dnsSan) {
        try {
            KeyPair kp = KeyAlgorithm.EC_P256.generate();
            var b = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + cn), kp.getPublic());
            if (dnsSan != null) {
                ExtensionsGenerator ext = new ExtensionsGenerator();
                ext.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName(GeneralName.dNSName, dnsSan)));
                b.addAttribute(org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, ext.generate());
            }
            return b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())).getEncoded();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static Req est(String path, String cn, String dnsSan) {
        return new Req("POST", "/.well-known/est" + path, Base64.getEncoder().encode(csrDer(cn, dnsSan)), "application/pkcs10", true);
    }

    static Req json(String method, String path, String body) {
        return new Req(method, path, body == null ? null : body.getBytes(StandardCharsets.UTF_8), "application/json", false);
    }

    static Req get(String path) {
        return new Req("GET", path, null, null, path.startsWith("/.well-known/est"));
    }

    static String restCsr(String cn) {
        return "{\"csr\": \"" + Pem.encode("CERTIFICATE REQUEST", csrDer(cn, null)).replace("\n", "\\n") + "\"}";
    }

    static String bareKey(String device) {
        String pem = Pem.encode("PUBLIC KEY", KeyAlgorithm.EC_P256.generate().getPublic().getEncoded()).replace("\n", "\\n");
        return "{\"publicKey\": \"" + pem + "\", \"device\": \"" + device + "\"}";
    }

    /** The pending request of device mx-p (its fleet accepts nothing at once), made when there is none. */
    static String pendingRequest() {
        return ts.fleet.store().requests().pendingRequest(PENDING_DEVICE, "device").map(r -> r.id()).orElseGet(() -> {
            Enrollment.NewSecret s = secret(PENDING_DEVICE);
            try {
                HttpResponse<String> r = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/.well-known/est/simpleenroll"))
                        .header("Content-Type", "application/pkcs10")
                        .header("Authorization", "Basic " + Base64.getEncoder().encodeToString((PENDING_DEVICE + ":" + s.text()).getBytes(StandardCharsets.UTF_8)))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(Base64.getEncoder().encode(csrDer(PENDING_DEVICE, null)))).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return ts.fleet.store().requests().pendingRequest(PENDING_DEVICE, "device").orElseThrow().id();
        });
    }

    /** An unrevoked certificate of device mx-r, issued by an operator when there is none. */
    static String revocableSerial() {
        return ts.fleet.store().certificates().certificates("mx-r", Instant.now(), null, 50).stream().filter(c -> !c.revoked()).map(c -> c.issued().serialHex())
                .findFirst().orElseGet(() -> ts.services.pipeline().issue(IssuanceRequest.fromCsr(UntrustedCsr.parse(csrDer("mx-r", null)), "mx-r",
                        "device", "cli"), ts.services.authorizer().operator(Actor.operator("matrix"), "mx-r", "device", "cli")).serialHex());
    }

    static List<Row> rows() {
        List<Row> rows = new ArrayList<>();
        for (String path : List.of("/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/api/v1/cas", "/api/v1/cas/issuing",
                "/api/v1/cas/issuing/certificate", "/.well-known/est/cacerts", "/.well-known/est/device/cacerts", "/.well-known/est/csrattrs",
                "/.well-known/est/device/csrattrs")) {
            rows.add(new Row("GET " + template(path), () -> get(path), PUBLIC));
        }
        // SCEP: GetCACaps is public; a PKIOperation carries its credential inside the message (its challengePassword, tested in
        // ScepTest), so HTTP credentials change nothing: a message that is not one is 400 for everybody
        for (String path : List.of("/scep?operation=GetCACaps", "/scep/device?operation=GetCACaps")) {
            rows.add(new Row("GET " + template(path.substring(0, path.indexOf('?'))), () -> get(path), PUBLIC));
        }
        for (String path : List.of("/scep", "/scep/device")) {
            rows.add(new Row("POST " + template(path), () -> new Req("POST", path + "?operation=PKIOperation", "not a pkiMessage".getBytes(StandardCharsets.UTF_8),
                    "application/x-pki-message", false), fill(400)));
        }
        // CMP: the credential is the message's protection (a MAC with the device's secret or a signature by a credential
        // certificate, tested in CmpTest), so HTTP credentials change nothing: a body that is not a PKIMessage is 400 for everybody
        for (String path : List.of("/.well-known/cmp", "/.well-known/cmp/p/device")) {
            rows.add(new Row("POST " + template(path), () -> new Req("POST", path, "not a PKIMessage".getBytes(StandardCharsets.UTF_8),
                    "application/pkixcmp", false), fill(400)));
        }
        rows.add(new Row("GET /api/v1/devices", () -> get("/api/v1/devices"), OPERATOR_READ).console());
        rows.add(new Row("GET /api/v1/devices/{id}", () -> get("/api/v1/devices/" + A), OPERATOR_READ).console());
        rows.add(new Row("GET /api/v1/certificates", () -> get("/api/v1/certificates"), OPERATOR_READ).console());
        for (String tail : List.of("", "/pem", "/chain", "/der")) {
            rows.add(new Row("GET /api/v1/certificates/{serial}" + tail, () -> get("/api/v1/certificates/" + currentSerial + tail), OPERATOR_READ)
                    .console());
        }
        rows.add(new Row("GET /api/v1/certificate-requests", () -> get("/api/v1/certificate-requests"), OPERATOR_READ).console());
        rows.add(new Row("GET /api/v1/webhooks", () -> get("/api/v1/webhooks"), OPERATOR_READ));
        rows.add(new Row("GET /api/v1/webhooks/{name}/failures", () -> get("/api/v1/webhooks/mx-hook/failures"), OPERATOR_READ));
        rows.add(new Row("POST /api/v1/webhooks/{name}/retry", () -> json("POST", "/api/v1/webhooks/mx-hook/retry", null), operatorWrite(200)));
        rows.add(new Row("GET /api/v1/certificate-requests/{id}", () -> get("/api/v1/certificate-requests/" + pendingRequest()),
                401, 403, 403, 401, 403, 403, 403, 401, 403, 401, 401, 401, 200, 200, 200, 403, 200).with(Cred.APPROVER, 200).console());
        // the audit log: auditors (and admins) only
        int[] audit = {401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 200, 403, 200, 403, 403, 403, 403, 403};
        rows.add(new Row("GET /api/v1/audit", () -> get("/api/v1/audit?limit=5"), audit));
        // revoking a CA or a signer: admins only (a name that does not exist, so the admin's call finds nothing to revoke)
        int[] admin = {401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 404, 403, 403, 403, 403, 403, 403, 403};
        rows.add(new Row("POST /api/v1/cas/{name}/revoke", () -> json("POST", "/api/v1/cas/mx-no-such-ca/revoke", "{}"), admin));
        rows.add(new Row("POST /api/v1/signers/{name}/revoke", () -> json("POST", "/api/v1/signers/mx-no-such-signer/revoke", "{}"), admin));
        rows.add(new Row("GET /api/v1/audit/verify", () -> get("/api/v1/audit/verify"), audit));
        // the console: pages send a browser without a session to sign in; an issuer's session sees every page but the audit log's
        rows.add(new Row("GET /console", () -> get("/console/"), CONSOLE_PAGE).with(Cred.SESSION, 200));
        for (String page : List.of("/devices", "/devices/" + A, "/certificates/" + currentSerial, "/requests", "/cas")) {
            String route = "GET /console" + page.replace("/devices/" + A, "/devices/{id}").replace("/certificates/" + currentSerial, "/certificates/{serial}");
            rows.add(new Row(route, () -> get("/console" + page), CONSOLE_PAGE).with(Cred.SESSION, 200));
        }
        for (String page : List.of("/audit", "/audit/verify")) {
            rows.add(new Row("GET /console" + page, () -> get("/console" + page), CONSOLE_PAGE).with(Cred.SESSION, 403));
        }
        rows.add(new Row("GET /console/assets/{file}", () -> get("/console/assets/console.js"), PUBLIC));
        rows.add(new Row("GET /console/login", () -> get("/console/login"), PUBLIC).with(Cred.SESSION, 303));
        rows.add(new Row("POST /console/login", () -> new Req("POST", "/console/login", "name=nobody&password=wrong-password".getBytes(StandardCharsets.UTF_8),
                "application/x-www-form-urlencoded", false), fill(401)));
        rows.add(new Row("POST /console/login/certificate", () -> new Req("POST", "/console/login/certificate", null, null, false), fill(401)));
        // signing out without the form's CSRF field is refused (the session lives on for the rows after this one)
        rows.add(new Row("POST /console/logout", () -> new Req("POST", "/console/logout", null, null, false), fill(303)).with(Cred.SESSION, 403));
        rows.add(new Row("POST /api/v1/devices", () -> json("POST", "/api/v1/devices", "{\"id\": \"mx-new-" + (++counter) + "\", \"model\": \"sensor\"}"),
                operatorWrite(201)));
        rows.add(new Row("POST /api/v1/devices/import", () -> json("POST", "/api/v1/devices/import", "{\"devices\": [{\"id\": \"mx-imp-" + (++counter)
                + "\", \"model\": \"sensor\"}]}"), operatorWrite(201)));
        rows.add(new Row("POST /api/v1/devices/{id}/disable", () -> json("POST", "/api/v1/devices/mx-w/disable", null), operatorWrite(200)).console());
        rows.add(new Row("POST /api/v1/devices/{id}/enable", () -> json("POST", "/api/v1/devices/mx-w/enable", null), operatorWrite(200)).console());
        rows.add(new Row("POST /api/v1/devices/{id}/enrollment-secret", () -> json("POST", "/api/v1/devices/mx-s/enrollment-secret", null),
                operatorWrite(201)));
        rows.add(new Row("POST /api/v1/certificates/{serial}/revoke", () -> json("POST", "/api/v1/certificates/" + revocableSerial() + "/revoke", null),
                operatorWrite(200)).console());
        rows.add(new Row("POST /api/v1/certificate-requests/{id}/approve",
                () -> json("POST", "/api/v1/certificate-requests/" + pendingRequest() + "/approve", null), operatorWrite(200)).with(Cred.APPROVER, 200).console());
        rows.add(new Row("POST /api/v1/certificate-requests/{id}/reject",
                () -> json("POST", "/api/v1/certificate-requests/" + pendingRequest() + "/reject", null), operatorWrite(200)).with(Cred.APPROVER, 200).console());
        // enrollment: the request is always for device A
        int[] enroll = {401, 200, 400, 401, 200, 200, 403, 401, 200, 401, 401, 401, 200, 200, 403, 200, 200};
        int[] server = {401, 403, 403, 401, 403, 403, 403, 401, 403, 401, 401, 401, 200, 403, 403, 403, 403};
        int[] reenroll = {401, 403, 403, 401, 403, 403, 403, 401, 200, 401, 401, 401, 200, 403, 403, 403, 403};
        int[] keygen = {401, 403, 403, 401, 403, 200, 403, 401, 403, 401, 401, 401, 200, 200, 403, 200, 200};
        rows.add(new Row("POST /.well-known/est/simpleenroll", () -> est("/simpleenroll", A, null), enroll));
        rows.add(new Row("POST /.well-known/est/{label}/simpleenroll", () -> est("/server-tls/simpleenroll", A, A + ".fleet.example"), server));
        rows.add(new Row("POST /.well-known/est/simplereenroll", () -> est("/simplereenroll", A, null), reenroll));
        rows.add(new Row("POST /.well-known/est/{label}/simplereenroll", () -> est("/device/simplereenroll", A, null), reenroll));
        rows.add(new Row("POST /.well-known/est/serverkeygen", () -> est("/serverkeygen", A, null), keygen));
        rows.add(new Row("POST /.well-known/est/{label}/serverkeygen", () -> est("/device/serverkeygen", A, null), keygen));
        rows.add(new Row("POST /api/v1/certificate-requests", () -> json("POST", "/api/v1/certificate-requests", restCsr(A)),
                401, 201, 400, 401, 201, 201, 403, 401, 201, 401, 401, 401, 201, 201, 403, 201, 201));
        // firmware: an operator or a firmware-signer token bound to the signer and model; secrets and certificates are no API tokens
        rows.add(new Row("POST /api/v1/firmware/signatures", () -> firmware("sensor"),
                401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 201, 403, 403, 403, 403, 201));
        return rows;
    }

    /** More requests on routes already in the table: shapes of the same route with other authorization rules. */
    static List<Row> moreShapes() {
        return List.of(new Row("POST /api/v1/certificate-requests (bare key)", () -> json("POST", "/api/v1/certificate-requests", bareKey(A)),
                401, 403, 403, 401, 403, 201, 403, 401, 403, 401, 401, 401, 403, 403, 403, 201, 403),
                new Row("POST /api/v1/firmware/signatures (a model the token is not bound to)", () -> firmware("camera"),
                        401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 403, 403, 403, 403, 403));
    }

    /** A digest-only firmware signature by signer mx-release (bound to model sensor) for this model. */
    static Req firmware(String model) {
        return new Req("POST", "/api/v1/firmware/signatures?signer=mx-release&model=" + model + "&version=1.0.0&format=cms&sha256="
                + "00".repeat(32) + "&size=1000", null, null, false);
    }

    private static String template(String path) {
        return path.replace("/cas/issuing", "/cas/{name}").replace("/est/device/", "/est/{label}/").replace("/scep/device", "/scep/{label}")
                .replace("/cmp/p/device", "/cmp/p/{label}");
    }

    @Test
    void everyRouteHasARow() {
        Set<String> covered = new TreeSet<>();
        rows().forEach(r -> covered.add(r.route()));
        Set<String> served = new TreeSet<>(ts.server.routes());
        Set<String> missing = new TreeSet<>(served);
        missing.removeAll(covered);
        assertThat(missing).as("routes the server serves without a row in the authorization matrix: add one").isEmpty();
        Set<String> stale = new TreeSet<>(covered);
        stale.removeAll(served);
        assertThat(stale).as("rows for routes the server no longer serves").isEmpty();
    }

    @Test
    void everyCredentialGetsExactlyItsStatusOnEveryRouteAndARefusalChangesNothing() throws Exception {
        List<String> wrong = new ArrayList<>();
        List<Row> all = new ArrayList<>(rows());
        all.addAll(moreShapes());
        for (Row row : all) {
            assertThat(row.expected()).as(row.route()).hasSize(Cred.values().length);
            for (Cred c : Cred.values()) {
                Req req = row.request().get();
                String secretId = null;
                String auth = switch (c) {
                    case SECRET_A, SECRET_B -> {
                        Enrollment.NewSecret s = secret(c == Cred.SECRET_A ? A : B);
                        secretId = s.text().split("_")[1];
                        String device = c == Cred.SECRET_A ? A : B;
                        yield req.est() ? basic(device, s.text()) : "Bearer " + s.text();
                    }
                    case USED_SECRET -> req.est() ? basic(A, usedSecret) : "Bearer " + usedSecret;
                    case ADMIN, ISSUER, AUDITOR, FACTORY, FIRMWARE_SIGNER, APPROVER -> "Bearer " + tokens.get(c);
                    default -> null;
                };
                long certificates = ts.fleet.store().certificates().certificateCount();
                long pending = ts.fleet.store().requests().pendingCount();
                HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(ts.base + req.path()))
                        .method(req.method(), req.body() == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(req.body()));
                if (req.type() != null) {
                    b.header("Content-Type", req.type());
                }
                if (auth != null) {
                    b.header("Authorization", auth);
                }
                if (c == Cred.SESSION) {
                    b.header("Cookie", session[0]).header("X-CSRF-Token", session[1]);
                }
                HttpResponse<String> r = clients.get(c).send(b.build(), HttpResponse.BodyHandlers.ofString());
                int expected = row.expected()[c.ordinal()];
                if (r.statusCode() != expected) {
                    wrong.add(row.route() + " with " + c + ": " + r.statusCode() + ", expected " + expected + " (" + abbreviate(r.body()) + ")");
                }
                if (r.statusCode() >= 400) {
                    if (ts.fleet.store().certificates().certificateCount() != certificates || ts.fleet.store().requests().pendingCount() != pending) {
                        wrong.add(row.route() + " with " + c + ": refused with " + r.statusCode() + " but the store changed");
                    }
                    if (secretId != null) {
                        EnrollmentSecret s = ts.fleet.store().credentials().enrollmentSecret(secretId).orElseThrow();
                        if (!s.usableAt(Instant.now())) {
                            wrong.add(row.route() + " with " + c + ": refused with " + r.statusCode() + " but the secret was used up");
                        }
                    }
                }
            }
        }
        assertThat(wrong).as("cells of the authorization matrix that do not hold").isEmpty();
    }

    /**
     * Every CLI command by its full name, and whether it issues or signs certificates (then it has rows below). The two
     * commands fleetpki-app adds, quickstart and serve, issue as an operator (the demo device, the server's own TLS
     * certificate) through the same authorizer; fleetpki-app's CommandClassificationTest holds the program's whole tree
     * against this map plus those two, so a command added there is classified too.
     */
    public static final Map<String, Boolean> CLI_COMMANDS = new java.util.TreeMap<>(Map.ofEntries(
            Map.entry("sign", true), Map.entry("issue", true), Map.entry("request approve", true),
            Map.entry("init", true), Map.entry("ca csr", true), Map.entry("ca sign", true), Map.entry("ca import", true), Map.entry("ca rollover", true), // the ceremony (CA certificates)
            Map.entry("ca list", false), Map.entry("ca revoke", false), Map.entry("config check", false),
            Map.entry("backup", false), Map.entry("restore", false), // copies of the store: nothing issued
            Map.entry("device add", false), Map.entry("device import", false), Map.entry("device list", false), Map.entry("device show", false), Map.entry("device disable", false),
            Map.entry("device enable", false), Map.entry("device revoke", false), Map.entry("device secret", false),
            Map.entry("station add", false), Map.entry("station list", false), Map.entry("station disable", false), Map.entry("station enable", false),
            Map.entry("station certify", true), // a station CA's certificate: the ceremony, with the root key (OfflineStationTest)
            Map.entry("factory export", false), // signs the station's journal, not a certificate
            Map.entry("factory sync", false), // stores certificates a station CA signed, after checking them; signs nothing
            Map.entry("trust add-manufacturer", false), Map.entry("trust list", false), Map.entry("trust remove", false),
            Map.entry("request list", false), Map.entry("request show", false), Map.entry("request reject", false),
            Map.entry("cert list", false), Map.entry("cert show", false), Map.entry("revoke", false),
            Map.entry("crl generate", false), Map.entry("crl show", false), Map.entry("crl fetch", false), Map.entry("crl export", false),
            Map.entry("crl import", false), Map.entry("token create", false), Map.entry("token list", false), Map.entry("token disable", false),
            Map.entry("token enable", false), Map.entry("token revoke", false), Map.entry("export trust-bundle", false),
            Map.entry("operator add", false), Map.entry("operator list", false), Map.entry("operator disable", false),
            Map.entry("operator enable", false), Map.entry("operator password", false), Map.entry("operator unlock", false),
            Map.entry("signer add", true), Map.entry("signer rotate", true), // code-signing certificates, through the authorizer's signer step
            Map.entry("firmware sign", true), // a firmware signature, through the authorizer's firmware step
            Map.entry("factory run", true), // device certificates, through the authorizer's factory-station step (FactoryRunTest)
            Map.entry("cloud verification-cert", true), // a cloud-verification certificate, through the authorizer's operator step
            Map.entry("cloud export", false), Map.entry("webhook list", false), Map.entry("webhook failed", false), Map.entry("webhook retry", false),
            Map.entry("signer list", false), Map.entry("signer revoke", false),
            Map.entry("audit verify", false), Map.entry("audit checkpoint", false), Map.entry("audit head", false), Map.entry("audit list", false),
            Map.entry("help", false)));

    @Test
    void everyCliCommandIsClassifiedAndTheIssuingOnesTakeTheAuthorizationStep() throws Exception {
        Set<String> commands = new TreeSet<>();
        collect(Main.commandLine(null), "", commands);
        assertThat(commands).as("CLI commands, each said to issue or not in CLI_COMMANDS (an issuing one needs rows here)")
                .isEqualTo(CLI_COMMANDS.keySet());
        // issue: a factory station certifies a bare key inside its fleet only; a disabled one not at all
        Path pub = dir.resolve("cli.pub");
        Files.writeString(pub, Pem.encode("PUBLIC KEY", KeyAlgorithm.EC_P256.generate().getPublic().getEncoded()));
        long before = ts.fleet.store().certificates().certificateCount();
        assertThat(Cli.run(ts.home, "issue", "--public-key", pub.toString(), "--device", B, "--station", "line-y").exit()).isEqualTo(77);
        assertThat(Cli.run(ts.home, "issue", "--public-key", pub.toString(), "--device", B, "--station", "line-off").exit()).isEqualTo(77);
        assertThat(Cli.run(ts.home, "issue", "--public-key", pub.toString(), "--device", "mx-w", "--station", "line-x", "--profile", "server-tls")
                .exit()).isEqualTo(77);
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(before);
        assertThat(Cli.run(ts.home, "issue", "--public-key", pub.toString(), "--device", B, "--station", "line-x").exit()).isZero();
        // sign: an operator, for any profile but the ceremony's
        Path csr = dir.resolve("cli.csr");
        Files.writeString(csr, Pem.encode("CERTIFICATE REQUEST", csrDer(B, null)));
        assertThat(Cli.run(ts.home, "sign", "--csr", csr.toString(), "--device", B, "--profile", "sub-ca").exit()).isEqualTo(77);
        assertThat(Cli.run(ts.home, "sign", "--csr", csr.toString(), "--device", B, "--profile", "ocsp-signing").exit()).isEqualTo(77);
        assertThat(Cli.run(ts.home, "sign", "--csr", csr.toString(), "--device", B).exit()).isZero();
        // cloud verification-cert: an operator, for a cloud-verification profile only
        long issuedBefore = ts.fleet.store().certificates().certificateCount();
        assertThat(Cli.run(ts.home, "cloud", "verification-cert", "--code", "ABC123", "--profile", "device").exit()).isNotZero();
        assertThat(Cli.run(ts.home, "cloud", "verification-cert", "--code", "ABC123", "--profile", "sub-ca").exit()).isEqualTo(77);
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(issuedBefore);
        assertThat(Cli.run(ts.home, "cloud", "verification-cert", "--code", "ABC123").exit()).isZero();
        // request approve: an operator's approval issues the pending request's own device and profile
        String id = pendingRequest();
        Cli.Result approved = Cli.run(ts.home, "request", "approve", id);
        assertThat(approved.exit()).as(approved.all()).isZero();
        assertThat(ts.fleet.store().requests().request(id).orElseThrow().serial()).isNotNull();
        // firmware sign: an operator, with a signer, for a model that signer covers; signer add and rotate: code-signing profiles only
        Path image = dir.resolve("cli-image.bin");
        Files.write(image, new byte[] {1, 2, 3, 4});
        Cli.Result other = Cli.run(ts.home, "firmware", "sign", "--signer", "mx-release", "--image", image.toString(), "--version", "1.0.0",
                "--model", "camera", "--format", "cms");
        assertThat(other.exit()).as(other.all()).isEqualTo(77);
        assertThat(dir.resolve("cli-image.manifest.json")).doesNotExist();
        assertThat(Cli.run(ts.home, "firmware", "sign", "--signer", "mx-release", "--image", image.toString(), "--version", "1.0.0",
                "--model", "sensor", "--format", "cms").exit()).isZero();
        assertThat(dir.resolve("cli-image.manifest.json")).exists();
        // factory run: as a station, inside its fleet only, never as a disabled one; nothing stored for a refused row
        Path batch = dir.resolve("cli-batch.jsonl");
        // the key of the 'issue' above: line-x's rerun would find that certificate; the refused stations must not get even its files
        Files.writeString(batch, "{\"id\": \"" + B + "\", \"publicKey\": \"" + Files.readString(pub).replace("\n", "\\n") + "\"}\n");
        long beforeBatch = ts.fleet.store().certificates().certificateCount();
        for (String st : List.of("line-y", "line-off")) {
            Cli.Result refused = Cli.run(ts.home, "factory", "run", "--station", st, "--input", batch.toString(), "--out", dir.resolve("cli-" + st).toString());
            assertThat(refused.exit()).as(st + ": " + refused.all()).isIn(65, 77);
            assertThat(refused.all()).as(st).containsAnyOf("fleet 'camera' only", "not an active factory station");
        }
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(beforeBatch);
        assertThat(dir.resolve("cli-line-y").resolve(B).resolve("chain.pem")).doesNotExist();
        Files.writeString(batch, "{\"id\": \"" + B + "\", \"publicKey\": \"" + Pem.encode("PUBLIC KEY", KeyAlgorithm.EC_P256.generate().getPublic()
                .getEncoded()).replace("\n", "\\n") + "\"}\n");
        Cli.Result batchRun = Cli.run(ts.home, "factory", "run", "--station", "line-x", "--input", batch.toString(), "--out", dir.resolve("cli-x").toString());
        assertThat(batchRun.exit()).as(batchRun.all()).isZero();
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(beforeBatch + 1);
        long certs = ts.fleet.store().certificates().certificateCount();
        assertThat(Cli.run(ts.home, "signer", "rotate", "mx-release", "--profile", "device").exit()).isEqualTo(77);
        assertThat(Cli.run(ts.home, "signer", "add", "mx-other", "--key", "file:signers/mx-other.p8", "--create", "--models", "sensor",
                "--profile", "server-tls").exit()).isEqualTo(77);
        assertThat(ts.home.resolve("signers/mx-other.p8")).doesNotExist();
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(certs);
    }

    /** Every leaf command of this tree by its full name ("device add"). */
    public static void collect(picocli.CommandLine cl, String prefix, Set<String> out) {
        for (var e : cl.getSubcommands().entrySet()) {
            String name = (prefix + " " + e.getKey()).trim();
            if (e.getValue().getSubcommands().isEmpty()) {
                out.add(name);
            } else {
                collect(e.getValue(), name, out);
            }
        }
    }

    private static String basic(String user, String secret) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + secret).getBytes(StandardCharsets.UTF_8));
    }

    private static String abbreviate(String body) {
        return body.length() > 160 ? body.substring(0, 160) + "..." : body;
    }
}
