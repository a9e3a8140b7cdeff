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
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Durability ordering, seen at the system-call level: every certificate's bytes reach the client
 * only after the fsync/fdatasync of the commit that holds it has returned. strace makes every such
 * call on the store's write-ahead log take 400 ms longer (fault injection, {@code delay_exit}) and
 * records when each began; a client then enrolls devices one after the other and notes when it sent
 * each request and when the certificate arrived. For every certificate there must be a sync of the
 * log that began after the request was sent and ended (began + 400 ms) before the certificate
 * arrived. On SQLite the syncs are the server's own (the JVM runs under strace); on PostgreSQL they are
 * the database server's (strace attached to a throw-away cluster's postmaster and its backends).
 * A server that answered from the page cache before the sync would answer in well under 400 ms.
 */
class DurabilityOrderTest {
    static final long DELAY_MICROS = 400_000;
    static final Pattern SYNC = Pattern.compile("^\\d+\\s+(\\d+\\.\\d+)\\s+(?:fdatasync|fsync)\\(\\d+<([^>]*)>");

    @TempDir Path dir;

    record Exchange(double sent, double received, String serial) {}

    @Test
    void onSqliteTheCertificateIsSentOnlyAfterTheServersSyncOfItsCommit() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        String token = token(home, "durable");
        Path trace = dir.resolve("strace.txt");
        int port = Proc.freePort();
        List<String> cmd = new ArrayList<>(List.of("strace", "-f", "--seccomp-bpf", "-qq", "-ttt", "-y", "-e", "trace=fsync,fdatasync",
                "-e", "inject=fsync,fdatasync:delay_exit=" + DELAY_MICROS, "-o", trace.toString()));
        cmd.addAll(Proc.java(List.of("-Xmx384m"), Main.class, "serve", "--home", home.toString(), "--port", String.valueOf(port),
                "--http-port", "-1", "--hostname", "pki.fleet.example"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            assertThat(String.join("\n", Proc.awaitLine(p, "fleetpki serving https://"))).contains("fleetpki serving https://");
            StandbyFailoverTest.drain(p);
            List<Exchange> exchanges = enroll(home, port, token, 8);
            Proc.stop(p);
            assertEachAfterItsSync(exchanges, Files.readAllLines(trace), "/fleetpki.db-wal");
        } finally {
            Proc.kill(p);
        }
    }

    @Test
    void onPostgresqlTheCertificateIsSentOnlyAfterTheDatabasesSyncOfItsCommit() throws Exception {
        String cluster = "fpkitest_durable";
        int pgPort = Proc.freePort();
        Process strace = null;
        Process node = null;
        try {
            PgClusters.primary(cluster, pgPort);
            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pgPort + "/postgres?user=postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE fleet");
            }
            Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", "jdbc:postgresql://127.0.0.1:" + pgPort + "/fleet?user=postgres", null, null);
            TestHome.init(home);
            String token = token(home, "durable");
            int port = Proc.freePort();
            node = new ProcessBuilder(Proc.java(List.of("-Xmx384m"), Main.class, "serve", "--home", home.toString(), "--port", String.valueOf(port),
                    "--http-port", "-1", "--hostname", "pki.fleet.example")).redirectErrorStream(true).start();
            assertThat(String.join("\n", Proc.awaitLine(node, "fleetpki serving https://"))).contains("fleetpki serving https://");
            StandbyFailoverTest.drain(node);

            String postmaster = Files.readAllLines(Path.of("/var/lib/postgresql", PgClusters.VERSION, cluster, "postmaster.pid")).getFirst().trim();
            // attach to the postmaster and every process it has (the node's backends) and will have
            Path trace = dir.resolve("strace.txt");
            List<String> cmd = new ArrayList<>(List.of("strace", "-f", "-qq", "-ttt", "-y", "-e", "trace=fsync,fdatasync",
                    "-e", "inject=fsync,fdatasync:delay_exit=" + DELAY_MICROS, "-o", trace.toString(), "-p", postmaster));
            for (String child : Proc.ok(dir, "pgrep", "-P", postmaster).trim().split("\\s+")) {
                cmd.add("-p");
                cmd.add(child);
            }
            strace = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("strace.out").toFile()).start();
            Thread.sleep(1_000); // attached
            List<Exchange> exchanges = enroll(home, port, token, 8);
            strace.destroy();
            strace.waitFor();
            assertEachAfterItsSync(exchanges, Files.readAllLines(trace), "/pg_wal/");
        } finally {
            if (node != null) {
                Proc.kill(node);
            }
            if (strace != null) {
                strace.destroyForcibly();
            }
            PgClusters.drop(cluster);
        }
    }

    /** An admin API token made with the CLI on this home (the last line it prints). */
    static String token(Path home, String name) {
        Cli.Result tok = Cli.run(home, "token", "create", name, "--role", "admin");
        assertThat(tok.exit()).as(tok.all()).isZero();
        String[] tl = tok.out().trim().split("\n");
        return tl[tl.length - 1];
    }

    /** One enrollment after the other (register, then certify): when each certification was sent and when its certificate came. */
    static List<Exchange> enroll(Path home, int port, String token, int n) throws Exception {
        X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(home.resolve("ca/root.pem"))));
        HttpClient http = HttpClient.newBuilder().sslContext(MultiNodeTest.trusting(root)).build();
        String base = "https://127.0.0.1:" + port;
        List<Exchange> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String id = "durable-" + i;
            assertThat(MultiNodeTest.post(http, base + "/api/v1/devices", token, "{\"id\":\"" + id + "\"}").statusCode()).isEqualTo(201);
            String body = "{\"device\":\"" + id + "\",\"csr\":\"" + MultiNodeTest.csrPem(id) + "\"}";
            double sent = now();
            HttpResponse<String> r = MultiNodeTest.post(http, base + "/api/v1/certificate-requests", token, body);
            double received = now();
            assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
            Matcher m = MultiNodeTest.SERIAL.matcher(r.body());
            assertThat(m.find()).isTrue();
            out.add(new Exchange(sent, received, m.group(1)));
        }
        return out;
    }

    static double now() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() + t.getNano() / 1e9;
    }

    static void assertEachAfterItsSync(List<Exchange> exchanges, List<String> trace, String logPath) {
        List<Double> syncs = new ArrayList<>();
        for (String line : trace) {
            Matcher m = SYNC.matcher(line);
            if (m.find() && m.group(2).contains(logPath)) {
                syncs.add(Double.parseDouble(m.group(1)));
            }
        }
        assertThat(syncs).as("syncs of " + logPath + " in the trace").isNotEmpty();
        double delay = DELAY_MICROS / 1e6;
        for (Exchange e : exchanges) {
            assertThat(e.received() - e.sent()).as("certificate " + e.serial() + " waited for its commit's delayed sync").isGreaterThanOrEqualTo(delay);
            assertThat(syncs).as("a sync of the log began after certificate " + e.serial() + " was asked for and ended before it arrived")
                    .anyMatch(s -> s > e.sent() && s + delay <= e.received());
        }
    }
}
