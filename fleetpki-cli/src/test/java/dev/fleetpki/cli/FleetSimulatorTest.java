package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.FleetSimulator;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 200 simulated devices against a real {@code fleetpki serve} and a real mosquitto with TLS
 * client-certificate auth and fleetpki's CRL: every device is registered through the REST API,
 * enrolls over EST, publishes over mutual TLS and renews with a new key; 10 are revoked through the
 * API, and after the broker's CRL refresh they are refused while the other 190 still get in.
 */
class FleetSimulatorTest {
    @TempDir Path dir;

    @Test
    void twoHundredDevicesEnrollPublishRenewAndTheRevokedAreLockedOut() throws Exception {
        try (TestServer ts = TestServer.start(dir, null); TestBroker broker = new TestBroker(ts.home, dir.resolve("broker"))) {
            String token = Cli.run(ts.home, "token", "create", "simulator", "--role", "issuer").out().trim();
            ByteArrayOutputStream progress = new ByteArrayOutputStream();
            FleetSimulator.Summary s = new FleetSimulator().run(new FleetSimulator.Options(URI.create(ts.base),
                    DeviceIdentity.certificate(Files.readAllBytes(ts.home.resolve("ca/root.pem"))), token.toCharArray(), 200, "sim-", 32,
                    broker.address(), TestBroker.NAME, 10, true, Duration.ofSeconds(30), broker::refreshCrls),
                    new PrintStream(progress, true, StandardCharsets.UTF_8));
            assertThat(s.failures()).as(s.render()).isEmpty();
            assertThat(s.enrolled()).isEqualTo(200);
            assertThat(s.published()).isEqualTo(200);
            assertThat(s.renewed()).isEqualTo(200);
            assertThat(s.revoked()).isEqualTo(10);
            assertThat(s.lockedOut()).isEqualTo(10);
            assertThat(s.stillConnected()).isEqualTo(190);
            assertThat(s.enrollMillis()).hasSize(200);
            assertThat(s.render()).contains("enrolled         200").contains("p99");
            assertThat(progress.toString(StandardCharsets.UTF_8)).contains("200/200 devices, 0 failed").contains("revoked 10 devices");
            // the server saw them: 200 devices, each with its enrollment and its renewal (and the broker's certificate)
            assertThat(ts.fleet.store().certificates().certificateCount()).isGreaterThanOrEqualTo(401);
        }
    }
}
