package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real store faults under a running server: PostgreSQL unreachable (connections refused), its
 * connections cut under load (by a TCP proxy on the way and by PostgreSQL itself), and a SQLite store
 * on a full file system. Each time a client gets 503 with Retry-After (never a 500), nothing half
 * written stays behind, every certificate a client received is stored with its audit event, and the
 * server recovers by itself when the fault ends.
 */
class StoreFaultTest {
    static final String PG = "jdbc:postgresql://127.0.0.1:5432/";
    static final Pattern SERIAL = Pattern.compile("\"serial\"\\s*:\\s*\"([0-9a-f]+)\"");

    @TempDir Path dir;

    @Test
    void postgresGoneOrCutGives503WithRetryAfterAndTheNodeRecoversByItself() throws Exception {
        String db = createDatabase("fleetpki_fault_");
        try (TcpProxy proxy = TcpProxy.to(5432); TestServer ts = serverBehind(proxy, db)) {
            String token = token(ts);
            assertThat(enroll(ts, token, "before").status()).isEqualTo(201);

            proxy.down(); // the database is gone
            Reply down = post(ts, token, "/api/v1/devices", "{\"id\":\"while-down\"}");
            assertUnavailable(down);
            Reply ready = get(ts, "/readyz");
            assertUnavailable(ready);

            proxy.up(); // back: the node reconnects by itself
            assertThat(enrollAsAClientWould(ts, token, "after-down")).isEqualTo(201);

            // connections cut under load: by the network (the proxy) and by PostgreSQL (pg_terminate_backend)
            Map<String, String> received = new ConcurrentHashMap<>();
            List<String> wrong = Collections.synchronizedList(new ArrayList<>());
            List<Integer> statuses = Collections.synchronizedList(new ArrayList<>());
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> clients = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                clients.add(Thread.ofVirtual().start(() -> {
                    for (int i = 0; i < 400 && !stop.get(); i++) {
                        try {
                            Reply r = enroll(ts, token, "load-" + thread + "-" + i);
                            statuses.add(r.status());
                            if (r.status() == 201) {
                                Matcher m = SERIAL.matcher(r.body());
                                if (m.find()) {
                                    received.put(m.group(1), "load-" + thread + "-" + i);
                                } else {
                                    wrong.add("201 without a serial: " + r.body());
                                }
                            } else if (r.status() != 503 || r.retryAfter() == null) {
                                wrong.add(r.status() + " " + r.retryAfter() + " " + r.body());
                            }
                        } catch (Exception e) {
                            wrong.add(e.toString());
                        }
                    }
                }));
            }
            for (int k = 0; k < 8; k++) {
                Thread.sleep(250);
                if (k % 2 == 0) {
                    proxy.cut();
                } else {
                    terminateBackends(db);
                }
            }
            stop.set(true);
            for (Thread c : clients) {
                c.join(60_000);
            }
            assertThat(wrong).as("every answer is 201 or 503 with Retry-After").isEmpty();
            assertThat(statuses).contains(201);
            assertThat(enrollAsAClientWould(ts, token, "after-cuts")).as("the node recovered without a restart").isEqualTo(201);
            try (Connection c = DriverManager.getConnection(PG + db + "?user=postgres")) {
                ReceivedCertificates.assertStoredWithAudit(c, received);
            }
            assertThat(Cli.run(ts.home, "audit", "verify").exit()).isZero();
        } finally {
            dropDatabase(db);
        }
    }

    @Test
    void aFullDiskUnderSqliteGives503WithRetryAfterAndRecoversWhenSpaceIsFreed() throws Exception {
        Path small = dir.resolve("small");
        Files.createDirectories(small);
        Proc.ok(dir, "mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", small.toString());
        try {
            Path db = small.resolve("fleetpki.db");
            try (TestServer ts = TestServer.start(dir, null, null, dev.fleetpki.server.FleetServer.Limits.DEFAULT,
                    y -> y.replace("jdbc:sqlite:fleetpki.db", "jdbc:sqlite:" + db))) {
                String token = token(ts);
                assertThat(enroll(ts, token, "before").status()).isEqualTo(201);
                Path filler = small.resolve("filler");
                // fill what is left of the file system (dd stops at ENOSPC)
                Proc.run(dir, Map.of(), "dd", "if=/dev/zero", "of=" + filler, "bs=64k");
                Map<String, String> received = new ConcurrentHashMap<>();
                int unavailable = 0;
                for (int i = 0; i < 200 && unavailable < 3; i++) {
                    Reply r = enroll(ts, token, "full-" + i);
                    if (r.status() == 201) {
                        Matcher m = SERIAL.matcher(r.body());
                        assertThat(m.find()).as(r.body()).isTrue();
                        received.put(m.group(1), "full-" + i);
                    } else {
                        assertUnavailable(r);
                        unavailable++;
                    }
                }
                assertThat(unavailable).as("a full disk refuses with 503").isEqualTo(3);
                Files.delete(filler);
                assertThat(enrollAsAClientWould(ts, token, "after-full")).as("the node recovered when space came back").isEqualTo(201);
                try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
                    ReceivedCertificates.assertStoredWithAudit(c, received);
                }
                assertThat(Cli.run(ts.home, "audit", "verify").exit()).isZero();
            }
        } finally {
            Proc.run(dir, Map.of(), "umount", "-l", small.toString());
        }
    }

    /** A new PostgreSQL database on the machine's server, named PREFIX + a unique suffix. */
    static String createDatabase(String prefix) throws Exception {
        String db = prefix + Long.toHexString(System.nanoTime());
        try (Connection admin = DriverManager.getConnection(PG + "postgres?user=postgres"); Statement s = admin.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        }
        return db;
    }

    static void dropDatabase(String db) throws Exception {
        try (Connection admin = DriverManager.getConnection(PG + "postgres?user=postgres"); Statement s = admin.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
        }
    }

    /** A server whose store is the database db, reached through the proxy (which the test cuts and brings down). */
    TestServer serverBehind(TcpProxy proxy, String db) throws Exception {
        return TestServer.start(dir, null, null, dev.fleetpki.server.FleetServer.Limits.DEFAULT,
                y -> y.replace("jdbc:sqlite:fleetpki.db", "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/" + db + "?user=postgres"));
    }

    static void assertUnavailable(Reply r) {
        assertThat(r.status()).as(r.body()).isEqualTo(503);
        assertThat(r.retryAfter()).as("Retry-After").isNotNull().matches("[1-9][0-9]*");
        assertThat(r.body()).contains("store-unavailable").doesNotContain("Exception").doesNotContain("password");
    }

    static void terminateBackends(String db) throws Exception {
        try (Connection c = DriverManager.getConnection(PG + "postgres?user=postgres");
             PreparedStatement ps = c.prepareStatement("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()")) {
            ps.setString(1, db);
            ps.executeQuery().close();
        }
    }

    record Reply(int status, String retryAfter, String body) {}

    static String token(TestServer ts) {
        Cli.Result tok = Cli.run(ts.home, "token", "create", "faults", "--role", "issuer");
        assertThat(tok.exit()).as(tok.all()).isZero();
        String[] tl = tok.out().trim().split("\n");
        return tl[tl.length - 1];
    }

    /**
     * What a client does after the fault: enroll, and on a 503 wait a second and send it again (at
     * most 5 times; a pooled connection the fault broke may still answer the first request with 503).
     * The status it ends with.
     */
    static int enrollAsAClientWould(TestServer ts, String token, String id) throws Exception {
        Reply r = enroll(ts, token, id);
        for (int i = 0; i < 5 && r.status() == 503; i++) {
            Thread.sleep(1_000);
            r = enroll(ts, token, id + "-" + i);
        }
        return r.status();
    }

    /** Registers a device and has a CSR for it certified over REST; the reply of the step that did not succeed, or of the certification. */
    static Reply enroll(TestServer ts, String token, String id) throws Exception {
        Reply added = post(ts, token, "/api/v1/devices", "{\"id\":\"" + id + "\"}");
        if (added.status() != 201) {
            return added;
        }
        String csr = dev.fleetpki.kms.Pem.encode("CERTIFICATE REQUEST", AuthorizationMatrixTest.csrDer(id, null)).replace("\n", "\\n");
        return post(ts, token, "/api/v1/certificate-requests", "{\"device\":\"" + id + "\",\"csr\":\"" + csr + "\"}");
    }

    static Reply post(TestServer ts, String token, String path, String json) throws Exception {
        var req = HttpRequest.newBuilder(URI.create(ts.base + path)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build();
        HttpResponse<String> r = ts.http.send(req, HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.headers().firstValue("Retry-After").orElse(null), r.body());
    }

    static Reply get(TestServer ts, String path) throws Exception {
        HttpResponse<String> r = ts.http.send(HttpRequest.newBuilder(URI.create(ts.base + path)).build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.headers().firstValue("Retry-After").orElse(null), r.body());
    }
}
