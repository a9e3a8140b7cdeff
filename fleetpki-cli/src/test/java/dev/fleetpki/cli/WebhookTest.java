package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.fleetpki.core.Actor;
import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.server.FleetServer;
import dev.fleetpki.server.ServerIdentity;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Registry notifications against a local receiver that fails, times out and is stopped: every
 * event arrives, in order, signed, with the device id and the certificate's thumbprints; an event
 * whose attempts ran out is set aside, shown by the CLI and the API, and delivered when retried;
 * events made while the server is down are delivered when it starts again (the audit log is the
 * outbox), and the receiver's restart loses nothing.
 */
class WebhookTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SECRET = "webhook test signing key";

    @TempDir Path dir;

    /** A receiver on loopback: answers 500 {@code fail} times, then waits past the timeout {@code slow} times, then 204. */
    static final class Receiver implements AutoCloseable {
        final List<JsonNode> delivered = new CopyOnWriteArrayList<>();
        final List<String> attempts = new CopyOnWriteArrayList<>();
        final AtomicInteger fail = new AtomicInteger();
        final AtomicInteger slow = new AtomicInteger();
        final int port;
        private HttpServer server;

        Receiver(int port) throws IOException {
            this.port = port;
            start();
        }

        void start() throws IOException {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
            server.createContext("/hook", ex -> {
                byte[] body = ex.getRequestBody().readAllBytes();
                String id = ex.getRequestHeaders().getFirst("X-Fleetpki-Delivery");
                attempts.add(id);
                if (fail.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    ex.sendResponseHeaders(500, -1);
                    ex.close();
                    return;
                }
                if (slow.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    try {
                        Thread.sleep(2500);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    ex.sendResponseHeaders(204, -1);
                    ex.close();
                    return;
                }
                String sig = ex.getRequestHeaders().getFirst("X-Fleetpki-Signature");
                if (!("sha256=" + hmac(body)).equals(sig)) {
                    ex.sendResponseHeaders(401, -1); // a receiver checks the signature first
                    ex.close();
                    return;
                }
                delivered.add(JSON.readTree(body));
                ex.sendResponseHeaders(204, -1);
                ex.close();
            });
            server.start();
        }

        void stop() {
            server.stop(0);
        }

        @Override
        public void close() {
            stop();
        }
    }

    static String hmac(byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(body));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 300 && !condition.getAsBoolean(); i++) {
            Thread.sleep(100);
        }
        assertThat(condition.getAsBoolean()).as(what + " within 30 s").isTrue();
    }

    @Test
    void everyEventArrivesInOrderThroughFailuresTimeoutsAndRestarts() throws Exception {
        int port = Proc.freePort();
        try (Receiver rx = new Receiver(port);
             TestServer ts = TestServer.start(dir, null, """
                     notifications:
                       webhooks:
                         - name: hub
                           url: http://127.0.0.1:%d/hook
                           secret: file:secrets/hook
                           timeout: 1s
                           attempts: 4
                           backoff: 1s
                     """.formatted(port), FleetServer.Limits.DEFAULT, yaml -> {
                         try {
                             Files.writeString(dir.resolve("home/secrets/hook"), SECRET + "\n");
                         } catch (IOException e) {
                             throw new AssertionError(e);
                         }
                         return yaml;
                     })) {
            // issued: two 500s and a timeout first, then delivered (4 attempts of one event)
            rx.fail.set(2);
            rx.slow.set(1);
            DeviceIdentity dev = ts.enrolledDevice(dir.resolve("dev"), "hook-1", null);
            X509Certificate cert = dev.chain().orElseThrow().getFirst();
            await("the issuance event", () -> rx.delivered.size() == 1);
            JsonNode issued = rx.delivered.getFirst();
            assertThat(issued.path("type").asText()).isEqualTo("certificate.issued");
            assertThat(issued.path("deviceId").asText()).isEqualTo("hook-1");
            assertThat(issued.path("serial").asText()).isEqualTo(cert.getSerialNumber().toString(16));
            assertThat(issued.path("thumbprintSha256").asText())
                    .isEqualTo(HexFormat.of().withUpperCase().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded())));
            assertThat(issued.path("certificatePem").asText()).startsWith("-----BEGIN CERTIFICATE-----");
            assertThat(rx.attempts).as("500, 500, timeout, delivered: one event, the same id each time").hasSize(4)
                    .containsOnly(issued.path("id").asText());

            // the receiver is down: the revocation's attempts run out and it is set aside, visible in the CLI and the API
            rx.stop();
            Cli.Result rev = Cli.run(ts.home, "revoke", cert.getSerialNumber().toString(16), "--reason", "key-compromise");
            assertThat(rev.exit()).as(rev.all()).isZero();
            await("the revocation set aside", () -> Cli.run(ts.home, "webhook", "failed").out().contains("certificate.revoked"));
            assertThat(Cli.run(ts.home, "webhook", "failed", "hub").out()).contains("cannot connect to 127.0.0.1:" + port + " (connection refused");
            Cli.Result list = Cli.run(ts.home, "webhook", "list");
            assertThat(list.out()).containsPattern("hub +0 +1 +1 +http://127.0.0.1:" + port + "/hook").contains("last error");
            String token = Cli.run(ts.home, "token", "create", "ops", "--role", "auditor").out().trim();
            HttpResponse<String> api = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/api/v1/webhooks"))
                    .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
            JsonNode hub = JSON.readTree(api.body()).path("items").get(0);
            assertThat(hub.path("failed").asLong()).isEqualTo(1);
            assertThat(hub.path("signed").asBoolean()).isTrue();
            assertThat(api.body()).doesNotContain(SECRET);
            HttpResponse<String> failures = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/api/v1/webhooks/hub/failures"))
                    .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
            long failedSeq = JSON.readTree(failures.body()).path("items").get(0).path("seq").asLong();

            // the server stops; a device is disabled meanwhile; the receiver comes back, then the server: the event is delivered
            ts.server.close();
            assertThat(Cli.run(ts.home, "device", "disable", "hook-1").exit()).isZero();
            rx.start();
            ServerIdentity.Loaded id = ServerIdentity.ensure(ts.services, TestServer.HOST, Actor.operator("test"));
            try (FleetServer again = FleetServer.start(ts.services, id, "127.0.0.1", 0)) {
                await("the event made while the server was down", () -> rx.delivered.size() == 2);
                assertThat(rx.delivered.get(1).path("type").asText()).isEqualTo("device.disabled");
                assertThat(rx.delivered.get(1).path("deviceId").asText()).isEqualTo("hook-1");

                // retried through the API (an auditor may not; an issuer may): the set-aside revocation arrives
                HttpResponse<String> refused = ts.http.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + again.port()
                        + "/api/v1/webhooks/hub/retry")).header("Authorization", "Bearer " + token).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(refused.statusCode()).isEqualTo(403);
                Cli.Result retry = Cli.run(ts.home, "webhook", "retry", "hub", "--seq", Long.toString(failedSeq));
                assertThat(retry.exit()).as(retry.all()).isZero();
                await("the retried revocation", () -> rx.delivered.size() == 3);
                JsonNode revoked = rx.delivered.get(2);
                assertThat(revoked.path("type").asText()).isEqualTo("certificate.revoked");
                assertThat(revoked.path("reason").asText()).isEqualTo("key-compromise");
                assertThat(revoked.path("id").asText()).isEqualTo("fleetpki-audit-" + failedSeq);
                await("no failure left", () -> Cli.run(ts.home, "webhook", "failed").out().contains("No failed events."));
                assertThat(Cli.run(ts.home, "webhook", "list").out()).containsPattern("hub +0 +3 +0 ");
                assertThat(Cli.run(ts.home, "webhook", "retry", "hub", "--seq", "999999").exit()).isEqualTo(66);
            }
        }
    }
}
