package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import dev.fleetpki.cli.TestHome;
import java.io.ByteArrayInputStream;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PostgreSQL restarted under a serving node's load (a throw-away cluster, {@code pg_ctlcluster
 * restart}: every session ends, the server is gone for a moment, then accepts connections again):
 * clients get 201 or 503 with Retry-After, never anything else; the node issues again after the
 * restart without being restarted itself; every certificate a client received is stored with its
 * audit event and the chain verifies.
 */
class PostgresRestartTest {
    @TempDir Path dir;

    @Test
    void aRestartOfPostgresMidLoadGives503sAndTheNodeCarriesOn() throws Exception {
        String cluster = "fpkitest_restart";
        int pgPort = Proc.freePort();
        List<Process> running = new ArrayList<>();
        try {
            PgClusters.primary(cluster, pgPort);
            String url = "jdbc:postgresql://127.0.0.1:" + pgPort + "/fleet?user=postgres";
            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pgPort + "/postgres?user=postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE fleet");
            }
            Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", url, null, null);
            TestHome.init(home);
            String token = DurabilityOrderTest.token(home, "restart");
            MultiNodeTest.Node node = MultiNodeTest.start(home, running);
            X509Certificate root = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(home.resolve("ca/root.pem"))));
            HttpClient http = HttpClient.newBuilder().sslContext(MultiNodeTest.trusting(root)).build();
            String base = "https://127.0.0.1:" + node.https();

            RestLoad load = RestLoad.start(http, base, token, "rs", 4, 0);
            try {
                StandbyFailoverTest.await(() -> load.received.size() >= 100, "certificates before the restart");
                Proc.ok(dir, "pg_ctlcluster", "--skip-systemctl-redirect", PgClusters.VERSION, cluster, "restart", "-m", "fast");
                load.mark();
                StandbyFailoverTest.await(() -> load.afterMark.get() >= 100, "certificates after the restart");
            } finally {
                load.close();
            }
            assertThat(load.wrong).as("every answer is 201 or 503 with Retry-After").isEmpty();
            System.out.printf("PostgreSQL restart: %d certificates, %d answers 503 during the restart, %d certificates after it%n",
                    load.received.size(), load.unavailable.get(), load.afterMark.get());
            try (Connection c = DriverManager.getConnection(url)) {
                dev.fleetpki.cli.ReceivedCertificates.assertStoredWithAudit(c, load.received);
            }
            Cli.Result verify = Cli.run(home, "audit", "verify");
            assertThat(verify.exit()).as(verify.all()).isZero();
        } finally {
            for (Process p : running) {
                Proc.kill(p);
            }
            PgClusters.drop(cluster);
        }
    }
}
