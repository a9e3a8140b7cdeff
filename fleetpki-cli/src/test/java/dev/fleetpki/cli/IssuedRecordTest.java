package dev.fleetpki.cli;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.kms.KeyAlgorithm;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issuance hands the store the signed DER together with the validity and subject it meant to
 * encode (so the store need not decode what it just built): they must be exactly what the DER
 * says, down to the second, for every CA algorithm, and what the store keeps must match too.
 */
class IssuedRecordTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"ecdsa-p256", "ed25519", "rsa-2048"})
    void recordMatchesTheEncodedCertificate(String caAlgorithm) throws Exception {
        Path home = TestHome.write(dir.resolve("home"), caAlgorithm, null, null);
        TestHome.init(home);
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            Actor op = Actor.operator("test");
            f.store().devices().addDevice(new Device("sensor-1", "m", Map.of(), Device.Status.ACTIVE, "software", f.clock().instant()),
                    new AuditEvent(f.clock().instant(), op, AuditAction.DEVICE_ADD, "device:sensor-1", Map.of()));
            KeyPair kp = KeyAlgorithm.EC_P256.generate();
            byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=sensor-1,O=Acme"), kp.getPublic())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())).getEncoded();

            IssuedCertificate issued = f.pipeline().issue(IssuanceRequest.fromCsr(UntrustedCsr.parse(csr), "sensor-1", "device", "test"),
                    f.authorizer().operator(op, "sensor-1", "device", "test"));

            X509Certificate decoded = issued.certificate();
            assertThat(decoded.getEncoded()).isEqualTo(issued.der());
            assertThat(issued.notBefore()).isEqualTo(decoded.getNotBefore().toInstant());
            assertThat(issued.notAfter()).isEqualTo(decoded.getNotAfter().toInstant());
            assertThat(issued.subject()).isEqualTo(decoded.getSubjectX500Principal().getName());
            assertThat(decoded.getSerialNumber().toString(16)).isEqualTo(issued.serialHex().replaceFirst("^0+(?=.)", ""));
            decoded.verify(f.cas().get("issuing").certificate().getPublicKey());

            StoredCertificate stored = f.store().certificates().certificate(issued.serialHex()).orElseThrow();
            assertThat(stored.issued().der()).isEqualTo(issued.der());
            // the not_after column is what "cert list --expiring-within" filters on
            assertThat(f.store().certificates().certificates(null, f.clock().instant(), issued.notAfter().plus(Duration.ofSeconds(1)), 10))
                    .extracting(s -> s.issued().serialHex()).containsExactly(issued.serialHex());
            assertThat(f.store().certificates().certificates(null, f.clock().instant(), issued.notAfter(), 10)).isEmpty();
        }
    }
}
