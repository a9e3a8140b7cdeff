package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.device.DeviceException;
import dev.fleetpki.device.DeviceHttps;
import dev.fleetpki.device.DeviceIdentity;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device calls an HTTPS API over mutual TLS with the certificate it enrolled for: a real nginx
 * with {@code ssl_verify_client on} and fleetpki's CRLs stands in for the fleet's back end. The
 * API sees the device's id; a client without a certificate is refused by the API; the SDK refuses
 * an API whose certificate does not name the host or does not chain to the anchor it was given;
 * a revoked device is refused once the API reloads the CRLs, while another device still gets in.
 */
class DeviceHttpsTest {
    @TempDir Path dir;

    @Test
    void aDeviceCallsAnApiWithItsCertificateAndIsRefusedOnceRevoked() throws Exception {
        try (TestServer ts = TestServer.start(dir, null); TestNginx api = new TestNginx(ts.home, dir.resolve("api"))) {
            DeviceIdentity one = ts.enrolledDevice(dir.resolve("api-1"), "api-1", null);
            DeviceIdentity two = ts.enrolledDevice(dir.resolve("api-2"), "api-2", null);
            URI url = URI.create("https://127.0.0.1:" + api.port + "/telemetry");

            DeviceHttps.Response got = DeviceHttps.of(one, Duration.ofSeconds(10)).get(url);
            assertThat(got.status()).isEqualTo(200);
            assertThat(got.text()).isEqualTo("hello CN=api-1\n");
            DeviceHttps.Response posted = DeviceHttps.of(two, Duration.ofSeconds(10)).post(url, "application/json",
                    "{\"t\":21.5}".getBytes(StandardCharsets.UTF_8));
            assertThat(posted.status()).as("control: accepted before its revocation").isEqualTo(200);
            assertThat(posted.text()).isEqualTo("hello CN=api-2\n");

            // the API refuses a client without a certificate (ts.http trusts the same root but presents none)
            HttpResponse<String> anonymous = ts.http.send(HttpRequest.newBuilder(url).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(anonymous.statusCode()).isEqualTo(400);
            assertThat(anonymous.body()).contains("No required SSL certificate was sent");

            // the SDK refuses an API under a name its certificate does not carry, and one that does not chain to the given anchor
            assertThatThrownBy(() -> DeviceHttps.of(one, Duration.ofSeconds(10)).get(URI.create("https://localhost:" + api.port + "/")))
                    .isInstanceOf(DeviceException.class).hasMessageContaining("TLS with localhost failed");
            Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key",
                    "-out", "other-root.pem", "-subj", "/CN=Other Root", "-days", "30");
            var otherRoot = DeviceIdentity.certificate(Files.readAllBytes(dir.resolve("other-root.pem")));
            assertThatThrownBy(() -> DeviceHttps.of(one, List.of(otherRoot), Duration.ofSeconds(10)).get(url))
                    .isInstanceOf(DeviceException.class).hasMessageContaining("TLS with 127.0.0.1 failed");

            // the same from the fleetpki-device command, with the device's folder
            Path folder = dir.resolve("api-1");
            Files.writeString(folder.resolve("device.properties"), "id=api-1\nserver=" + ts.base + "/.well-known/est\npassphrase=file:"
                    + folder.resolve("passphrase") + "\n");
            Files.copy(ts.home.resolve("ca/root.pem"), folder.resolve("anchor.pem"));
            Cli.Result call = DeviceCommandTest.device("call", "--dir", folder.toString(), url.toString(), "--data", "{\"t\":22}");
            assertThat(call.exit()).as(call.err()).isZero();
            assertThat(call.out()).isEqualTo("HTTP 200 text/plain\nhello CN=api-1\n");
            Cli.Result anchored = DeviceCommandTest.device("call", "--dir", folder.toString(), url.toString(), "--server-anchor",
                    ts.home.resolve("ca/root.pem").toString());
            assertThat(anchored.out()).as(anchored.err()).isEqualTo("HTTP 200 text/plain\nhello CN=api-1\n");
            Cli.Result foreign = DeviceCommandTest.device("call", "--dir", folder.toString(), url.toString(), "--server-anchor",
                    dir.resolve("other-root.pem").toString());
            assertThat(foreign.exit()).isEqualTo(65);
            assertThat(foreign.err()).contains("TLS with 127.0.0.1 failed");
            Cli.Result plain = DeviceCommandTest.device("call", "--dir", folder.toString(), "http://127.0.0.1:" + api.port + "/");
            assertThat(plain.exit()).isEqualTo(65);
            assertThat(plain.err()).contains("the URL must be https://");

            String serial = two.chain().orElseThrow().getFirst().getSerialNumber().toString(16);
            assertThat(Cli.run(ts.home, "revoke", serial, "--reason", "key-compromise").exit()).isZero();
            api.refreshCrls();
            int status = 200;
            for (int i = 0; i < 50 && status == 200; i++) { // nginx's new workers take over within moments of the reload
                Thread.sleep(100);
                status = DeviceHttps.of(two, Duration.ofSeconds(10)).get(url).status();
            }
            assertThat(status).isEqualTo(400);
            assertThat(api.errorLog()).contains("certificate revoked");
            assertThat(DeviceHttps.of(one, Duration.ofSeconds(10)).get(url).status()).isEqualTo(200);
        }
    }
}
