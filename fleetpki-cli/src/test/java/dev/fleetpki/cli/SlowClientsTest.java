package dev.fleetpki.cli;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.server.FleetServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Slow or idle clients cannot tie up the server: connections that send nothing, TLS clients that
 * stop in the middle of their headers, and request bodies that trickle in are cut off by the
 * server's limits (here an idle timeout of 1 s instead of the default 30 s, and the default body
 * rate of 1 KiB/s), while other clients are served meanwhile and nothing is stored.
 */
class SlowClientsTest {
    @TempDir Path dir;

    static final Duration IDLE = Duration.ofSeconds(1);

    @Test
    void idleSlowAndTricklingClientsAreCutOffWhileOthersAreServed() throws Exception {
        try (TestServer ts = TestServer.start(dir, null, null, new FleetServer.Limits(IDLE, 1024, 10_000))) {
            Actor op = Actor.operator("test");
            ts.fleet.store().devices().addDevice(new Device("slow-1", "m", Map.of(), Device.Status.ACTIVE, "software", ts.fleet.clock().instant()),
                    new AuditEvent(ts.fleet.clock().instant(), op, AuditAction.DEVICE_ADD, "device:slow-1", Map.of()));
            String secret = Enrollment.newSecret(ts.fleet.store().devices(), ts.fleet.store().credentials(), ts.fleet.enrollmentSecrets(), "slow-1", Duration.ofHours(1), op, ts.fleet.clock().instant()).text();
            long certificatesBefore = ts.fleet.store().certificates().certificateCount();

            // 100 TCP connections that never start their TLS handshake
            List<Socket> idle = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                Socket s = new Socket();
                s.connect(new InetSocketAddress("127.0.0.1", ts.server.port()), 2_000);
                idle.add(s);
            }
            // a TLS client that stops in the middle of its request headers
            SSLSocket partial = (SSLSocket) ServerTest.trusting(ts.fleet.store().ca("root").orElseThrow().certificate()).getSocketFactory()
                    .createSocket("127.0.0.1", ts.server.port());
            partial.startHandshake();
            partial.getOutputStream().write("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\n".getBytes(StandardCharsets.US_ASCII));
            partial.getOutputStream().flush();

            // meanwhile another client is served at once
            long t0 = System.nanoTime();
            HttpResponse<String> health = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(IDLE);

            // the server closes every idle connection and the stalled one after the idle timeout
            for (Socket s : idle) {
                assertThat(closedByServerWithin(s, IDLE.multipliedBy(5))).as("idle TCP connection closed").isTrue();
            }
            assertThat(closedByServerWithin(partial, IDLE.multipliedBy(5))).as("stalled TLS request closed").isTrue();

            // a request body that trickles in (20 bytes every 0.5 s: 40 B/s, under the 1 KiB/s minimum) is refused with 408
            SSLSocket trickle = (SSLSocket) ServerTest.trusting(ts.fleet.store().ca("root").orElseThrow().certificate()).getSocketFactory()
                    .createSocket("127.0.0.1", ts.server.port());
            trickle.setSoTimeout(15_000);
            OutputStream out = trickle.getOutputStream();
            String basic = Base64.getEncoder().encodeToString(("slow-1:" + secret).getBytes(StandardCharsets.UTF_8));
            out.write(("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pkcs10\r\n"
                    + "Authorization: Basic " + basic + "\r\nContent-Length: 4000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
            Thread reader = Thread.ofVirtual().start(() -> { // reads the answer while the body trickles
                try {
                    InputStream in = trickle.getInputStream();
                    for (int b = in.read(); b != -1; b = in.read()) {
                        synchronized (received) {
                            received.write(b);
                        }
                    }
                } catch (java.io.IOException closed) {
                    // the server closed or reset the connection
                }
            });
            long start = System.nanoTime();
            try {
                for (int i = 0; i < 40 && reader.isAlive() && received.size() == 0; i++) { // bounded: 20 s at most
                    out.write("MIIBIjANBgkqhkiG9w0B".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    Thread.sleep(500);
                }
            } catch (java.io.IOException closed) {
                // the server closed the connection on us
            }
            Duration cutOff = Duration.ofNanos(System.nanoTime() - start);
            reader.join(5_000);
            String answer;
            synchronized (received) {
                answer = received.toString(StandardCharsets.UTF_8);
            }
            assertThat(cutOff).as("the server answered or closed before the body was complete (20 B of 4,000 every 0.5 s)")
                    .isLessThan(Duration.ofSeconds(15));
            assertThat(answer).startsWith("HTTP/1.1 408").contains("too slowly");
            trickle.close();

            // nothing was issued, and the secret is still unused: the device enrolls with it normally afterwards
            assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(certificatesBefore);
            java.security.KeyPair kp = dev.fleetpki.kms.KeyAlgorithm.EC_P256.generate();
            byte[] csr = new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder(new org.bouncycastle.asn1.x500.X500Name("CN=slow-1"),
                    kp.getPublic()).build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()))
                    .getEncoded();
            HttpResponse<String> enrolled = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + "/.well-known/est/simpleenroll"))
                    .header("Content-Type", "application/pkcs10").header("Authorization", "Basic " + basic)
                    .POST(HttpRequest.BodyPublishers.ofString(Base64.getEncoder().encodeToString(csr))).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(enrolled.statusCode()).as(enrolled.body()).isEqualTo(200);
            assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(certificatesBefore + 1);
        }
    }

    /** Whether the server closes the connection (end of stream or reset) within the time; bounded. */
    private static boolean closedByServerWithin(Socket s, Duration limit) throws Exception {
        s.setSoTimeout((int) limit.toMillis());
        try (InputStream in = s.getInputStream()) {
            while (true) {
                int b = in.read();
                if (b == -1) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (java.io.IOException reset) {
            return true;
        }
    }
}
