package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SCEP with certmonger, the enrollment daemon of RHEL and Debian, and its stock SCEP helper
 * ({@code /usr/lib/certmonger/scep-submit}, package certmonger) against a running fleetpki:
 * it enrolls with the device's one-time secret as its challenge password, renews with a new key (getcert rekey: a RenewalReq
 * signed by the certificate it holds), and is refused with the same secret again, an altered
 * secret, and another device's secret; the refusals leave that device's secret usable.
 * certmonger runs in a D-Bus session of its own, inside a private mount namespace
 * ({@code src/test/resources/certmonger/scep.sh} says why), which needs root, as in CI.
 */
class CertmongerScepTest {
    @TempDir static Path dir;

    @Test
    void certmongerEnrollsRenewsAndIsRefusedWithAUsedAWrongAndAForeignChallenge() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "certmonger runs in a private mount namespace, which needs root (CI runs as root)");
        try (TestServer ts = TestServer.start(dir.resolve("server"), null)) {
            String s1 = ScepTest.secretOn(ts, "cm-1");
            String s2 = ScepTest.secretOn(ts, "cm-2");
            Path out = Files.createDirectories(dir.resolve("out"));
            Path home = Files.createDirectories(dir.resolve("home"));
            Path script = Path.of("src/test/resources/certmonger/scep.sh").toAbsolutePath();
            Proc.Result r = Proc.run(dir, Map.of("HOME", home.toString(), "URL", "https://" + TestServer.HOST + ":" + ts.server.port() + "/scep",
                    "HOST", TestServer.HOST, "ROOT", ts.home.resolve("ca/root.pem").toString(), "ISSUING", ts.home.resolve("ca/issuing.pem").toString(),
                    "OUT", out.toString(), "DEV1", "cm-1", "SECRET1", s1, "DEV2", "cm-2", "SECRET2", s2),
                    "timeout", "300", "unshare", "--mount", "--", "dbus-run-session", "--", "bash", script.toString());
            String o = r.output();
            assertThat(o).as(o).contains("enroll MONITORING").contains("renew MONITORING").contains("enroll-2 MONITORING");
            assertThat(Proc.ok(dir, "openssl", "x509", "-in", out.resolve("two.pem").toString(), "-noout", "-subject")).contains("CN = cm-2");
            String first = Files.readString(out.resolve("serial-1")).trim();
            String renewed = Files.readString(out.resolve("serial-2")).trim();
            assertThat(first).startsWith("serial=");
            assertThat(renewed).as("rekey renewed the certificate").startsWith("serial=").isNotEqualTo(first);
            var c = ts.fleet.store().certificates().certificate(renewed.substring("serial=".length()).toLowerCase()).orElseThrow();
            assertThat(c.issued().deviceId()).isEqualTo("cm-1");
            assertThat(c.issued().protocol()).isEqualTo("scep-renewal");
            for (String refused : new String[] {"reused", "wrong", "foreign"}) {
                assertThat(o).as(o).containsPattern(refused + " (CA_REJECTED|CA_UNREACHABLE)");
                assertThat(out.resolve(refused + ".pem")).doesNotExist();
            }
            assertThat(ts.fleet.store().certificates().certificates("cm-2-other", java.time.Instant.now(), null, 5)).isEmpty();
        }
    }
}
