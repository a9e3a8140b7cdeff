package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.store.Database;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * "A crash at any point never yields a returned certificate that is missing from the store":
 * {@code fleetpki sign} runs in a separate JVM that is halted (as by a power cut) at each stage
 * of issuance, and killed with SIGKILL at spread-out moments. Whatever a run printed must be in
 * the store with its audit event; the store must open, verify its audit chain, and issue again.
 */
class CrashRecoveryTest {
    @TempDir
    Path dir;

    record Run(int exit, String out) {}

    @Test
    void aCrashAtAnyPointNeverLeavesAReturnedCertificateOutOfTheStore() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        assertThat(Cli.run(home, "device", "add", "sensor-1").exit()).isZero();
        Path csr = TestHome.opensslCsr(dir, "sensor-1", "ec", "/CN=sensor-1", "-pkeyopt", "ec_paramgen_curve:P-256");
        List<String> returned = new ArrayList<>();

        // halted at each stage: nothing printed; stored only once committed
        for (String point : List.of("issue.reserved", "issue.signed", "issue.committed")) {
            long before = count(home, "SELECT COUNT(*) FROM certificate");
            Run r = sign(home, csr, point, -1);
            assertThat(r.exit()).as(point + ": " + r.out()).isEqualTo(137);
            assertThat(r.out()).as(point).doesNotContain("BEGIN CERTIFICATE");
            assertThat(count(home, "SELECT COUNT(*) FROM certificate")).as(point).isEqualTo(point.equals("issue.committed") ? before + 1 : before);
        }

        // SIGKILL at spread-out moments of a real run (JVM start, store open, signing, commit, printing)
        int killedSilent = 0;
        for (long delay : new long[] {150, 400, 700, 900, 1100, 1300, 1500, 1800, 2200, 3000}) {
            Run r = sign(home, csr, null, delay);
            if (r.out().contains("BEGIN CERTIFICATE")) {
                returned.add(serialOfFirst(r.out()));
            } else {
                killedSilent++;
            }
        }
        Run complete = sign(home, csr, null, -1);
        assertThat(complete.exit()).as(complete.out()).isZero();
        returned.add(serialOfFirst(complete.out()));
        assertThat(killedSilent).as("some runs must have died before printing, or the test proves nothing").isPositive();

        for (String serial : returned) {
            Cli.Result show = Cli.run(home, "cert", "show", serial);
            assertThat(show.exit()).as("certificate " + serial + " was printed, so it must be stored: " + show.all()).isZero();
        }
        // every stored certificate has its audit event, and the chain is intact
        assertThat(count(home, "SELECT COUNT(*) FROM audit_event WHERE action = 'certificate.issue'"))
                .isEqualTo(count(home, "SELECT COUNT(*) FROM certificate"));
        Cli.Result verify = Cli.run(home, "audit", "verify");
        assertThat(verify.exit()).as(verify.all()).isZero();
    }

    /** Runs {@code fleetpki sign} in a new JVM; halts it at a failpoint, or kills it after a delay (ms; -1: let it finish). */
    private Run sign(Path home, Path csr, String failpoint, long killAfterMillis) throws Exception {
        List<String> cmd = Proc.java(failpoint == null ? List.of() : List.of("-Dfleetpki.failpoint=" + failpoint), Main.class,
                "sign", "--csr", csr.toString(), "--device", "sensor-1", "--home", home.toString());
        Path out = Files.createTempFile(dir, "out", ".txt");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (killAfterMillis >= 0 && !p.waitFor(killAfterMillis, TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
        }
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    private static String serialOfFirst(String pem) throws Exception {
        int a = pem.indexOf("-----BEGIN CERTIFICATE-----");
        int b = pem.indexOf("-----END CERTIFICATE-----", a) + "-----END CERTIFICATE-----".length();
        X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(pem.substring(a, b).getBytes(StandardCharsets.US_ASCII)));
        return c.getSerialNumber().toString(16);
    }

    private static long count(Path home, String sql) throws Exception {
        try (Database db = Database.open("jdbc:sqlite:fleetpki.db", null, null, home); Connection c = db.read(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
