package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * REST enrollment with Java's HttpClient: a device's one-time secret made through the API and
 * used as a bearer token, a manufacturer certificate whose request waits (202, Location, 409)
 * until an operator approves it through the API, an operator authenticating with a client
 * certificate, and a factory station issuing from a bare public key.
 */
class RestEnrollmentTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;
    TestServer ts;

    @AfterEach
    void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    private HttpClient client(Path cert, Path key) throws Exception {
        return ts.clientWith(cert, key);
    }

    private HttpResponse<String> send(HttpClient http, String method, String path, String bearer, String json) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(ts.base + path))
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        if (bearer != null) {
            b.header("Authorization", "Bearer " + bearer);
        }
        if (json != null) {
            b.header("Content-Type", "application/json");
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private String csrJson(String name, String cn) throws Exception {
        Path csr = TestHome.opensslCsr(dir, name, "ec", "/CN=" + cn, "-pkeyopt", "ec_paramgen_curve:P-256");
        return JSON.writeValueAsString(Map.of("csr", Files.readString(csr)));
    }

    private Path selfSigned(String name, String subject) {
        Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
                "-keyout", dir.resolve(name + ".key").toString(), "-out", dir.resolve(name + ".pem").toString(), "-subj", subject,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature");
        return dir.resolve(name + ".pem");
    }

    @Test
    void secretFromTheApiPendingRequestApprovedThroughTheApiAndOperatorCertificates() throws Exception {
        ts = TestServer.start(dir, null);
        String issuer = Cli.run(ts.home, "token", "create", "ops", "--role", "issuer").out().trim();
        assertThat(send(ts.http, "POST", "/api/v1/devices", issuer, "{\"id\":\"rest-1\",\"model\":\"sensor\"}").statusCode()).isEqualTo(201);

        // 1. a one-time secret made through the API, used as a bearer token: once
        HttpResponse<String> sec = send(ts.http, "POST", "/api/v1/devices/rest-1/enrollment-secret?expiresIn=1h", issuer, null);
        assertThat(sec.statusCode()).as(sec.body()).isEqualTo(201);
        String secret = JSON.readTree(sec.body()).path("secret").asText();
        assertThat(secret).startsWith("fpe_");
        assertThat(send(ts.http, "POST", "/api/v1/certificate-requests", secret, csrJson("r1", "rest-2")).statusCode()).isEqualTo(400);
        Path other = TestHome.opensslCsr(dir, "r1o", "ec", "/CN=rest-2", "-pkeyopt", "ec_paramgen_curve:P-256");
        HttpResponse<String> forB = send(ts.http, "POST", "/api/v1/certificate-requests", secret,
                JSON.writeValueAsString(Map.of("csr", Files.readString(other), "device", "rest-2")));
        assertThat(forB.statusCode()).isEqualTo(403);
        assertThat(forB.body()).contains("may enroll only device 'rest-1'");
        HttpResponse<String> issued = send(ts.http, "POST", "/api/v1/certificate-requests", secret, csrJson("r1b", "rest-1"));
        assertThat(issued.statusCode()).as(issued.body()).isEqualTo(201);
        assertThat(JSON.readTree(issued.body()).path("issuedBy").asText()).isEqualTo("device:rest-1");
        assertThat(send(ts.http, "POST", "/api/v1/certificate-requests", secret, csrJson("r1c", "rest-1")).statusCode()).isEqualTo(401);

        // 2. a manufacturer certificate for a device nobody registered: 202 + Location, 409 for another CSR, approve via the API
        Path vendorCa = selfSigned("vendor", "/CN=Vendor Root");
        assertThat(Cli.run(ts.home, "trust", "add-manufacturer", vendorCa.toString(), "--map", "serial-number", "--fleet", "*").exit()).isZero();
        Path idevCsr = TestHome.opensslCsr(dir, "idev", "ec", "/O=Vendor/serialNumber=SN-0042/CN=board", "-pkeyopt", "ec_paramgen_curve:P-256");
        Path idev = dir.resolve("idev.pem");
        Proc.ok(dir, "openssl", "x509", "-req", "-in", idevCsr.toString(), "-CA", vendorCa.toString(), "-CAkey", dir.resolve("vendor.key").toString(),
                "-CAcreateserial", "-days", "30", "-out", idev.toString());
        HttpClient device = client(idev, dir.resolve("idev.key"));
        String body = csrJson("sn42", "SN-0042");
        HttpResponse<String> pending = send(device, "POST", "/api/v1/certificate-requests", null, body);
        assertThat(pending.statusCode()).as(pending.body()).isEqualTo(202);
        String location = pending.headers().firstValue("Location").orElseThrow();
        assertThat(location).startsWith("/api/v1/certificate-requests/");
        assertThat(JSON.readTree(pending.body()).path("status").asText()).isEqualTo("pending");
        HttpResponse<String> conflict = send(device, "POST", "/api/v1/certificate-requests", null, csrJson("sn42b", "SN-0042"));
        assertThat(conflict.statusCode()).isEqualTo(409);
        assertThat(conflict.headers().firstValue("Location")).contains(location);
        // the device polls with its own credential; an auditor lists the pending ones
        assertThat(JSON.readTree(send(device, "GET", location, null, null).body()).path("status").asText()).isEqualTo("pending");
        JsonNode list = JSON.readTree(send(ts.http, "GET", "/api/v1/certificate-requests?status=pending", issuer, null).body());
        assertThat(list.path("items")).hasSize(1);
        HttpResponse<String> approved = send(ts.http, "POST", location + "/approve", issuer, null);
        assertThat(approved.statusCode()).as(approved.body()).isEqualTo(200);
        JsonNode polled = JSON.readTree(send(device, "GET", location, null, null).body());
        assertThat(polled.path("status").asText()).isEqualTo("issued");
        assertThat(polled.path("certificatePem").asText()).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(send(ts.http, "POST", location + "/reject", issuer, null).statusCode()).isEqualTo(409);
        // the device's versions: the approved certificate is its current one
        JsonNode dev = JSON.readTree(send(ts.http, "GET", "/api/v1/devices/SN-0042", issuer, null).body());
        assertThat(dev.path("certificates").get(0).path("current").asBoolean()).isTrue();
        assertThat(dev.path("certificates").get(0).path("serial").asText()).isEqualTo(polled.path("serial").asText());

        // 3. an operator with a client certificate instead of a bearer token (auditor: may read, may not revoke)
        Path op = selfSigned("alice", "/CN=alice");
        Cli.Result reg = Cli.run(ts.home, "token", "create", "alice", "--role", "auditor", "--client-cert", op.toString());
        assertThat(reg.exit()).as(reg.all()).isZero();
        assertThat(reg.out()).doesNotContain("fpk_");
        HttpClient alice = client(op, dir.resolve("alice.key"));
        assertThat(send(alice, "GET", "/api/v1/certificates", null, null).statusCode()).isEqualTo(200);
        assertThat(send(alice, "POST", "/api/v1/certificates/" + polled.path("serial").asText() + "/revoke", null, null).statusCode()).isEqualTo(403);
        HttpClient stranger = client(selfSigned("mallory", "/CN=mallory"), dir.resolve("mallory.key"));
        HttpResponse<String> unknown = send(stranger, "GET", "/api/v1/certificates", null, null);
        assertThat(unknown.statusCode()).isEqualTo(401);
        assertThat(unknown.body()).contains("not an operator's");
        assertThat(send(ts.http, "GET", "/api/v1/certificates", null, null).statusCode()).isEqualTo(401);

        // 4. a factory station issues from a bare public key; a device secret may not
        Path station = selfSigned("station", "/CN=line-7");
        assertThat(Cli.run(ts.home, "station", "add", "line-7", "--certificate", station.toString(), "--fleet", "*").exit()).isZero();
        Proc.ok(dir, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", dir.resolve("bare.key").toString());
        String pub = Proc.ok(dir, "openssl", "pkey", "-in", dir.resolve("bare.key").toString(), "-pubout");
        String bare = JSON.writeValueAsString(Map.of("publicKey", pub, "device", "rest-1"));
        HttpResponse<String> fromKey = send(client(station, dir.resolve("station.key")), "POST", "/api/v1/certificate-requests", null, bare);
        assertThat(fromKey.statusCode()).as(fromKey.body()).isEqualTo(201);
        assertThat(JSON.readTree(fromKey.body()).path("proofOfPossession").asBoolean()).isFalse();
        assertThat(JSON.readTree(fromKey.body()).path("issuedBy").asText()).isEqualTo("station:line-7");
        String secret2 = JSON.readTree(send(ts.http, "POST", "/api/v1/devices/rest-1/enrollment-secret", issuer, null).body()).path("secret").asText();
        HttpResponse<String> deviceBare = send(ts.http, "POST", "/api/v1/certificate-requests", secret2, bare);
        assertThat(deviceBare.statusCode()).isEqualTo(403);
        assertThat(deviceBare.body()).contains("only to a factory station");
        assertThat(Cli.run(ts.home, "audit", "verify").exit()).isZero();
    }
}
