package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.device.DeviceException;
import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.MqttTlsClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device enrolled with the SDK uses its certificate: mutual TLS to a real mosquitto that requires
 * client certificates, takes the device id from the certificate and reads fleetpki's CRLs. The
 * device connects and publishes (QoS 1, acknowledged); once revoked (and the broker restarted on
 * the new CRL, as docs/revocation.md wires it) it is refused; the SDK refuses a broker whose
 * certificate does not name the host it expects.
 */
class DeviceMqttTest {
    @TempDir Path dir;

    @Test
    void anEnrolledDevicePublishesOverMutualTlsAndIsLockedOutOnceRevoked() throws Exception {
        try (TestServer ts = TestServer.start(dir, null); TestBroker broker = new TestBroker(ts.home, dir.resolve("broker"))) {
            Path device = dir.resolve("device");
            DeviceIdentity id = ts.enrolledDevice(device, "mq-1", null);

            try (MqttTlsClient c = MqttTlsClient.connect(broker.address(), TestBroker.NAME, id, Duration.ofSeconds(5))) {
                c.publish("fleet/mq-1/telemetry", "{\"t\":21.5}".getBytes());
            }
            assertThat(broker.log()).contains("as mq-1").contains("u'mq-1'");
            // the same from the fleetpki-device command (its folder: device.properties and anchor.pem beside the key)
            Files.writeString(device.resolve("device.properties"), "id=mq-1\nserver=" + ts.base + "/.well-known/est\npassphrase=file:"
                    + device.resolve("passphrase") + "\n");
            Files.copy(ts.home.resolve("ca/root.pem"), device.resolve("anchor.pem"));
            Cli.Result pub = DeviceCommandTest.device("publish", "--dir", device.toString(), "--broker", TestBroker.NAME + ":" + broker.port,
                    "--connect-to", "127.0.0.1", "--topic", "fleet/mq-1/status", "--message", "online");
            assertThat(pub.exit()).as(pub.err()).isZero();
            assertThat(pub.out()).contains("Published to fleet/mq-1/status as mq-1");
            // the SDK checks the broker's name too: the same broker under another name is refused
            assertThatThrownBy(() -> MqttTlsClient.connect(broker.address(), "other.fleet.example", id, Duration.ofSeconds(5)))
                    .isInstanceOf(DeviceException.class).hasMessageContaining("TLS with the broker other.fleet.example failed");

            // nothing listening: said as such, not mistaken for a broker that ended the connection
            int closedPort;
            try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                closedPort = probe.getLocalPort();
            }
            assertThatThrownBy(() -> MqttTlsClient.connect(new java.net.InetSocketAddress("127.0.0.1", closedPort), TestBroker.NAME, id, Duration.ofSeconds(5)))
                    .isInstanceOf(DeviceException.class).hasMessageContaining("cannot reach the broker");

            String serial = id.chain().orElseThrow().getFirst().getSerialNumber().toString(16);
            assertThat(Cli.run(ts.home, "revoke", serial, "--reason", "key-compromise").exit()).isZero();
            broker.refreshCrls();
            assertThatThrownBy(() -> {
                try (MqttTlsClient c = MqttTlsClient.connect(broker.address(), TestBroker.NAME, id, Duration.ofSeconds(5))) {
                    c.publish("fleet/mq-1/telemetry", "{\"t\":22}".getBytes());
                }
            }).isInstanceOf(DeviceException.class)
                    // the broker's TLS alert; when the broker's close overtakes the device's next write, the device sees
                    // the connection end instead. The same certificate connected before the CRL refresh (above), so the CRL refused it
                    .message().containsAnyOf("certificate_revoked", "ended the connection");
        }
    }
}
