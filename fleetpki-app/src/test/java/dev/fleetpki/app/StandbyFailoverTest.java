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
import java.util.Map;
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
            String token = DurabilityOrderTest.token(writer, "failover");

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
            String after;
            RestLoad load = RestLoad.start(http, base, token, "fo", 4, 5);
            try {
                await(() -> load.received.size() >= 150 && load.revoked.size() >= 5, "certificates and revocations before the crash");
                String before = load.revoked.getLast();

                PgClusters.crash(primary); // the primary is gone mid-load
                // the read-only node on the standby answers OCSP while there is no primary
                assertThat(ocsp(writer, replicaHttp, before)).contains(": revoked");
                Thread.sleep(1_000);
                PgClusters.promote(standby);
                load.mark();
                await(() -> load.afterMark.get() >= 100, "certificates issued by the writable node after the promotion");
                int revokedBefore = load.revoked.size();
                await(() -> load.revoked.size() > revokedBefore, "a revocation after the promotion");
            } finally {
                load.close();
            }
            Map<String, String> received = load.received;
            List<String> revoked = load.revoked;
            assertThat(load.wrong).as("every answer is a success or 503 with Retry-After").isEmpty();
            after = revoked.getLast();
            String seen = "";
            for (int k = 0; k < 30 && !seen.contains(": revoked"); k++) {
                seen = ocsp(writer, replicaHttp, after);
                Thread.sleep(seen.contains(": revoked") ? 0 : 500);
            }
            assertThat(seen).as("the read-only node sees a revocation made after the promotion").contains(": revoked");
            System.out.printf("standby failover: %d certificates, %d revocations, %d answered 503 while there was no primary, %d issued after the promotion%n",
                    received.size(), revoked.size(), load.unavailable.get(), load.afterMark.get());

            try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + sp + "/fleet?user=postgres")) {
                dev.fleetpki.cli.ReceivedCertificates.assertStoredWithAudit(c, received); // on the promoted standby
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
