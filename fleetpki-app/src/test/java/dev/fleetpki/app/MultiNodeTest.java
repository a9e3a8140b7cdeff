package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import dev.fleetpki.cli.TestHome;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two {@code fleetpki serve} processes, each with its own home (two machines), on one PostgreSQL
 * database, behind nginx as a TCP load balancer (TLS passes through to the nodes). Under load
 * from both sides (EST and REST enrollments with one-time secrets through the balancer,
 * revocations, pending requests approved on one node and read on the other, the same secret sent to
 * both nodes at once) the shared store stays right: every certificate a client received is stored
 * with its audit event, no secret bought two, CRL numbers of each CA run 1, 2, 3 with none reused
 * or skipped, OCSP on either node says revoked, and the audit chain verifies.
 */
class MultiNodeTest {
    static final String PG = "jdbc:postgresql://127.0.0.1:5432/";
    static final Pattern SERIAL = Pattern.compile("\"serial\"\\s*:\\s*\"([0-9a-f]+)\"");
    static final Pattern SECRET = Pattern.compile("\"secret\"\\s*:\\s*\"([^\"]+)\"");

    @TempDir Path dir;

    record Node(Process process, int https, int http) {}

    @Test
    void twoNodesOnOnePostgresBehindNginxStayRightUnderLoadFromBothSides() throws Exception {
        String db = "fleetpki_nodes_" + Long.toHexString(System.nanoTime());
        try (Connection c = DriverManager.getConnection(PG + "postgres?user=postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        }
        List<Process> running = new ArrayList<>();
        try {
            Path h1 = TestHome.write(dir.resolve("node1"), "ecdsa-p256", PG + db + "?user=postgres", null, null);
            Files.writeString(h1.resolve("fleetpki.yaml"), """

                    enrollment:
                      fleets:
                        pend:
                          accept: []
                          otherwise: pending
                    """, java.nio.file.StandardOpenOption.APPEND);
            TestHome.init(h1);
            Path h2 = dir.resolve("node2");
            copyTree(h1, h2); // the second machine: same configuration, keys and CA files, same database
            String token = DurabilityOrderTest.token(h1, "load");

            Node n1 = start(h1, running);
            Node n2 = start(h2, running);
            int lb = Proc.freePort();
            int lbHttp = Proc.freePort();
            Path conf = dir.resolve("nginx.conf");
            Files.writeString(conf, """
                    load_module /usr/lib/nginx/modules/ngx_stream_module.so;
                    daemon off;
                    pid %1$s/nginx.pid;
                    error_log %1$s/nginx-error.log;
                    events {}
                    stream {
                        upstream fleet { server 127.0.0.1:%2$d; server 127.0.0.1:%3$d; }
                        server { listen 127.0.0.1:%4$d; proxy_pass fleet; }
                        upstream revocation { server 127.0.0.1:%5$d; server 127.0.0.1:%6$d; }
                        server { listen 127.0.0.1:%7$d; proxy_pass revocation; }
                    }
                    """.formatted(dir, n1.https(), n2.https(), lb, n1.http(), n2.http(), lbHttp));
            Process nginx = new ProcessBuilder("nginx", "-c", conf.toString(), "-p", dir.toString()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("nginx.out").toFile()).start();
            running.add(nginx);
            Proc.awaitListening(lb, dir.resolve("nginx.out"));

            X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(h1.resolve("ca/root.pem"))));
            SSLContext tls = trusting(root);
            String viaLb = "https://127.0.0.1:" + lb;

            // load: 8 clients through the balancer, each with its own connections (nginx spreads them over the nodes)
            Map<String, String> received = new ConcurrentHashMap<>();
            List<String> wrong = Collections.synchronizedList(new ArrayList<>());
            AtomicInteger revoked = new AtomicInteger();
            List<String> revokedSerials = Collections.synchronizedList(new ArrayList<>());
            int clients = 8;
            int perClient = 40;
            long t0 = System.nanoTime();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < clients; w++) {
                int worker = w;
                threads.add(Thread.ofPlatform().start(() -> {
                    HttpClient http = HttpClient.newBuilder().sslContext(tls).build();
                    for (int i = 0; i < perClient; i++) {
                        String id = "node-dev-" + worker + "-" + i;
                        try {
                            String secret = register(http, viaLb, token, id, null);
                            String serial = i % 2 == 0 ? est(http, viaLb, id, secret) : rest(http, viaLb, id, secret);
                            received.put(serial, id);
                            if (i % 10 == 3) {
                                HttpResponse<String> r = post(http, viaLb + "/api/v1/certificates/" + serial + "/revoke", token, "{\"reason\":\"superseded\"}");
                                if (r.statusCode() != 200) {
                                    wrong.add("revoke " + serial + ": " + r.statusCode() + " " + r.body());
                                } else {
                                    revoked.incrementAndGet();
                                    revokedSerials.add(serial);
                                }
                            }
                        } catch (Exception | AssertionError e) {
                            wrong.add(id + ": " + e);
                        }
                    }
                }));
            }
            for (Thread t : threads) {
                t.join(300_000);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertThat(wrong).isEmpty();
            assertThat(received).hasSize(clients * perClient);
            System.out.printf("two nodes behind nginx: %d enrollments (register, secret, enroll) and %d revocations in %.1f s: %.0f enrollments/s%n",
                    received.size(), revoked.get(), seconds, received.size() / seconds);

            // the same one-time secret sent to both nodes at the same moment buys one certificate
            HttpClient direct = HttpClient.newBuilder().sslContext(tls).build();
            int raced = 20;
            for (int i = 0; i < raced; i++) {
                String id = "race-" + i;
                String secret = register(direct, viaLb, token, id, null);
                String csr = csrPem(id);
                CyclicBarrier together = new CyclicBarrier(2);
                List<Integer> statuses = Collections.synchronizedList(new ArrayList<>());
                List<Thread> both = new ArrayList<>();
                for (int port : List.of(n1.https(), n2.https())) {
                    both.add(Thread.ofPlatform().start(() -> {
                        try {
                            together.await(10, TimeUnit.SECONDS);
                            HttpResponse<String> r = post(direct, "https://127.0.0.1:" + port + "/api/v1/certificate-requests", secret,
                                    "{\"device\":\"" + id + "\",\"csr\":\"" + csr + "\"}");
                            statuses.add(r.statusCode());
                            if (r.statusCode() == 201) {
                                Matcher m = SERIAL.matcher(r.body());
                                assertThat(m.find()).isTrue();
                                received.put(m.group(1), id);
                            }
                        } catch (Exception e) {
                            statuses.add(-1);
                        }
                    }));
                }
                for (Thread t : both) {
                    t.join(30_000);
                }
                assertThat(statuses).as(id + ": one certificate for one secret, the other node refuses").hasSize(2).containsOnlyOnce(201)
                        .allMatch(st -> st == 201 || (st >= 400 && st < 500));
            }

            // pending requests: kept on one node, approved on the other, read back on the first
            for (int i = 0; i < 5; i++) {
                String id = "pend-" + i;
                String secret = register(direct, viaLb, token, id, "pend");
                HttpResponse<String> kept = post(direct, "https://127.0.0.1:" + n1.https() + "/api/v1/certificate-requests", secret,
                        "{\"device\":\"" + id + "\",\"csr\":\"" + csrPem(id) + "\"}");
                assertThat(kept.statusCode()).as(kept.body()).isEqualTo(202);
                String location = kept.headers().firstValue("Location").orElseThrow();
                HttpResponse<String> approved = post(direct, "https://127.0.0.1:" + n2.https() + location + "/approve", token, "{}");
                assertThat(approved.statusCode()).as(approved.body()).isEqualTo(200);
                HttpResponse<String> read = direct.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + n1.https() + location))
                        .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(read.body()).contains("\"issued\"");
                Matcher m = SERIAL.matcher(read.body());
                assertThat(m.find()).as(read.body()).isTrue();
                received.put(m.group(1), id);
            }

            // OCSP on either node (and through the balancer) says revoked; CRLs were made after the revocations
            Files.writeString(dir.resolve("issuing.pem"), Files.readString(h1.resolve("ca/issuing.pem")));
            String one = revokedSerials.getFirst();
            for (int port : List.of(n1.http(), n2.http(), lbHttp)) {
                String out = "";
                for (int k = 0; k < 30 && !out.contains(": revoked"); k++) { // a node's OCSP cache follows the store within seconds
                    out = Proc.run(dir, Map.of(), "openssl", "ocsp", "-issuer", h1.resolve("ca/issuing.pem").toString(), "-serial", "0x" + one,
                            "-url", "http://127.0.0.1:" + port + "/ocsp", "-CAfile", h1.resolve("ca/root.pem").toString()).output();
                    if (!out.contains(": revoked")) {
                        Thread.sleep(500);
                    }
                }
                assertThat(out).as("OCSP on port " + port).containsIgnoringCase(one + ": revoked").contains("Response verify OK");
            }
            for (Process p : running) {
                Proc.stop(p);
            }
            running.clear();

            try (Connection c = DriverManager.getConnection(PG + db + "?user=postgres")) {
                // every certificate a client received is stored, for its device, with its issuance event; nothing else was issued
                // (but each node's own TLS certificate, protocol 'serve')
                dev.fleetpki.cli.ReceivedCertificates.assertStoredWithAudit(c, received);
                assertThat(count(c, "SELECT count(*) FROM certificate WHERE device_id IS NOT NULL AND protocol <> 'serve'")).as(rows(c,
                        "SELECT device_id || ' ' || serial || ' ' || protocol || ' ' || issued_by FROM certificate WHERE device_id IN "
                        + "(SELECT device_id FROM certificate GROUP BY device_id HAVING count(*) > 1)")).isEqualTo(received.size());
                assertThat(count(c, "SELECT count(*) FROM certificate WHERE revoked_at IS NOT NULL AND device_id IS NOT NULL")).isEqualTo(revoked.get());
                // each used secret names the one certificate it bought
                assertThat(count(c, "SELECT count(*) FROM enrollment_secret s JOIN certificate c ON c.serial = s.used_serial WHERE c.device_id = s.device_id"))
                        .isEqualTo(count(c, "SELECT count(*) FROM enrollment_secret WHERE used_at IS NOT NULL"));
                // CRL numbers of each CA: 1, 2, 3 ... as generated by whichever node, none reused or skipped
                Map<String, List<Long>> numbers = new TreeMap<>();
                try (ResultSet rs = c.createStatement().executeQuery("SELECT target, detail FROM audit_event WHERE action = 'crl.generate' ORDER BY seq")) {
                    while (rs.next()) {
                        Matcher m = Pattern.compile("\"number\"\\s*:\\s*\"?(\\d+)").matcher(rs.getString(2));
                        assertThat(m.find()).isTrue();
                        numbers.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(Long.parseLong(m.group(1)));
                    }
                }
                assertThat(numbers).containsKey("ca:issuing");
                numbers.forEach((ca, n) -> assertThat(n).as(ca).isEqualTo(Stream.iterate(1L, x -> x + 1).limit(n.size()).toList()));
                assertThat(numbers.get("ca:issuing").size()).as("CRLs made again after the revocations").isGreaterThan(1);
            }
            try (Connection c = DriverManager.getConnection(PG + "postgres?user=postgres");
                 ResultSet rs = c.createStatement().executeQuery("SELECT deadlocks FROM pg_stat_database WHERE datname = '" + db + "'")) {
                rs.next();
                assertThat(rs.getLong(1)).as("deadlocks PostgreSQL broke between the nodes' transactions (each stalls both for a second)").isZero();
            }
            Cli.Result verify = Cli.run(h1, "audit", "verify");
            assertThat(verify.exit()).as(verify.all()).isZero();
        } finally {
            for (Process p : running) {
                Proc.kill(p);
            }
            try (Connection c = DriverManager.getConnection(PG + "postgres?user=postgres"); Statement s = c.createStatement()) {
                s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
        }
    }

    static Node start(Path home, List<Process> running) throws Exception {
        int https = Proc.freePort();
        int http = Proc.freePort();
        Process p = new ProcessBuilder(Proc.java(List.of("-Xmx384m"), Main.class, "serve", "--home", home.toString(), "--port", String.valueOf(https),
                "--http-port", String.valueOf(http), "--hostname", "pki.fleet.example")).redirectErrorStream(true).start();
        running.add(p);
        assertThat(String.join("\n", Proc.awaitLine(p, "fleetpki serving https://"))).contains("fleetpki serving https://");
        Thread.ofVirtual().start(() -> { // keep draining its log so it never blocks on a full pipe
            try {
                p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            } catch (java.io.IOException ignored) {
                // ended
            }
        });
        return new Node(p, https, http);
    }

    /** Registers a device and gives it a one-time secret (both through whichever node answers). */
    static String register(HttpClient http, String base, String token, String id, String model) throws Exception {
        HttpResponse<String> added = post(http, base + "/api/v1/devices", token, "{\"id\":\"" + id + "\"" + (model == null ? "" : ",\"model\":\"" + model + "\"") + "}");
        assertThat(added.statusCode()).as(added.body()).isEqualTo(201);
        HttpResponse<String> s = post(http, base + "/api/v1/devices/" + id + "/enrollment-secret", token, "");
        assertThat(s.statusCode()).as(s.body()).isEqualTo(201);
        Matcher m = SECRET.matcher(s.body());
        assertThat(m.find()).isTrue();
        return m.group(1);
    }

    static String est(HttpClient http, String base, String id, String secret) throws Exception {
        byte[] der = Base64.getMimeDecoder().decode(csrPem(id).replace("\\n", "\n")
                .replaceAll("-----[A-Z ]+-----", ""));
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/.well-known/est/simpleenroll"))
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString((id + ":" + secret).getBytes(StandardCharsets.UTF_8)))
                .header("Content-Type", "application/pkcs10").POST(HttpRequest.BodyPublishers.ofString(Base64.getEncoder().encodeToString(der)))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509")
                .generateCertificates(new ByteArrayInputStream(Base64.getMimeDecoder().decode(r.body())));
        X509Certificate leaf = (X509Certificate) certs.iterator().next();
        assertThat(leaf.getSubjectX500Principal().getName()).contains("CN=" + id);
        return leaf.getSerialNumber().toString(16);
    }

    static String rest(HttpClient http, String base, String id, String secret) throws Exception {
        HttpResponse<String> r = post(http, base + "/api/v1/certificate-requests", secret, "{\"device\":\"" + id + "\",\"csr\":\"" + csrPem(id) + "\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
        Matcher m = SERIAL.matcher(r.body());
        assertThat(m.find()).isTrue();
        return m.group(1);
    }

    /** A P-256 CSR for the device, PEM with its newlines escaped for JSON. */
    static String csrPem(String id) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair kp = g.generateKeyPair();
        byte[] der = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + id), kp.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())).getEncoded();
        return ("-----BEGIN CERTIFICATE REQUEST-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
                + "\n-----END CERTIFICATE REQUEST-----\n").replace("\n", "\\n");
    }

    static HttpResponse<String> post(HttpClient http, String url, String bearer, String json) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + bearer)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static long count(Connection c, String sql) throws Exception {
        try (ResultSet rs = c.createStatement().executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static String rows(Connection c, String sql) throws Exception {
        StringBuilder b = new StringBuilder();
        try (ResultSet rs = c.createStatement().executeQuery(sql)) {
            while (rs.next()) {
                b.append(rs.getString(1)).append('\n');
            }
        }
        return b.toString();
    }

    static SSLContext trusting(X509Certificate root) throws Exception {
        return dev.fleetpki.cli.TestTls.trusting(root);
    }

    static void copyTree(Path from, Path to) throws Exception {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }
}
