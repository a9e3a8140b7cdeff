package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import dev.fleetpki.cli.TestHome;
import java.io.ByteArrayInputStream;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A PostgreSQL primary with a synchronous hot standby (two throw-away Debian clusters): a writable
 * node whose store URL names both hosts ({@code targetServerType=primary}) issues and revokes under
 * load, a {@code serve --read-only} node on the standby answers OCSP. The primary crashes mid-load
 * and the standby is promoted: the read-only node keeps answering throughout, the writable node
 * answers 503 with Retry-After while there is no primary and issues again once the standby is
 * promoted, with no restart and no operator; every certificate a client received is on the promoted
 * standby with its audit event, and the chain verifies there.
 */
class StandbyFailoverTest {
    @TempDir Path dir;

    @Test
    void theStandbyIsPromotedMidLoadAndTheNodesCarryOnByThemselves() throws Exception {
        String primary = "fpkitest_primary";
        String standby = "fpkitest_standby";
        int pp = Proc.freePort();
        int sp = Proc.freePort();
        List<Process> running = new ArrayList<>();
        try {
            PgClusters.primary(primary, pp);
            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pp + "/postgres?user=postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE fleet");
            }
            String both = "jdbc:postgresql://127.0.0.1:" + pp + ",127.0.0.1:" + sp + "/fleet?targetServerType=primary&user=postgres";
            Path writer = TestHome.write(dir.resolve("writer"), "ecdsa-p256", both, null, null);
            TestHome.init(writer);
            PgClusters.standby(standby, sp, pp);
            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pp + "/postgres?user=postgres"); Statement s = c.createStatement()) {
                s.execute("ALTER SYSTEM SET synchronous_standby_names = '*'"); // a commit returns once the standby has it too
                s.execute("SELECT pg_reload_conf()");
            }
            Path replica = dir.resolve("replica");
            MultiNodeTest.copyTree(writer, replica);
            Files.writeString(replica.resolve("fleetpki.yaml"), Files.readString(replica.resolve("fleetpki.yaml"))
                    .replace(both, "jdbc:postgresql://127.0.0.1:" + sp + "/fleet?user=postgres"));
            Cli.Result tok = Cli.run(writer, "token", "create", "failover", "--role", "admin");
            assertThat(tok.exit()).as(tok.all()).isZero();
            String[] tl = tok.out().trim().split("\n");
            String token = tl[tl.length - 1];

            MultiNodeTest.Node w = MultiNodeTest.start(writer, running);
            int replicaHttp = Proc.freePort();
            Process r = new ProcessBuilder(Proc.java(List.of("-Xmx256m"), Main.class, "serve", "--home", replica.toString(), "--read-only",
                    "--http-port", String.valueOf(replicaHttp))).redirectErrorStream(true).start();
            running.add(r);
            Proc.awaitLine(r, "fleetpki serving");
            drain(r);

            X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(writer.resolve("ca/root.pem"))));
            HttpClient http = HttpClient.newBuilder().sslContext(MultiNodeTest.trusting(root)).build();
            String base = "https://127.0.0.1:" + w.https();
            Map<String, String> received = new ConcurrentHashMap<>();
            List<String> revoked = Collections.synchronizedList(new ArrayList<>());
            List<String> wrong = Collections.synchronizedList(new ArrayList<>());
            AtomicInteger unavailable = new AtomicInteger();
            AtomicInteger afterPromotion = new AtomicInteger();
            AtomicBoolean promoted = new AtomicBoolean();
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> load = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                load.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 100_000 && !stop.get(); i++) {
                        String id = "fo-" + thread + "-" + i;
                        try {
                            HttpResponse<String> added = MultiNodeTest.post(http, base + "/api/v1/devices", token, "{\"id\":\"" + id + "\"}");
                            if (!answered(added, wrong, unavailable, 201)) {
                                Thread.sleep(200);
                                continue;
                            }
                            HttpResponse<String> cert = MultiNodeTest.post(http, base + "/api/v1/certificate-requests", token,
                                    "{\"device\":\"" + id + "\",\"csr\":\"" + MultiNodeTest.csrPem(id) + "\"}");
                            if (!answered(cert, wrong, unavailable, 201)) {
                                Thread.sleep(200);
                                continue;
                            }
                            Matcher m = MultiNodeTest.SERIAL.matcher(cert.body());
                            assertThat(m.find()).isTrue();
                            received.put(m.group(1), id);
                            if (promoted.get()) {
                                afterPromotion.incrementAndGet();
                            }
                            if (i % 5 == 0) {
                                HttpResponse<String> rv = MultiNodeTest.post(http, base + "/api/v1/certificates/" + m.group(1) + "/revoke", token, "{}");
                                if (answered(rv, wrong, unavailable, 200)) {
                                    revoked.add(m.group(1));
                                }
                            }
                        } catch (Exception | AssertionError e) {
                            wrong.add(id + ": " + e);
                        }
                    }
                }));
            }
            await(() -> received.size() >= 150 && revoked.size() >= 5, "certificates and revocations before the crash");
            String before = revoked.getLast();

            PgClusters.crash(primary); // the primary is gone mid-load
            // the read-only node on the standby answers OCSP while there is no primary
            assertThat(ocsp(writer, replicaHttp, before)).contains(": revoked");
            Thread.sleep(1_000);
            PgClusters.promote(standby);
            promoted.set(true);
            await(() -> afterPromotion.get() >= 100, "certificates issued by the writable node after the promotion");
            int revokedBefore = revoked.size();
            await(() -> revoked.size() > revokedBefore, "a revocation after the promotion");
            stop.set(true);
            for (Thread t : load) {
                t.join(60_000);
            }
            assertThat(wrong).as("every answer is a success or 503 with Retry-After").isEmpty();
            String after = revoked.getLast();
            String seen = "";
            for (int k = 0; k < 30 && !seen.contains(": revoked"); k++) {
                seen = ocsp(writer, replicaHttp, after);
                Thread.sleep(seen.contains(": revoked") ? 0 : 500);
            }
            assertThat(seen).as("the read-only node sees a revocation made after the promotion").contains(": revoked");
            System.out.printf("standby failover: %d certificates, %d revocations, %d answered 503 while there was no primary, %d issued after the promotion%n",
                    received.size(), revoked.size(), unavailable.get(), afterPromotion.get());

            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + sp + "/fleet?user=postgres");
                 PreparedStatement cert = c.prepareStatement("SELECT device_id FROM certificate WHERE serial = ?");
                 PreparedStatement audit = c.prepareStatement("SELECT count(*) FROM audit_event WHERE action = 'certificate.issue' AND target = ?")) {
                for (var e : received.entrySet()) {
                    cert.setString(1, e.getKey());
                    try (ResultSet rs = cert.executeQuery()) {
                        assertThat(rs.next()).as("certificate " + e.getKey() + " a client received is on the promoted standby").isTrue();
                    }
                    audit.setString(1, "device:" + e.getValue());
                    try (ResultSet rs = audit.executeQuery()) {
                        rs.next();
                        assertThat(rs.getInt(1)).as(e.getValue()).isEqualTo(1);
                    }
                }
            }
            for (Process p : running) {
                Proc.stop(p);
            }
            running.clear();
            Cli.Result verify = Cli.run(writer, "audit", "verify"); // the URL's second host is the primary now
            assertThat(verify.exit()).as(verify.all()).isZero();
        } finally {
            for (Process p : running) {
                Proc.kill(p);
            }
            PgClusters.drop(standby);
            PgClusters.drop(primary);
        }
    }

    /** True for the expected status; a 503 with Retry-After is counted; anything else is wrong. */
    static boolean answered(HttpResponse<String> r, List<String> wrong, AtomicInteger unavailable, int expected) {
        if (r.statusCode() == expected) {
            return true;
        }
        if (r.statusCode() == 503 && r.headers().firstValue("Retry-After").isPresent()) {
            unavailable.incrementAndGet();
        } else {
            wrong.add(r.statusCode() + " " + r.body());
        }
        return false;
    }

    static String ocsp(Path home, int port, String serial) {
        return Proc.run(home, Map.of(), "openssl", "ocsp", "-issuer", home.resolve("ca/issuing.pem").toString(), "-serial", "0x" + serial,
                "-url", "http://127.0.0.1:" + port + "/ocsp", "-CAfile", home.resolve("ca/root.pem").toString()).output();
    }

    static void await(java.util.function.BooleanSupplier done, String what) throws InterruptedException {
        for (int i = 0; i < 600 && !done.getAsBoolean(); i++) {
            Thread.sleep(100);
        }
        assertThat(done.getAsBoolean()).as(what + " within 60 s").isTrue();
    }

    static void drain(Process p) {
        Thread.ofVirtual().start(() -> {
            try {
                p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            } catch (java.io.IOException ignored) {
                // ended
            }
        });
    }
}
