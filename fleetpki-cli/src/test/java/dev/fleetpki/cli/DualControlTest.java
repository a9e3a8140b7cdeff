package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.EnrollmentRequest;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Four eyes: with {@code dualControl: [request-approve, ca-revoke, signer-revoke]}, the first
 * operator's call is recorded and changes nothing (202; the CLI exits 75), the same operator
 * again is refused, a second call asking for something else is refused, and a second operator's
 * same call does it, with both names in the audit log. Over the API, the console and the CLI.
 */
class DualControlTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir static Path dir;
    static TestServer ts;

    @BeforeAll
    static void start() throws Exception {
        ts = TestServer.start(dir, null, """
                enrollment:
                  fleets:
                    pend:
                      accept: []
                      otherwise: pending
                dualControl: [request-approve, ca-revoke, signer-revoke]
                """);
    }

    @AfterAll
    static void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    static String token(String name, String role) {
        Cli.Result t = Cli.run(ts.home, "token", "create", name, "--role", role);
        assertThat(t.exit()).as(t.all()).isZero();
        return t.out().trim();
    }

    static HttpResponse<String> post(String path, String token, String body) throws Exception {
        return ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + path)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A request of a new device of the 'pend' fleet, kept for an operator. */
    static String pendingRequest(String device) throws Exception {
        Cli.Result added = Cli.run(ts.home, "device", "add", device, "--model", "pend", "--enrollment-secret");
        assertThat(added.exit()).as(added.all()).isZero();
        String[] lines = added.out().trim().split("\n");
        EstCurl curl = EstCurl.of(ts, dir);
        curl.est("/simpleenroll", curl.csr(device, device), "-u " + device + ":" + lines[lines.length - 1]);
        return ts.fleet.store().requests().pendingRequest(device, "device").orElseThrow().id();
    }

    static EnrollmentRequest.Status status(String id) {
        return ts.fleet.store().requests().request(id).orElseThrow().status();
    }

    @Test
    void aSecondOperatorConfirmsWhatTheFirstApproved() throws Exception {
        String approver = token("dc-approver", "approver");
        String issuer = token("dc-issuer", "issuer");
        String adminA = token("dc-admin-a", "admin");
        String adminB = token("dc-admin-b", "admin");

        // a request: the approver's approval is recorded, nothing issued; twice is refused; the issuer's issues
        String id = pendingRequest("dc-dev-1");
        HttpResponse<String> first = post("/api/v1/certificate-requests/" + id + "/approve", approver, "{}");
        assertThat(first.statusCode()).as(first.body()).isEqualTo(202);
        JsonNode f = JSON.readTree(first.body());
        assertThat(f.path("status").asText()).isEqualTo("awaiting-second-operator");
        assertThat(f.path("firstBy").asText()).isEqualTo("token:dc-approver");
        assertThat(status(id)).isEqualTo(EnrollmentRequest.Status.PENDING);
        HttpResponse<String> again = post("/api/v1/certificate-requests/" + id + "/approve", approver, "{}");
        assertThat(again.statusCode()).isEqualTo(409);
        assertThat(again.body()).contains("a second, different operator");
        assertThat(status(id)).isEqualTo(EnrollmentRequest.Status.PENDING);
        HttpResponse<String> second = post("/api/v1/certificate-requests/" + id + "/approve", issuer, "{}");
        assertThat(second.statusCode()).as(second.body()).isEqualTo(200);
        assertThat(status(id)).isEqualTo(EnrollmentRequest.Status.ISSUED);
        Cli.Result audit = Cli.run(ts.home, "audit", "list", "--last", "20", "--json");
        assertThat(audit.out()).contains("dual-control.first").contains("dual-control.second").contains("\"first\":\"token:dc-approver\"");

        // the CLI: recorded (exit 75), the same operator refused, another operator approves
        String id2 = pendingRequest("dc-dev-2");
        Cli.Result c1 = Cli.run(ts.home, "request", "approve", id2, "--operator", "alice");
        assertThat(c1.exit()).as(c1.all()).isEqualTo(75);
        assertThat(c1.out()).contains("Recorded").contains("a second operator must make the same request");
        assertThat(status(id2)).isEqualTo(EnrollmentRequest.Status.PENDING);
        assertThat(Cli.run(ts.home, "request", "approve", id2, "--operator", "alice").exit()).isEqualTo(65);
        Cli.Result c2 = Cli.run(ts.home, "request", "approve", id2, "--operator", "bob");
        assertThat(c2.exit()).as(c2.all()).isZero();
        assertThat(status(id2)).isEqualTo(EnrollmentRequest.Status.ISSUED);

        // a signer: the second admin must ask for the same reason
        Cli.Result signer = Cli.run(ts.home, "signer", "add", "dc-release", "--key", "file:signers/dc-release.p8", "--create", "--models", "sensor");
        assertThat(signer.exit()).as(signer.all()).isZero();
        assertThat(post("/api/v1/signers/dc-release/revoke", adminA, "{\"reason\": \"key-compromise\"}").statusCode()).isEqualTo(202);
        HttpResponse<String> other = post("/api/v1/signers/dc-release/revoke", adminB, "{\"reason\": \"superseded\"}");
        assertThat(other.statusCode()).isEqualTo(409);
        assertThat(other.body()).contains("asked for reason=key-compromise");
        assertThat(ts.fleet.store().signers().signer("dc-release").orElseThrow().status().name()).isEqualTo("ACTIVE");
        HttpResponse<String> revoked = post("/api/v1/signers/dc-release/revoke", adminB, "{\"reason\": \"key-compromise\"}");
        assertThat(revoked.statusCode()).as(revoked.body()).isEqualTo(200);
        assertThat(ts.fleet.store().signers().signer("dc-release").orElseThrow().status().name()).isEqualTo("REVOKED");

        // a CA, from the console: the first admin's click is shown waiting on the CAs page; the second's revokes it
        String[] sessionA = ConsoleTest.signIn(ts, dir, "dc-ada", "admin");
        String[] sessionB = ConsoleTest.signIn(ts, dir, "dc-bea", "admin");
        assertThat(ConsoleTest.get(ts, "/console/cas", sessionA).body()).contains("Revoke CA");
        HttpResponse<String> caFirst = ConsoleTest.post(ts, "/api/v1/cas/issuing/revoke", sessionA, sessionA[1], null, "{\"reason\": \"superseded\"}");
        assertThat(caFirst.statusCode()).as(caFirst.body()).isEqualTo(202);
        assertThat(JSON.readTree(caFirst.body()).path("detail").asText()).contains("a second operator must make the same request");
        assertThat(ts.fleet.store().revocation().caRevokedAt("issuing")).isEmpty();
        assertThat(ConsoleTest.get(ts, "/console/cas", sessionB).body()).contains("revocation approved once by operator:dc-ada");
        HttpResponse<String> caSecond = ConsoleTest.post(ts, "/api/v1/cas/issuing/revoke", sessionB, sessionB[1], null, "{\"reason\": \"superseded\"}");
        assertThat(caSecond.statusCode()).as(caSecond.body()).isEqualTo(200);
        assertThat(ts.fleet.store().revocation().caRevokedAt("issuing")).isPresent();
        assertThat(JSON.readTree(caSecond.body()).path("crl").path("ca").asText()).isEqualTo("root");
        // the root's new CRL lists the issuing CA, as openssl reads it
        Path crl = dir.resolve("root.crl");
        java.nio.file.Files.write(crl, ts.fleet.store().revocation().crl("root", 0).orElseThrow().der());
        String text = Proc.ok(dir, "openssl", "crl", "-inform", "DER", "-in", crl.toString(), "-noout", "-text");
        String issuingSerial = ts.fleet.store().ca("issuing").orElseThrow().certificate().getSerialNumber().toString(16).toUpperCase(java.util.Locale.ROOT);
        assertThat(text.toUpperCase(java.util.Locale.ROOT)).contains(issuingSerial).contains("SUPERSEDED");
    }
}
