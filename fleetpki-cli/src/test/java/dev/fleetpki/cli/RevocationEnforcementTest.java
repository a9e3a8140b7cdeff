package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real servers that check revocation from fleetpki's CRLs (Debian nginx and mosquitto): a good
 * device gets in, a device from a foreign CA does not, and a device that got in before its
 * revocation is refused once the CRL bundle is exported again and the server reloads it. The
 * control is the same device before the refresh, with the same configuration: the refusal comes
 * from the CRL, which the servers' logs name.
 */
class RevocationEnforcementTest {
    @TempDir Path dir;
    private Path home;
    private Path work;

    @BeforeEach
    void fleet() throws Exception {
        home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        work = Files.createDirectories(dir.resolve("work"));
        // the servers' own certificate, from fleetpki's server-tls profile
        TestHome.serverCertificate(home, work, "broker.fleet.example");
        for (String d : List.of("sensor-good", "sensor-lost")) {
            assertThat(Cli.run(home, "device", "add", d).exit()).isZero();
            Path c = TestHome.opensslCsr(work, d, "ec", "/CN=" + d, "-pkeyopt", "ec_paramgen_curve:P-256");
            assertThat(Cli.run(home, "sign", "--csr", c.toString(), "--device", d, "--out", work.resolve(d + ".crt").toString()).exit()).isZero();
        }
        // a device of another CA (same names, different keys)
        Path other = TestHome.write(dir.resolve("other"), "ecdsa-p256", null, null);
        TestHome.init(other);
        assertThat(Cli.run(other, "device", "add", "sensor-foreign").exit()).isZero();
        Path fc = TestHome.opensslCsr(work, "sensor-foreign", "ec", "/CN=sensor-foreign", "-pkeyopt", "ec_paramgen_curve:P-256");
        assertThat(Cli.run(other, "sign", "--csr", fc.toString(), "--device", "sensor-foreign", "--out", work.resolve("sensor-foreign.crt").toString())
                .exit()).isZero();
    }

    private void revokeLost() {
        String serial = Cli.run(home, "device", "show", "sensor-lost").out().lines().filter(l -> l.matches("\\s+[0-9a-f]{20,40}\\s.*"))
                .map(l -> l.trim().split("\\s+")[0]).findFirst().orElseThrow();
        Cli.Result r = Cli.run(home, "revoke", serial, "--reason", "key-compromise");
        assertThat(r.exit()).as(r.all()).isZero();
    }

    @Test
    void nginxRefusesARevokedDeviceAfterTheCrlRefresh() throws Exception {
        try (TestNginx nginx = new TestNginx(home, work)) { // work's server.crt and CA bundle from fleet()
            int port = nginx.port;
            assertThat(curl(port, "sensor-good").output()).contains("hello CN=sensor-good");
            assertThat(curl(port, "sensor-lost").output()).as("control: accepted before its revocation").contains("hello CN=sensor-lost");
            assertThat(curl(port, "sensor-foreign").output()).contains("400").doesNotContain("hello");

            revokeLost();
            nginx.refreshCrls();
            String refused = "";
            for (int i = 0; i < 50 && !refused.contains("400"); i++) { // the reload takes effect within moments
                Thread.sleep(100);
                refused = curl(port, "sensor-lost").output();
            }
            assertThat(refused).contains("400").doesNotContain("hello");
            assertThat(nginx.errorLog()).contains("certificate revoked");
            assertThat(curl(port, "sensor-good").output()).contains("hello CN=sensor-good");
        }
    }

    private Proc.Result curl(int port, String device) {
        return Proc.run(work, Map.of(), "curl", "-sS", "--max-time", "10", "--resolve", "broker.fleet.example:" + port + ":127.0.0.1",
                "--cacert", home.resolve("ca/root.pem").toString(), "--cert", work.resolve(device + ".crt").toString(),
                "--key", work.resolve(device + ".key").toString(), "https://broker.fleet.example:" + port + "/");
    }

    @Test
    void mosquittoRefusesARevokedDeviceAfterTheCrlRefresh() throws Exception {
        try (TestBroker broker = new TestBroker(home, work)) { // work's server.crt and CA bundle from fleet()
            int port = broker.port;
            assertThat(publish(port, "sensor-good").exit()).as(publish(port, "sensor-good").output()).isZero();
            assertThat(publish(port, "sensor-lost").exit()).as("control: accepted before its revocation").isZero();
            assertThat(publish(port, "sensor-foreign").exit()).isNotZero();

            revokeLost();
            broker.refreshCrls(); // mosquitto 2.0 reads crlfile when a listener starts: the refresh loop restarts it (docs/revocation.md)
            Proc.Result refused = publish(port, "sensor-lost");
            assertThat(refused.exit()).as(refused.output()).isNotZero();
            // mosquitto_pub only says the connection was lost; OpenSSL's client shows the broker's TLS alert
            Proc.Result alert = Proc.run(work, Map.of(), "sh", "-c", "echo | openssl s_client -connect 127.0.0.1:" + port + " -CAfile ca.pem"
                    + " -cert sensor-lost.crt -key sensor-lost.key -ign_eof 2>&1");
            assertThat(alert.output()).contains("certificate revoked");
            assertThat(publish(port, "sensor-good").exit()).isZero();

            // control: the same broker without the crlfile line lets the revoked device in, so the refusal was the CRL's
            broker.dropCrlFile();
            assertThat(publish(port, "sensor-lost").exit()).isZero();
        }
    }

    /** Publishes with QoS 1, so success means the broker accepted the device and acknowledged the message. */
    private Proc.Result publish(int port, String device) {
        // --insecure only skips the host name check (the broker is reached as 127.0.0.1); the chain is still verified against ca.pem
        return Proc.run(work, Map.of(), "mosquitto_pub", "-h", "127.0.0.1", "-p", Integer.toString(port), "--cafile", work.resolve("ca.pem").toString(),
                "--cert", work.resolve(device + ".crt").toString(), "--key", work.resolve(device + ".key").toString(), "--insecure",
                "-q", "1", "-t", "fleet/" + device + "/hello", "-m", "hi", "-i", device);
    }
}
