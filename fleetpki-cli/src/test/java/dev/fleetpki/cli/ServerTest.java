package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.server.FleetServer;
import dev.fleetpki.server.ServerIdentity;
import dev.fleetpki.server.Services;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTPS server on a free loopback port, with Java's HttpClient and curl as clients. */
class ServerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String HOST = "pki.fleet.example";

    @TempDir
    Path dir;

    @Test
    void servesHealthCasAndOpenApiOverTls12And13WithProblemDetails() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        Path rootPem = dir.resolve("root.pem");
        Files.writeString(rootPem, Cli.run(home, "export", "trust-bundle").out());
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            Services s = Services.of(f.config(), f.store(), f.cas(), f.pipeline(), f.clock());
            ServerIdentity.Loaded tls = ServerIdentity.ensure(s, HOST, dev.fleetpki.core.Actor.operator("test"));
            assertThat(tls.issued()).isTrue();
            // the server's certificate is an ordinary issued certificate of a registered server
            assertThat(f.store().devices().deviceNow(HOST)).hasValueSatisfying(d -> assertThat(d.model()).isEqualTo("fleetpki-server"));
            assertThat(f.store().certificates().certificates(HOST, f.clock().instant(), null, 10)).extracting(c -> c.issued().profile()).containsExactly("server-tls");

            try (FleetServer server = FleetServer.start(s, tls, "127.0.0.1", 0)) {
                String base = "https://127.0.0.1:" + server.port();
                HttpClient http = HttpClient.newBuilder().sslContext(trusting(f.store().ca("root").orElseThrow().certificate())).build();

                HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(base + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(health.statusCode()).isEqualTo(200);
                assertThat(JSON.readTree(health.body()).path("status").asText()).isEqualTo("ok");
                assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/readyz")).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
                        .isEqualTo(200);

                JsonNode cas = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/cas")).build(),
                        HttpResponse.BodyHandlers.ofString()).body());
                List<String> names = new ArrayList<>();
                cas.forEach(c -> names.add(c.path("name").asText()));
                assertThat(names).contains("root", "issuing");

                X509Certificate issuing = f.store().ca("issuing").orElseThrow().certificate();
                HttpResponse<byte[]> pem = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/cas/issuing/certificate")).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertThat(pem.headers().firstValue("Content-Type").orElse("")).startsWith("application/pem-certificate-chain");
                assertThat(parse(pem.body())).isEqualTo(issuing);
                HttpResponse<byte[]> der = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/cas/issuing/certificate"))
                        .header("Accept", "application/pkix-cert").build(), HttpResponse.BodyHandlers.ofByteArray());
                assertThat(der.body()).isEqualTo(issuing.getEncoded());

                HttpResponse<String> missing = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/cas/nope")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(missing.statusCode()).isEqualTo(404);
                assertThat(missing.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
                JsonNode problem = JSON.readTree(missing.body());
                assertThat(problem.path("status").asInt()).isEqualTo(404);
                assertThat(problem.path("detail").asText()).isEqualTo("no CA named 'nope'; list them at /api/v1/cas");
                HttpResponse<String> noRoute = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v2/things")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(noRoute.statusCode()).isEqualTo(404);
                assertThat(JSON.readTree(noRoute.body()).path("detail").asText()).contains("/api/v1/openapi.json");

                // the OpenAPI document describes every route served
                JsonNode paths = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/openapi.json")).build(),
                        HttpResponse.BodyHandlers.ofString()).body()).path("paths");
                assertThat(paths.has("/healthz") && paths.has("/readyz") && paths.has("/api/v1/cas") && paths.has("/api/v1/cas/{name}")
                        && paths.has("/api/v1/cas/{name}/certificate") && paths.has("/api/v1/openapi.json") && paths.has("/api/v1/devices")
                        && paths.path("/api/v1/devices").has("post") && paths.path("/api/v1/devices").has("get") && paths.has("/api/v1/devices/{id}")
                        && paths.has("/api/v1/devices/{id}/disable") && paths.has("/api/v1/certificate-requests") && paths.has("/api/v1/certificates")
                        && paths.has("/api/v1/certificates/{serial}") && paths.has("/api/v1/certificates/{serial}/pem")
                        && paths.has("/api/v1/certificates/{serial}/chain") && paths.has("/api/v1/certificates/{serial}/der")
                        && paths.has("/api/v1/certificates/{serial}/revoke") && paths.has("/metrics")
                        && paths.path("/api/v1/certificate-requests").has("get") && paths.has("/api/v1/certificate-requests/{id}")
                        && paths.has("/api/v1/certificate-requests/{id}/approve") && paths.has("/api/v1/certificate-requests/{id}/reject")
                        && paths.has("/api/v1/devices/{id}/enrollment-secret")).isTrue();

                // a real client: curl verifies the chain up to the root, over TLS 1.2 and 1.3; TLS 1.1 is refused
                String url = base + "/healthz";
                assertThat(Proc.run(dir, java.util.Map.of(), "curl", "-sS", "--cacert", rootPem.toString(), "--tlsv1.2", "--tls-max", "1.2", url).output())
                        .contains("\"ok\"");
                assertThat(Proc.run(dir, java.util.Map.of(), "curl", "-sS", "--cacert", rootPem.toString(), "--tlsv1.3", url).output()).contains("\"ok\"");
                // TLS 1.1 is refused by the server itself: ServerHardeningTest (curl here cannot even offer it, so it proved nothing)
                // TLS 1.2 with forward secrecy and AEAD only: ECDHE + AES-GCM is accepted, CBC is not (both offered with the
                // server's ECDSA key, so only the server's suite list decides); no static-RSA suite is configured at all
                assertThat(Proc.run(dir, java.util.Map.of(), "curl", "-sS", "--cacert", rootPem.toString(), "--tlsv1.2", "--tls-max", "1.2",
                        "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256", url).output()).contains("\"ok\"");
                assertThat(dev.fleetpki.server.FleetServer.cipherSuites()).allMatch(c -> c.startsWith("TLS_ECDHE_") || !c.contains("_WITH_"));
                for (String weak : List.of("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384")) {
                    Proc.Result r = Proc.run(dir, java.util.Map.of(), "curl", "-sS", "--cacert", rootPem.toString(), "--tlsv1.2", "--tls-max", "1.2",
                            "--ciphers", weak, url);
                    assertThat(r.exit()).as(weak + ": " + r.output()).isNotZero();
                    assertThat(r.output()).as(weak).doesNotContain("\"ok\"");
                }
            }

            // a restart keeps the identity while it is fresh
            ServerIdentity.Loaded again = ServerIdentity.ensure(s, HOST, dev.fleetpki.core.Actor.operator("test"));
            assertThat(again.issued()).isFalse();
            assertThat(again.certificate()).isEqualTo(tls.certificate());
            // another host name gets its own certificate, then keeps it
            ServerIdentity.Loaded other = ServerIdentity.ensure(s, HOST.replace("pki.", "pki.eu."), dev.fleetpki.core.Actor.operator("test"));
            assertThat(other.issued()).isTrue();
            assertThat(ServerIdentity.ensure(s, HOST.replace("pki.", "pki.eu."), dev.fleetpki.core.Actor.operator("test")).issued()).isFalse();
        }
    }

    static SSLContext trusting(X509Certificate root) throws Exception {
        return TestTls.trusting(root);
    }

    static X509Certificate parse(byte[] pemOrDer) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(pemOrDer));
    }
}
