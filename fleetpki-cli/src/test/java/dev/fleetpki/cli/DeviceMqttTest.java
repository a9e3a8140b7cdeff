package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.device.DeviceException;
import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.EstClient;
import dev.fleetpki.device.MqttTlsClient;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
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
        try (TestServer ts = TestServer.start(dir, null)) {
            Path work = Files.createDirectories(dir.resolve("broker"));
            Files.writeString(work.resolve("ca.pem"), Files.readString(ts.home.resolve("ca/root.pem")) + Files.readString(ts.home.resolve("ca/issuing.pem")));
            assertThat(Cli.run(ts.home, "device", "add", "broker.fleet.example").exit()).isZero();
            Path csr = TestHome.opensslCsr(work, "server", "ec", "/CN=broker.fleet.example", "-pkeyopt", "ec_paramgen_curve:P-256");
            assertThat(Cli.run(ts.home, "sign", "--csr", csr.toString(), "--device", "broker.fleet.example", "--profile", "server-tls",
                    "--out", work.resolve("server.crt").toString()).exit()).isZero();

            Cli.Result added = Cli.run(ts.home, "device", "add", "mq-1", "--enrollment-secret");
            String[] lines = added.out().trim().split("\n");
            Path device = Files.createDirectories(dir.resolve("device"));
            Files.writeString(device.resolve("passphrase"), "mqtt device passphrase\n");
            DeviceIdentity id = DeviceIdentity.create(device, "mq-1", KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256,
                    SecretSource.parse("file:passphrase", device), DeviceIdentity.certificate(Files.readAllBytes(ts.home.resolve("ca/root.pem"))));
            id.enroll(new EstClient(URI.create(ts.base + "/.well-known/est"), id.anchor(), Duration.ofSeconds(10)),
                    lines[lines.length - 1].toCharArray(), Clock.systemUTC());

            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            Path conf = work.resolve("mosquitto.conf");
            Files.writeString(conf, """
                    per_listener_settings false
                    persistence false
                    log_dest file %1$s/mosquitto.log
                    log_type all
                    user %3$s
                    listener %2$d 127.0.0.1
                    cafile %1$s/ca.pem
                    certfile %1$s/server.crt
                    keyfile %1$s/server.key
                    require_certificate true
                    use_identity_as_username true
                    crlfile %1$s/crls.pem
                    """.formatted(work, port, System.getProperty("user.name")));
            exportCrls(ts, work);
            InetSocketAddress broker = new InetSocketAddress("127.0.0.1", port);
            Process mosquitto = start(conf, work, port);
            try {
                try (MqttTlsClient c = MqttTlsClient.connect(broker, "broker.fleet.example", id, Duration.ofSeconds(5))) {
                    c.publish("fleet/mq-1/telemetry", "{\"t\":21.5}".getBytes());
                }
                assertThat(Files.readString(work.resolve("mosquitto.log"))).contains("as mq-1").contains("u'mq-1'");
                // the same from the fleetpki-device command (its folder: device.properties and anchor.pem beside the key)
                Files.writeString(device.resolve("device.properties"), "id=mq-1\nserver=" + ts.base + "/.well-known/est\npassphrase=file:"
                        + device.resolve("passphrase") + "\n");
                Files.copy(ts.home.resolve("ca/root.pem"), device.resolve("anchor.pem"));
                DeviceCommandTest.Run pub = DeviceCommandTest.device("publish", "--dir", device.toString(), "--broker", "broker.fleet.example:" + port,
                        "--connect-to", "127.0.0.1", "--topic", "fleet/mq-1/status", "--message", "online");
                assertThat(pub.exit()).as(pub.err()).isZero();
                assertThat(pub.out()).contains("Published to fleet/mq-1/status as mq-1");
                // the SDK checks the broker's name too: the same broker under another name is refused
                assertThatThrownBy(() -> MqttTlsClient.connect(broker, "other.fleet.example", id, Duration.ofSeconds(5)))
                        .isInstanceOf(DeviceException.class).hasMessageContaining("TLS with the broker other.fleet.example failed");

                String serial = id.chain().orElseThrow().getFirst().getSerialNumber().toString(16);
                assertThat(Cli.run(ts.home, "revoke", serial, "--reason", "key-compromise").exit()).isZero();
                exportCrls(ts, work);
            } finally {
                stop(mosquitto);
            }
            mosquitto = start(conf, work, port); // mosquitto reads its crlfile when the listener starts
            try {
                assertThatThrownBy(() -> {
                    try (MqttTlsClient c = MqttTlsClient.connect(broker, "broker.fleet.example", id, Duration.ofSeconds(5))) {
                        c.publish("fleet/mq-1/telemetry", "{\"t\":22}".getBytes());
                    }
                }).isInstanceOf(DeviceException.class).hasMessageContaining("certificate_revoked"); // the broker's TLS alert
            } finally {
                stop(mosquitto);
            }
        }
    }

    private static void exportCrls(TestServer ts, Path work) {
        Cli.Result r = Cli.run(ts.home, "crl", "export", "--bundle", "--out", work.resolve("crls.pem").toString(), "--generate");
        assertThat(r.exit()).as(r.all()).isZero();
    }

    private static Process start(Path conf, Path work, int port) throws Exception {
        Process p = new ProcessBuilder("mosquitto", "-c", conf.toString()).redirectErrorStream(true)
                .redirectOutput(work.resolve("mosquitto.out").toFile()).start();
        for (int i = 0; i < 100; i++) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return p;
            } catch (java.io.IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("mosquitto did not listen: " + Files.readString(work.resolve("mosquitto.out")));
    }

    private static void stop(Process p) throws Exception {
        p.destroy();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
    }
}
