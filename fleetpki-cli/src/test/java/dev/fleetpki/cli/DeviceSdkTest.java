package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.device.DeviceException;
import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.EstClient;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device SDK against a real {@code fleetpki serve}: the key made on the device (an encrypted
 * file here), csrattrs and cacerts read, enrollment with a one-time secret over EST, the answer
 * checked and installed, renewal over simplereenroll with the current certificate as the TLS
 * client certificate; refusals leave the installed chain as it was.
 */
class DeviceSdkTest {
    @TempDir Path dir;

    @Test
    void aDeviceEnrollsWithItsSecretRenewsWithItsCertificateAndKeepsItOnRefusals() throws Exception {
        try (TestServer ts = TestServer.start(dir, null)) {
            Cli.Result added = Cli.run(ts.home, "device", "add", "sdk-1", "--enrollment-secret");
            assertThat(added.exit()).as(added.all()).isZero();
            String[] lines = added.out().trim().split("\n");
            char[] secret = lines[lines.length - 1].toCharArray();

            Path device = dir.resolve("device");
            Files.createDirectories(device);
            Files.writeString(device.resolve("passphrase"), "device key passphrase\n");
            X509Certificate anchor = DeviceIdentity.certificate(Files.readAllBytes(ts.home.resolve("ca/root.pem")));
            DeviceIdentity id = DeviceIdentity.create(device, "sdk-1", KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256,
                    SecretSource.parse("file:passphrase", device), anchor);
            assertThat(Files.readString(device.resolve("device.p8"))).as("the key file is encrypted").contains("ENCRYPTED PRIVATE KEY");
            EstClient est = new EstClient(URI.create(ts.base + "/.well-known/est"), anchor, Duration.ofSeconds(10));

            assertThat(est.csrattrs()).as("csrattrs asks for P-256").contains("1.2.840.10045.2.1", "1.2.840.10045.3.1.7");
            assertThat(est.keyAlgorithm()).as("the key the device should make").hasValue(KeyAlgorithm.EC_P256);
            assertThat(est.cacerts()).extracting(c -> c.getSubjectX500Principal().getName()).anyMatch(n -> n.contains("Test Issuing CA"));

            DeviceIdentity.Result first = id.enroll(est, secret, Clock.systemUTC());
            assertThat(first.issued()).isTrue();
            X509Certificate leaf = first.chain().getFirst();
            assertThat(leaf.getSubjectX500Principal().getName()).isEqualTo("CN=sdk-1");
            assertThat(leaf.getPublicKey()).isEqualTo(id.key().publicKey());
            // an independent check of what was installed
            assertThat(Proc.ok(device, "openssl", "verify", "-CAfile", ts.home.resolve("ca/root.pem").toString(), "-untrusted",
                    device.resolve("chain.pem").toString(), device.resolve("chain.pem").toString())).contains(": OK");

            // the secret is used up: the server refuses, the device keeps its certificate
            assertThatThrownBy(() -> id.enroll(est, secret, Clock.systemUTC())).isInstanceOf(DeviceException.class)
                    .hasMessageContaining("simpleenroll answered HTTP 401");
            assertThat(id.chain().orElseThrow().getFirst()).isEqualTo(leaf);

            // renewal with the same key: this server's device profile wants a new key, says so, and nothing changes
            DeviceIdentity reopened = DeviceIdentity.open(device, "sdk-1", SecretSource.parse("file:passphrase", device), anchor);
            assertThatThrownBy(() -> reopened.renew(est, Clock.systemUTC(), false)).isInstanceOf(DeviceException.class)
                    .hasMessageContaining("renews only with a new key");
            assertThat(reopened.chain().orElseThrow().getFirst()).isEqualTo(leaf);
            // renewal with a new key made on the device: the current certificate authenticates the TLS connection
            DeviceIdentity.Result renewed = reopened.renew(est, Clock.systemUTC(), true);
            X509Certificate next = renewed.chain().getFirst();
            assertThat(next.getSerialNumber()).isNotEqualTo(leaf.getSerialNumber());
            assertThat(next.getPublicKey()).isNotEqualTo(leaf.getPublicKey()).isEqualTo(reopened.key().publicKey());
            assertThat(reopened.chain().orElseThrow().getFirst()).isEqualTo(next);
            assertThat(device.resolve("device.p8")).as("the old key is gone once the new certificate is in").doesNotExist();
            try (var keys = Files.list(device)) {
                assertThat(keys.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".p8")).toList()).hasSize(1);
            }
            assertThat(device.resolve("rekey.pending")).as("the rekey journal is settled").doesNotExist();
            DeviceIdentity again = DeviceIdentity.open(device, "sdk-1", SecretSource.parse("file:passphrase", device), anchor);
            assertThat(again.key().publicKey()).as("reopened: the new key is current").isEqualTo(next.getPublicKey());

            // a server this device's anchor does not vouch for: refused at the TLS handshake, nothing changed
            Path other = TestHome.write(dir.resolve("other"), "ecdsa-p256", null, null);
            TestHome.init(other);
            X509Certificate foreign = DeviceIdentity.certificate(Files.readAllBytes(other.resolve("ca/root.pem")));
            EstClient wrongTrust = new EstClient(URI.create(ts.base + "/.well-known/est"), foreign, Duration.ofSeconds(10));
            DeviceIdentity pinnedElsewhere = DeviceIdentity.open(device, "sdk-1", SecretSource.parse("file:passphrase", device), foreign);
            assertThatThrownBy(() -> pinnedElsewhere.renew(wrongTrust, Clock.systemUTC(), true)).isInstanceOf(DeviceException.class)
                    .hasMessageContaining("TLS with 127.0.0.1 failed");
            assertThat(again.chain().orElseThrow().getFirst()).isEqualTo(next);
            try (var keys = Files.list(device)) {
                assertThat(keys.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".p8")).toList()).as("the refused renewal's key was removed")
                        .hasSize(1);
            }
            assertThat(device.resolve("rekey.pending")).doesNotExist();
        }
    }
}
