package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The devices API over real HTTPS, with tokens made by the CLI. */
class RestDevicesTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    TestServer ts;
    Path home;
    Fleet fleet;
    HttpClient http;
    String base;

    @BeforeEach
    void start() throws Exception {
        ts = TestServer.start(dir, null);
        home = ts.home;
        fleet = ts.fleet;
        http = ts.http;
        base = ts.base;
    }

    @AfterEach
    void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    String token(String name, String role) {
        Cli.Result r = Cli.run(home, "token", "create", name, "--role", role);
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out().trim()).startsWith("fpk_");
        return r.out().trim();
    }

    HttpResponse<String> send(String method, String path, String token, String contentType, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    static void assertProblem(HttpResponse<String> r, int status, String detailContains) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
        assertThat(json(r).path("status").asInt()).isEqualTo(status);
        assertThat(json(r).path("detail").asText()).contains(detailContains);
    }

    @Test
    void tokensAuthenticateAndRolesDecide() throws Exception {
        String issuer = token("ci", "issuer");
        String auditor = token("audit", "auditor");
        String old = token("old", "issuer");
        assertThat(Cli.run(home, "token", "revoke", "old").exit()).isZero();

        HttpResponse<String> none = send("GET", "/api/v1/devices", null, null, null);
        assertProblem(none, 401, "Authorization: Bearer");
        assertThat(none.headers().firstValue("WWW-Authenticate").orElse("")).startsWith("Bearer");
        assertProblem(send("GET", "/api/v1/devices", "fpk_0000000000000000_" + "A".repeat(43), null, null), 401, "unknown, revoked or expired");
        assertProblem(send("GET", "/api/v1/devices", "not-a-token", null, null), 401, "unknown, revoked or expired");
        assertProblem(send("GET", "/api/v1/devices", old, null, null), 401, "unknown, revoked or expired");
        // the right id with a wrong secret is refused the same way
        // fpk_ + 16 hex id + _ = 21 characters, then the secret (which may itself contain '_')
        String forged = issuer.substring(0, 21) + "B".repeat(43);
        assertProblem(send("GET", "/api/v1/devices", forged, null, null), 401, "unknown, revoked or expired");

        assertThat(send("GET", "/api/v1/devices", auditor, null, null).statusCode()).isEqualTo(200);
        assertProblem(send("POST", "/api/v1/devices", auditor, "application/json", "{\"id\":\"x-1\"}"), 403, "token 'audit' has role auditor");
        assertThat(fleet.store().devices().deviceNow("x-1")).isEmpty();

        // tokens are stored hashed: the token text is nowhere in the database
        assertThat(fleet.store().credentials().tokens()).extracting(t -> t.secretHash()).noneMatch(h -> issuer.contains(h));
        assertThat(Cli.run(home, "token", "list").out()).contains("ci", "issuer", "active").contains("old").contains("revoked")
                .doesNotContain(issuer.substring(21));
    }

    @Test
    void createListPageShowDisableAudited() throws Exception {
        String issuer = token("ci", "issuer");
        HttpResponse<String> created = send("POST", "/api/v1/devices", issuer, "application/json",
                "{\"id\":\"d-a\",\"model\":\"m1\",\"tags\":{\"line\":\"3\"},\"keyLocation\":\"se:0\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(created.headers().firstValue("Location")).hasValue("/api/v1/devices/d-a");
        assertThat(json(created).path("status").asText()).isEqualTo("active");
        assertThat(json(created).path("tags").path("line").asText()).isEqualTo("3");
        for (String id : List.of("d-b", "d-c")) {
            assertThat(send("POST", "/api/v1/devices", issuer, "application/json", "{\"id\":\"" + id + "\",\"model\":\"m1\"}").statusCode())
                    .isEqualTo(201);
        }

        assertProblem(send("POST", "/api/v1/devices", issuer, "application/json", "{\"id\":\"d-a\"}"), 409, "already registered");
        assertProblem(send("POST", "/api/v1/devices", issuer, "application/json", "{\"id\":\"bad id\"}"), 400, "is not valid");
        assertProblem(send("POST", "/api/v1/devices", issuer, "application/json", "{\"id\":"), 400, "not valid JSON");
        assertProblem(send("POST", "/api/v1/devices", issuer, "text/plain", "{\"id\":\"d-z\"}"), 415, "Content-Type: application/json");
        assertProblem(send("POST", "/api/v1/devices", issuer, "application/json", "{\"id\":\"d-y\",\"model\":\"" + "x".repeat(70_000) + "\"}"),
                413, "larger than");
        assertThat(fleet.store().devices().deviceNow("d-z")).isEmpty();
        assertThat(fleet.store().devices().deviceNow("d-y")).isEmpty();

        // keyset paging with a filter
        List<String> seen = new ArrayList<>();
        String next = "/api/v1/devices?model=m1&limit=2";
        int pages = 0;
        while (next != null && pages++ < 5) {
            JsonNode page = json(send("GET", next, issuer, null, null));
            page.path("items").forEach(d -> seen.add(d.path("id").asText()));
            next = page.path("next").isNull() ? null : page.path("next").asText();
        }
        assertThat(seen).containsExactly("d-a", "d-b", "d-c");
        assertThat(pages).isEqualTo(2);
        assertProblem(send("GET", "/api/v1/devices?limit=0", issuer, null, null), 400, "limit must be a number from 1 to 500");
        assertProblem(send("GET", "/api/v1/devices?status=sleeping", issuer, null, null), 400, "status must be active, disabled or revoked");

        // show lists the device's certificates
        Path csr = TestHome.opensslCsr(dir, "d-a", "ec", "/CN=d-a", "-pkeyopt", "ec_paramgen_curve:P-256");
        assertThat(Cli.run(home, "sign", "--csr", csr.toString(), "--device", "d-a").exit()).isZero();
        JsonNode shown = json(send("GET", "/api/v1/devices/d-a", issuer, null, null));
        assertThat(shown.path("keyLocation").asText()).isEqualTo("se:0");
        assertThat(shown.path("certificates")).hasSize(1);
        assertThat(shown.path("certificates").get(0).path("status").asText()).isEqualTo("valid");
        assertProblem(send("GET", "/api/v1/devices/nope", issuer, null, null), 404, "device 'nope' is not registered");

        // disable, then the filter finds it, and issuance to it is refused
        JsonNode disabled = json(send("POST", "/api/v1/devices/d-b/disable", issuer, null, null));
        assertThat(disabled.path("status").asText()).isEqualTo("disabled");
        JsonNode onlyDisabled = json(send("GET", "/api/v1/devices?status=disabled", issuer, null, null));
        assertThat(onlyDisabled.path("items")).hasSize(1);
        assertThat(onlyDisabled.path("items").get(0).path("id").asText()).isEqualTo("d-b");
        Path csrB = TestHome.opensslCsr(dir, "d-b", "ec", "/CN=d-b", "-pkeyopt", "ec_paramgen_curve:P-256");
        assertThat(Cli.run(home, "sign", "--csr", csrB.toString(), "--device", "d-b").exit()).isEqualTo(77);

        // every change is audited with the token that made it
        String audit = Cli.run(home, "audit", "list", "--last", "50").out();
        assertThat(audit).containsPattern("token:ci\\s+device\\.add\\s+device:d-a");
        assertThat(audit).containsPattern("token:ci\\s+device\\.disable\\s+device:d-b");
        assertThat(Cli.run(home, "audit", "verify").exit()).isZero();
    }

    @Test
    void deviceIdsWithSlashesColonsAndAtSignsWorkThroughTheirLocation() throws Exception {
        String issuer = token("ci", "issuer");
        for (String id : List.of("acme/line-3/0042", "urn:dev:0042", "sensor@site-1")) {
            HttpResponse<String> created = send("POST", "/api/v1/devices", issuer, "application/json", "{\"id\":\"" + id + "\"}");
            assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
            String location = created.headers().firstValue("Location").orElseThrow();
            assertThat(location).as("the id is one encoded path segment").matches("/api/v1/devices/[^/]+");
            HttpResponse<String> shown = send("GET", location, issuer, null, null);
            assertThat(shown.statusCode()).as(id + ": " + shown.body()).isEqualTo(200);
            assertThat(json(shown).path("id").asText()).isEqualTo(id);
            HttpResponse<String> secret = send("POST", location + "/enrollment-secret", issuer, null, null);
            assertThat(secret.statusCode()).as(id + ": " + secret.body()).isEqualTo(201);
            assertThat(json(secret).path("device").asText()).isEqualTo(id);
            HttpResponse<String> disabled = send("POST", location + "/disable", issuer, null, null);
            assertThat(disabled.statusCode()).as(id + ": " + disabled.body()).isEqualTo(200);
            assertThat(fleet.store().devices().deviceNow(id).orElseThrow().status().name()).isEqualTo("DISABLED");
        }
        assertProblem(send("GET", "/api/v1/devices/acme%2Fline-3%2F0099", issuer, null, null), 404, "device 'acme/line-3/0099' is not registered");
    }
}
