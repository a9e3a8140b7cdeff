package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.AuditAction;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code POST /api/v1/firmware/signatures} on a running server: the image streamed in and (for
 * MCUboot) the signed image streamed out, checked by the independent MCUboot verifier and
 * {@code openssl cms}; the digest-only mode, and what the audit record says of it; bad requests.
 */
class FirmwareApiTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir static Path dir;
    static TestServer ts;
    static String token;

    @BeforeAll
    static void start() throws Exception {
        ts = TestServer.start(dir, null);
        Cli.Result s = Cli.run(ts.home, "signer", "add", "release", "--key", "file:signers/release.p8", "--create", "--models", "sensor-v2",
                "--out", dir.resolve("release.pem").toString());
        assertThat(s.exit()).as(s.all()).isZero();
        Cli.Result t = Cli.run(ts.home, "token", "create", "ci", "--role", "firmware-signer", "--signers", "release", "--models", "sensor-v2");
        assertThat(t.exit()).as(t.all()).isZero();
        token = t.out().trim();
    }

    @AfterAll
    static void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    static HttpResponse<InputStream> post(String query, HttpRequest.BodyPublisher body, String type) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(ts.base + "/api/v1/firmware/signatures?" + query))
                .header("Authorization", "Bearer " + token).POST(body);
        if (type != null) {
            b.header("Content-Type", type);
        }
        return ts.http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
    }

    static String body(HttpResponse<InputStream> r) throws Exception {
        try (InputStream in = r.body()) {
            return new String(in.readAllBytes());
        }
    }

    @Test
    void aLargeImageIsStreamedInAndItsSignedMcubootImageOut() throws Exception {
        Path image = dir.resolve("big.bin");
        byte[] chunk = new byte[1 << 20];
        new Random(7).nextBytes(chunk);
        try (var out = Files.newOutputStream(image)) {
            for (int i = 0; i < 16; i++) { // 16 MB: larger than any buffer on the way, small enough for a unit test's time
                out.write(chunk);
            }
        }
        HttpResponse<InputStream> r = post("signer=release&model=sensor-v2&version=2.1.0&format=mcuboot&padHeader=true&securityCounter=5",
                HttpRequest.BodyPublishers.ofFile(image), "application/octet-stream");
        Path signed = dir.resolve("big.signed.bin");
        try (InputStream in = r.body()) {
            Files.copy(in, signed);
        }
        assertThat(r.statusCode()).as(Files.size(signed) < 2000 ? Files.readString(signed) : "").isEqualTo(201);
        assertThat(Files.size(signed)).isGreaterThan(Files.size(image) + 0x200);
        Proc.ok(dir, "openssl", "x509", "-in", dir.resolve("release.pem").toString(), "-pubkey", "-noout", "-out", dir.resolve("release.pub").toString());
        Path script = Path.of("").toAbsolutePath().getParent().resolve("conformance/mcuboot_verify.py");
        assertThat(Proc.ok(dir, "/usr/bin/python3", script.toString(), signed.toString(), dir.resolve("release.pub").toString()))
                .contains("OK version 2.1.0+0, image " + Files.size(image) + " bytes, security counter 5");
        Signature e = lastSignature();
        assertThat(e.actor()).isEqualTo("token:ci");
        assertThat(e.detail()).containsEntry("format", "mcuboot").containsEntry("protocol", "rest").containsEntry("digestOnly", "false")
                .containsEntry("sha256", r.headers().firstValue("X-Fleetpki-Digest").orElseThrow().substring("sha256=".length()));
    }

    @Test
    void aCmsSignatureComesBackAsJsonAndOpensslVerifiesIt() throws Exception {
        byte[] image = "a small image".getBytes();
        HttpResponse<InputStream> r = post("signer=release&model=sensor-v2&version=1.0.1&format=cms", HttpRequest.BodyPublishers.ofByteArray(image),
                "application/octet-stream");
        String text = body(r);
        assertThat(r.statusCode()).as(text).isEqualTo(201);
        JsonNode j = JSON.readTree(text);
        Files.write(dir.resolve("m.json"), Base64.getDecoder().decode(j.get("manifest").asText()));
        Files.write(dir.resolve("m.p7s"), Base64.getDecoder().decode(j.get("signature").asText()));
        assertThat(Proc.ok(dir, "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "m.p7s", "-content", "m.json", "-CAfile",
                ts.home.resolve("ca/root.pem").toString(), "-purpose", "any", "-out", "/dev/null")).contains("Verification successful");
        assertThat(j.get("sha256").asText()).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(image)));
    }

    @Test
    void aDigestAloneIsSignedForRawAndTheAuditSaysTheImageNeverCame() throws Exception {
        String sha = "ab".repeat(32);
        HttpResponse<InputStream> r = post("signer=release&model=sensor-v2&version=1.0.2&format=raw&sha256=" + sha + "&size=4096",
                HttpRequest.BodyPublishers.noBody(), null);
        String text = body(r);
        assertThat(r.statusCode()).as(text).isEqualTo(201);
        assertThat(JSON.readTree(text).get("digestOnly").asBoolean()).isTrue();
        assertThat(lastSignature().detail()).containsEntry("digestOnly", "true").containsEntry("sha256", sha).containsEntry("size", "4096");
    }

    @Test
    void badRequestsAreRefusedWithWhatToSend() throws Exception {
        record Case(String query, HttpRequest.BodyPublisher body, String type, int status, String says) {}
        for (Case c : List.of(
                new Case("signer=release&model=sensor-v2&version=1.0.0", HttpRequest.BodyPublishers.ofByteArray(new byte[10]), "application/octet-stream",
                        400, "format"),
                new Case("signer=release&model=sensor-v2&version=1.0.0&format=zip", HttpRequest.BodyPublishers.ofByteArray(new byte[10]),
                        "application/octet-stream", 400, "mcuboot, cms or raw"),
                new Case("signer=release&model=sensor-v2&version=one&format=cms", HttpRequest.BodyPublishers.ofByteArray(new byte[10]),
                        "application/octet-stream", 400, "is not a version like 1.4.2"),
                new Case("signer=release&model=sensor-v2&version=1.0.0&format=cms", HttpRequest.BodyPublishers.ofByteArray(new byte[10]), "text/plain",
                        415, "application/octet-stream"),
                new Case("signer=release&model=sensor-v2&version=1.0.0&format=mcuboot&sha256=" + "00".repeat(32) + "&size=10",
                        HttpRequest.BodyPublishers.noBody(), null, 400, "needs the image itself"),
                new Case("signer=release&model=sensor-v2&version=1.0.0&format=mcuboot", HttpRequest.BodyPublishers.ofByteArray(ones(600)),
                        "application/octet-stream", 400, "zero bytes of header space"),
                new Case("signer=release&model=sensor-v2&version=1.0.0&format=cms", HttpRequest.BodyPublishers.ofInputStream(
                        () -> new java.io.ByteArrayInputStream(new byte[10])), "application/octet-stream", 411, "Content-Length"),
                new Case("signer=nobody&model=sensor-v2&version=1.0.0&format=cms", HttpRequest.BodyPublishers.ofByteArray(new byte[10]),
                        "application/octet-stream", 404, "no signer named 'nobody'"))) {
            long signatures = signatures().size();
            HttpResponse<InputStream> r = post(c.query(), c.body(), c.type());
            String text = body(r);
            assertThat(r.statusCode()).as(c.query() + ": " + text).isEqualTo(c.status());
            assertThat(text).as(c.query()).contains(c.says());
            assertThat(signatures()).as(c.query()).hasSize((int) signatures);
        }
    }

    static byte[] ones(int n) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) 1);
        return b;
    }

    /** The firmware.sign events of the audit log, oldest first: actor, and detail as a map. */
    static List<Signature> signatures() throws Exception {
        List<Signature> out = new java.util.ArrayList<>();
        for (var row : ts.fleet.store().auditLog().auditTail(100_000)) {
            if (AuditAction.FIRMWARE_SIGN.wireName().equals(row.get("action"))) {
                out.add(new Signature((String) row.get("actor"), JSON.readValue((String) row.get("detail"),
                        new com.fasterxml.jackson.core.type.TypeReference<java.util.Map<String, String>>() {})));
            }
        }
        return out;
    }

    record Signature(String actor, java.util.Map<String, String> detail) {}

    static Signature lastSignature() throws Exception {
        return signatures().getLast();
    }
}
