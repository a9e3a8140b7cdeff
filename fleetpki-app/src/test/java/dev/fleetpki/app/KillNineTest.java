package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import dev.fleetpki.cli.TestHome;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kill -9} of a serving node at random moments during 10,000 enrollments from 32 concurrent
 * REST clients (whose requests share group commits), on each store; the node is started again each
 * time and the clients go on. Afterwards every certificate a client received is in the store with
 * its issuance audit event, no serial was handed out twice, pending requests kept for an operator
 * survived every kill, and the audit chain verifies. Requests in flight at each kill are counted:
 * those whose certificate was committed before the kill (stored, the answer lost) and those that
 * died before their group's commit.
 */
class KillNineTest {
    static final int DEVICES = 10_000;
    static final int CLIENTS = 32;
    static final int KILLS = 8;

    @TempDir Path dir;

    @ParameterizedTest
    @org.junit.jupiter.api.Timeout(600)
    @ValueSource(strings = {"sqlite", "postgresql"})
    void killedAtRandomDuringTenThousandEnrollmentsNothingReceivedIsLost(String store) throws Exception {
        String db = "fleetpki_kill_" + Long.toHexString(System.nanoTime());
        String url = store.equals("sqlite") ? "jdbc:sqlite:fleetpki.db" : "jdbc:postgresql://127.0.0.1:5432/" + db + "?user=postgres";
        if (!store.equals("sqlite")) {
            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE " + db);
            }
        }
        AtomicReference<Process> node = new AtomicReference<>();
        try {
            Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", url, null, null);
            Files.writeString(home.resolve("fleetpki.yaml"), """

                    enrollment:
                      fleets:
                        pend:
                          accept: []
                          otherwise: pending
                    """, java.nio.file.StandardOpenOption.APPEND);
            TestHome.init(home);
            StringBuilder csv = new StringBuilder("id,model\n");
            for (int i = 0; i < DEVICES; i++) {
                csv.append("k-").append(i).append(",\n");
            }
            for (int i = 0; i < 5; i++) {
                csv.append("pend-").append(i).append(",pend\n");
            }
            Files.writeString(dir.resolve("devices.csv"), csv);
            Cli.Result imported = Cli.run(home, "device", "import", dir.resolve("devices.csv").toString());
            assertThat(imported.exit()).as(imported.all()).isZero();
            String token = DurabilityOrderTest.token(home, "kill");

            int port = Proc.freePort();
            node.set(start(home, port));
            X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(home.resolve("ca/root.pem"))));
            HttpClient http = HttpClient.newBuilder().sslContext(MultiNodeTest.trusting(root)).build();
            String base = "https://127.0.0.1:" + port;

            // requests kept for an operator before the kills
            List<String> pending = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                HttpResponse<String> sec = MultiNodeTest.post(http, base + "/api/v1/devices/pend-" + i + "/enrollment-secret", token, "");
                Matcher sm = MultiNodeTest.SECRET.matcher(sec.body());
                assertThat(sm.find()).as(sec.body()).isTrue();
                HttpResponse<String> r = MultiNodeTest.post(http, base + "/api/v1/certificate-requests", sm.group(1),
                        "{\"device\":\"pend-" + i + "\",\"csr\":\"" + MultiNodeTest.csrPem("pend-" + i) + "\"}");
                assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
                pending.add(r.headers().firstValue("Location").orElseThrow());
            }

            Map<String, String> received = new ConcurrentHashMap<>();
            List<String> duplicates = Collections.synchronizedList(new ArrayList<>());
            List<String> wrong = Collections.synchronizedList(new ArrayList<>());
            Set<String> inFlight = ConcurrentHashMap.newKeySet();
            AtomicInteger next = new AtomicInteger();
            AtomicInteger kills = new AtomicInteger();
            AtomicInteger killsWithRequestsInFlight = new AtomicInteger();
            AtomicInteger requestsInFlightAtKills = new AtomicInteger();
            List<Thread> clients = new ArrayList<>();
            for (int t = 0; t < CLIENTS; t++) {
                clients.add(Thread.ofPlatform().start(() -> {
                    for (int i = next.getAndIncrement(); i < DEVICES; i = next.getAndIncrement()) {
                        String id = "k-" + i;
                        for (int attempt = 0; attempt < 200; attempt++) { // until this device has its certificate
                            inFlight.add(id);
                            try {
                                HttpResponse<String> r = MultiNodeTest.post(http, base + "/api/v1/certificate-requests", token,
                                        "{\"device\":\"" + id + "\",\"csr\":\"" + MultiNodeTest.csrPem(id) + "\"}");
                                inFlight.remove(id);
                                if (r.statusCode() == 201) {
                                    Matcher m = MultiNodeTest.SERIAL.matcher(r.body());
                                    assertThat(m.find()).isTrue();
                                    if (received.put(m.group(1), id) != null) {
                                        duplicates.add(m.group(1));
                                    }
                                    break;
                                }
                                if (r.statusCode() != 503) {
                                    wrong.add(id + ": " + r.statusCode() + " " + r.body());
                                    break;
                                }
                            } catch (IOException e) { // the node was killed under this request, or is starting again
                                inFlight.remove(id);
                            } catch (Exception | AssertionError e) {
                                inFlight.remove(id);
                                wrong.add(id + ": " + e);
                                break;
                            }
                            try {
                                Thread.sleep(100);
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    }
                }));
            }
            Random random = new Random();
            long t0 = System.nanoTime();
            while (clients.stream().anyMatch(Thread::isAlive) && kills.get() < KILLS) {
                Thread.sleep(1_000 + random.nextInt(3_000)); // a random moment, once the restarted node has served a while
                if (next.get() >= DEVICES) {
                    break;
                }
                Set<String> caught = Set.copyOf(inFlight);
                node.get().destroyForcibly().waitFor(); // SIGKILL
                kills.incrementAndGet();
                if (!caught.isEmpty()) {
                    killsWithRequestsInFlight.incrementAndGet();
                    requestsInFlightAtKills.addAndGet(caught.size());
                }
                node.set(start(home, port));
            }
            for (Thread c : clients) {
                c.join(300_000);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertThat(wrong).isEmpty();
            assertThat(duplicates).as("no serial handed out twice").isEmpty();
            assertThat(kills.get()).isGreaterThanOrEqualTo(3);

            // pending requests survived: still pending, and an approval issues
            for (String location : pending) {
                HttpResponse<String> approved = MultiNodeTest.post(http, base + location + "/approve", token, "{}");
                assertThat(approved.statusCode()).as(approved.body()).isEqualTo(200);
            }
            Proc.stop(node.get());
            node.set(null);

            int committedUnanswered = 0;
            try (Connection c = store.equals("sqlite") ? DriverManager.getConnection("jdbc:sqlite:" + home.resolve("fleetpki.db"))
                    : DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/" + db + "?user=postgres")) {
                dev.fleetpki.cli.ReceivedCertificates.assertStoredWithAudit(c, received);
                try (ResultSet rs = c.createStatement().executeQuery("SELECT count(*) FROM certificate WHERE device_id LIKE 'k-%'");
                     ResultSet ra = c.createStatement().executeQuery("SELECT count(*) FROM audit_event WHERE action = 'certificate.issue' AND target LIKE 'device:k-%'")) {
                    rs.next();
                    ra.next();
                    assertThat(ra.getLong(1)).as("one issuance event per stored certificate").isEqualTo(rs.getLong(1));
                    committedUnanswered = (int) (rs.getLong(1) - received.size()); // committed just before a kill: stored, the answer lost
                }
            }
            assertThat(received).hasSize(DEVICES);
            Cli.Result verify = Cli.run(home, "audit", "verify");
            assertThat(verify.exit()).as(verify.all()).isZero();
            System.out.printf("kill -9 on %s: %d enrollments in %.0f s, %d kills, %d of them with requests in flight (%d requests: %d committed before the kill, "
                    + "answer lost; %d died before their group's commit)%n", store, received.size(), seconds, kills.get(), killsWithRequestsInFlight.get(),
                    requestsInFlightAtKills.get(), committedUnanswered, requestsInFlightAtKills.get() - committedUnanswered);
        } finally {
            if (node.get() != null) {
                Proc.kill(node.get());
            }
            if (!store.equals("sqlite")) {
                try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres"); Statement s = c.createStatement()) {
                    s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
                }
            }
        }
    }

    static Process start(Path home, int port) throws Exception {
        Process p = new ProcessBuilder(Proc.java(List.of("-Xmx512m"), Main.class, "serve", "--home", home.toString(), "--port", String.valueOf(port),
                "--http-port", "-1", "--hostname", "pki.fleet.example")).redirectErrorStream(true).start();
        assertThat(String.join("\n", Proc.awaitLine(p, "fleetpki serving https://"))).contains("fleetpki serving https://");
        StandbyFailoverTest.drain(p);
        return p;
    }
}
