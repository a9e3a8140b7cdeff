package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SCEP against a running fleetpki with a stock client: micromdm's scepclient (Debian package scep)
 * enrolls with the device's one-time enrollment secret as its challenge password, and is refused
 * with another device's secret and with a secret already used.
 */
class ScepTest {
    @TempDir static Path dir;
    static TestServer ts;

    @BeforeAll
    static void start() throws Exception {
        ts = TestServer.start(dir, null);
    }

    @AfterAll
    static void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    static String secret(String device) {
        Cli.Result r = Cli.run(ts.home, "device", "add", device, "--enrollment-secret");
        assertThat(r.exit()).as(r.all()).isZero();
        String[] lines = r.out().trim().split("\n");
        return lines[lines.length - 1];
    }

    static Proc.Result scepclient(Path in, String cn, String challenge) throws Exception {
        Files.createDirectories(in);
        return Proc.run(in, Map.of("SSL_CERT_FILE", ts.home.resolve("ca/root.pem").toString()), "scepclient", "-server-url", ts.base + "/scep",
                "-challenge", challenge, "-cn", cn, "-private-key", in.resolve("key.pem").toString(), "-certificate", in.resolve("cert.pem").toString());
    }

    @Test
    void scepclientEnrollsWithItsOneTimeSecretAndOnlyWithIt() throws Exception {
        String s7 = secret("router-7");
        Proc.Result ok = scepclient(dir.resolve("r7"), "router-7", s7);
        assertThat(ok.exit()).as(ok.output()).isZero();
        Path cert = dir.resolve("r7/cert.pem");
        assertThat(Proc.ok(dir, "openssl", "x509", "-in", cert.toString(), "-noout", "-subject", "-ext", "extendedKeyUsage"))
                .contains("CN = router-7").contains("TLS Web Client Authentication");
        Files.writeString(dir.resolve("chain.pem"), Files.readString(ts.home.resolve("ca/issuing.pem")));
        assertThat(Proc.ok(dir, "openssl", "verify", "-CAfile", ts.home.resolve("ca/root.pem").toString(), "-untrusted",
                dir.resolve("chain.pem").toString(), cert.toString())).contains(": OK");

        long before = ts.fleet.store().certificates().certificateCount();
        Proc.Result reused = scepclient(dir.resolve("r7-again"), "router-7", s7);
        assertThat(reused.exit()).as(reused.output()).isNotZero();
        String s8 = secret("router-8");
        Proc.Result foreign = scepclient(dir.resolve("r9"), "router-9", s8);
        assertThat(foreign.exit()).as(foreign.output()).isNotZero();
        assertThat(dir.resolve("r9/cert.pem")).doesNotExist();
        assertThat(ts.fleet.store().certificates().certificateCount()).isEqualTo(before);
        // the refusals used nothing up: router-8's secret still enrolls router-8
        assertThat(scepclient(dir.resolve("r8"), "router-8", s8).exit()).isZero();
    }
}
