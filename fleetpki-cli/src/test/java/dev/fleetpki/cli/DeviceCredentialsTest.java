package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.device.DeviceException;
import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.EstClient;
import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.Pem;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.math.BigInteger;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SDK enrolling with the two certificate credentials besides a one-time secret: the device's
 * manufacturer IDevID (its vendor's CA trusted by the fleet) and a factory station's certificate
 * (the line enrolling on the device's behalf). Either way the new certificate is for the device's
 * own operational key; a vendor the fleet does not trust is refused and nothing is installed.
 */
class DeviceCredentialsTest {
    @TempDir Path dir;

    @Test
    void manufacturerIdevidAndFactoryStationCredentials() throws Exception {
        try (TestServer ts = TestServer.start(dir.resolve("server"), null)) {
            Path dev = Files.createDirectories(dir.resolve("device"));
            Files.writeString(dev.resolve("passphrase"), "credential test passphrase\n");
            SecretSource pass = SecretSource.parse("file:passphrase", dev);
            X509Certificate anchor = DeviceIdentity.certificate(Files.readAllBytes(ts.home.resolve("ca/root.pem")));
            EstClient est = new EstClient(URI.create(ts.base + "/.well-known/est"), anchor, Duration.ofSeconds(10));

            // the vendor's PKI (openssl) and the IDevID it put on the device at manufacture, for a key made on the device
            Proc.ok(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650", "-keyout", "vendor.key",
                    "-out", "vendor.pem", "-subj", "/O=acme-se/CN=acme-se Device Root", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign");
            SigningKey idevKey = new DefaultKeyManager(dev).create(KeyRef.parse("file:idevid.p8"), KeyAlgorithm.EC_P256, pass);
            Files.write(dir.resolve("idev.csr"), new JcaPKCS10CertificationRequestBuilder(new X500Name("O=acme-se,CN=m-500"), idevKey.publicKey())
                    .build(idevKey.contentSigner()).getEncoded());
            Files.writeString(dir.resolve("leaf.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
            Proc.ok(dir, "openssl", "x509", "-req", "-inform", "DER", "-in", "idev.csr", "-CA", "vendor.pem", "-CAkey", "vendor.key", "-CAcreateserial",
                    "-days", "3650", "-extfile", "leaf.ext", "-out", "idevid.pem");
            X509Certificate idevid = DeviceIdentity.certificate(Files.readAllBytes(dir.resolve("idevid.pem")));

            assertThat(Cli.run(ts.home, "device", "add", "m-500", "--model", "sensor").exit()).isZero();
            DeviceIdentity m500 = DeviceIdentity.create(dev, "m-500", KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256, pass, anchor);
            // not trusted yet: refused, nothing installed
            assertThatThrownBy(() -> m500.enroll(est, idevKey, List.of(idevid), Clock.systemUTC())).isInstanceOf(DeviceException.class)
                    .hasMessageContaining("HTTP 401");
            assertThat(m500.chain()).isEmpty();
            assertThat(Cli.run(ts.home, "trust", "add-manufacturer", dir.resolve("vendor.pem").toString(), "--name", "acme-se", "--fleet", "sensor").exit()).isZero();
            X509Certificate issued = m500.enroll(est, idevKey, List.of(idevid), Clock.systemUTC()).chain().getFirst();
            assertThat(issued.getSubjectX500Principal().getName()).isEqualTo("CN=m-500");
            assertThat(issued.getPublicKey()).as("for the operational key, not the IDevID's").isEqualTo(m500.key().publicKey())
                    .isNotEqualTo(idevKey.publicKey());

            // a factory station enrolling a device of its fleet
            Path line = Files.createDirectories(dir.resolve("station"));
            Files.writeString(line.resolve("passphrase"), "station test passphrase\n");
            SigningKey stationKey = new DefaultKeyManager(line).create(KeyRef.parse("file:station.p8"), KeyAlgorithm.EC_P256,
                    SecretSource.parse("file:passphrase", line));
            X509Certificate stationCert = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(new X500Name("CN=line-1"),
                    BigInteger.valueOf(7), Date.from(Instant.now().minusSeconds(60)), Date.from(Instant.now().plus(Duration.ofDays(365))),
                    new X500Name("CN=line-1"), stationKey.publicKey()).build(stationKey.contentSigner()));
            Files.writeString(dir.resolve("station.pem"), Pem.encode("CERTIFICATE", stationCert.getEncoded()));
            assertThat(Cli.run(ts.home, "station", "add", "line-1", "--certificate", dir.resolve("station.pem").toString(), "--fleet", "sensor").exit()).isZero();
            assertThat(Cli.run(ts.home, "device", "add", "s-700", "--model", "sensor").exit()).isZero();
            Path dev2 = Files.createDirectories(dir.resolve("device2"));
            Files.writeString(dev2.resolve("passphrase"), "credential test passphrase\n");
            DeviceIdentity s700 = DeviceIdentity.create(dev2, "s-700", KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256,
                    SecretSource.parse("file:passphrase", dev2), anchor);
            X509Certificate byStation = s700.enroll(est, stationKey, List.of(stationCert), Clock.systemUTC()).chain().getFirst();
            assertThat(byStation.getSubjectX500Principal().getName()).isEqualTo("CN=s-700");
            assertThat(byStation.getPublicKey()).isEqualTo(s700.key().publicKey());
        }
    }
}
