package dev.fleetpki.cli;

import static dev.fleetpki.cli.RestDevicesTest.assertProblem;
import static dev.fleetpki.cli.RestDevicesTest.json;
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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Certificate requests and certificates over real HTTPS; openssl verifies what comes back. */
class RestCertificatesTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    TestServer ts;
    Path home;
    Fleet fleet;
    HttpClient http;
    String base;
    String issuer;
    String auditor;

    @BeforeEach
    void start() throws Exception {
        ts = TestServer.start(dir, null);
        home = ts.home;
        fleet = ts.fleet;
        http = ts.http;
        base = ts.base;
        issuer = Cli.run(home, "token", "create", "ci", "--role", "issuer").out().trim();
        auditor = Cli.run(home, "token", "create", "audit", "--role", "auditor").out().trim();
        assertThat(Cli.run(home, "device", "add", "sensor-1").exit()).isZero();
    }

    @AfterEach
    void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    HttpResponse<String> call(String method, String path, String token, String json) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + token)
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        if (json != null) {
            b.header("Content-Type", "application/json");
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    String requestJson(Path csr, String device) throws Exception {
        return JSON.writeValueAsString(Map.of("csr", Files.readString(csr), "device", device));
    }

    @Test
    void aCsrBecomesACertificateOpensslVerifiesAndEveryRefusalStoresNothing() throws Exception {
        Path csr = TestHome.opensslCsr(dir, "sensor-1", "ec", "/CN=sensor-1", "-pkeyopt", "ec_paramgen_curve:P-256");
        long before = fleet.store().certificates().certificateCount();
        assertProblem(call("POST", "/api/v1/certificate-requests", auditor, requestJson(csr, "sensor-1")), 403, "has role auditor");
        Path wrongCn = TestHome.opensslCsr(dir, "other", "ec", "/CN=other", "-pkeyopt", "ec_paramgen_curve:P-256");
        assertProblem(call("POST", "/api/v1/certificate-requests", issuer, requestJson(wrongCn, "sensor-1")), 400, "is not the device id");
        assertProblem(call("POST", "/api/v1/certificate-requests", issuer, requestJson(csr, "sensor-9")), 404, "not registered");
        assertProblem(call("POST", "/api/v1/certificate-requests", issuer, "{\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\nAAAA\\n-----END CERTIFICATE REQUEST-----\",\"device\":\"sensor-1\"}"),
                400, "");
        assertProblem(call("POST", "/api/v1/certificate-requests", issuer, "{\"device\":\"sensor-1\"}"), 400, "send exactly one of 'csr'");
        assertThat(fleet.store().certificates().certificateCount()).isEqualTo(before);

        HttpResponse<String> created = call("POST", "/api/v1/certificate-requests", issuer, requestJson(csr, "sensor-1"));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        JsonNode cert = json(created);
        String serial = cert.path("serial").asText();
        assertThat(created.headers().firstValue("Location")).hasValue("/api/v1/certificates/" + serial);
        assertThat(cert.path("status").asText()).isEqualTo("valid");
        assertThat(cert.path("issuedBy").asText()).isEqualTo("token:ci");
        assertThat(cert.path("protocol").asText()).isEqualTo("rest");

        // the chain (leaf, issuing, root) verifies with openssl against the root alone
        Path chain = dir.resolve("chain.pem");
        Files.writeString(chain, cert.path("chainPem").asText());
        Path leaf = dir.resolve("leaf.pem");
        Files.writeString(leaf, cert.path("certificatePem").asText());
        Path root = dir.resolve("root.pem");
        Files.writeString(root, Cli.run(home, "export", "trust-bundle", "--root-only").out());
        assertThat(Proc.ok(dir, "openssl", "verify", "-CAfile", root.toString(), "-untrusted", chain.toString(), leaf.toString())).contains(": OK");

        // reading it back, in every form
        assertThat(json(call("GET", "/api/v1/certificates?device=sensor-1", auditor, null)).path("items")).hasSize(1);
        assertProblem(call("GET", "/api/v1/certificates?expiringWithin=soon", auditor, null), 400, "expiringWithin must be a duration");
        assertThat(json(call("GET", "/api/v1/certificates/" + serial, auditor, null)).path("serial").asText()).isEqualTo(serial);
        assertThat(call("GET", "/api/v1/certificates/" + serial + "/pem", auditor, null).body()).isEqualTo(cert.path("certificatePem").asText());
        assertThat(call("GET", "/api/v1/certificates/" + serial + "/chain", auditor, null).body()).isEqualTo(cert.path("chainPem").asText());
        HttpResponse<byte[]> der = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/certificates/" + serial + "/der"))
                .header("Authorization", "Bearer " + auditor).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(der.body()).isEqualTo(fleet.store().certificates().certificate(serial).orElseThrow().issued().der());
        assertProblem(call("GET", "/api/v1/certificates/00ff", auditor, null), 404, "no certificate with serial 00ff");

        // revocation
        assertProblem(call("POST", "/api/v1/certificates/" + serial + "/revoke", auditor, "{\"reason\":\"keyCompromise\"}"), 403, "has role auditor");
        assertProblem(call("POST", "/api/v1/certificates/" + serial + "/revoke", issuer, "{\"reason\":\"tired\"}"), 400, "unknown revocation reason");
        JsonNode revoked = json(call("POST", "/api/v1/certificates/" + serial + "/revoke", issuer, "{\"reason\":\"keyCompromise\"}"));
        assertThat(revoked.path("status").asText()).isEqualTo("revoked");
        assertThat(revoked.path("revocationReason").asText()).isEqualTo("key-compromise");
        assertProblem(call("POST", "/api/v1/certificates/" + serial + "/revoke", issuer, "{\"reason\":\"keyCompromise\"}"), 409, "already revoked");

        // Prometheus metrics, unauthenticated: issuance count and latency by profile and protocol, refusals by reason
        String metrics = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).containsPattern("fleetpki_issuance_seconds_count\\{profile=\"device\",protocol=\"rest\"} 1(\\.0)?\\n");
        assertThat(metrics).contains("fleetpki_issuance_seconds_bucket{profile=\"device\",protocol=\"rest\",le=");
        assertThat(metrics).containsPattern("fleetpki_refusals_total\\{profile=\"device\",protocol=\"rest\",reason=\"name-mismatch\"} 1(\\.0)?\\n");
        assertThat(metrics).containsPattern("fleetpki_refusals_total\\{profile=\"device\",protocol=\"rest\",reason=\"not-found\"} 1(\\.0)?\\n");
        assertThat(metrics).containsPattern("fleetpki_refusals_total\\{profile=\"device\",protocol=\"rest\",reason=\"malformed-request\"} 2(\\.0)?\\n");

        String audit = Cli.run(home, "audit", "list", "--last", "20").out();
        assertThat(audit).containsPattern("token:ci\\s+certificate\\.issue\\s+device:sensor-1");
        assertThat(audit).containsPattern("token:ci\\s+certificate\\.refuse");
        assertThat(audit).containsPattern("token:ci\\s+certificate\\.revoke\\s+serial:" + serial);
        assertThat(Cli.run(home, "audit", "verify").exit()).isZero();
    }
}
