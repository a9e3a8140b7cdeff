package dev.fleetpki.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

/** A server that answers with a certificate for another key, another subject or an untrusted chain is refused. */
class CertificateCheckTest {
    private static final Instant NOW = Instant.parse("2026-11-30T00:00:00Z");
    private static final KeyPair ROOT = ec();
    private static final KeyPair ISSUING = ec();
    private static final KeyPair DEVICE = ec();
    private static final X509Certificate ROOT_CERT = cert("CN=Root", ROOT.getPublic(), "CN=Root", ROOT, true, NOW);
    private static final X509Certificate ISSUING_CERT = cert("CN=Issuing", ISSUING.getPublic(), "CN=Root", ROOT, true, NOW);

    private static KeyPair ec() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509Certificate cert(String subject, PublicKey key, String issuer, KeyPair issuerKeys, boolean ca, Instant now) {
        try {
            var b = new JcaX509v3CertificateBuilder(new X500Name(issuer), BigInteger.valueOf(now.toEpochMilli() ^ subject.hashCode() & 0xffffff),
                    Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(Duration.ofDays(30))), new X500Name(subject), key);
            b.addExtension(Extension.basicConstraints, true, ca ? new BasicConstraints(0) : new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(ca ? KeyUsage.keyCertSign | KeyUsage.cRLSign : KeyUsage.digitalSignature));
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aGoodAnswerIsOrderedLeafFirstWhateverOrderItCameIn() {
        X509Certificate leaf = cert("CN=dev-1", DEVICE.getPublic(), "CN=Issuing", ISSUING, false, NOW);
        List<X509Certificate> chain = CertificateCheck.verify(List.of(ISSUING_CERT, ROOT_CERT, leaf), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW);
        assertThat(chain).containsExactly(leaf, ISSUING_CERT);
    }

    @Test
    void anotherKeyAnotherSubjectAnUntrustedChainAndAnExpiredCertificateAreRefused() {
        KeyPair other = ec();
        X509Certificate forOtherKey = cert("CN=dev-1", other.getPublic(), "CN=Issuing", ISSUING, false, NOW);
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(forOtherKey, ISSUING_CERT), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("certifies another key");

        X509Certificate forOtherDevice = cert("CN=dev-2", DEVICE.getPublic(), "CN=Issuing", ISSUING, false, NOW);
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(forOtherDevice, ISSUING_CERT), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("names 'dev-2', not this device ('dev-1')");

        // a look-alike hierarchy: same names, other keys
        KeyPair fakeRoot = ec();
        KeyPair fakeIssuing = ec();
        X509Certificate fakeIssuingCert = cert("CN=Issuing", fakeIssuing.getPublic(), "CN=Root", fakeRoot, true, NOW);
        X509Certificate fromFake = cert("CN=dev-1", DEVICE.getPublic(), "CN=Issuing", fakeIssuing, false, NOW);
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(fromFake, fakeIssuingCert), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("does not chain to this device's trust anchor");

        X509Certificate leaf = cert("CN=dev-1", DEVICE.getPublic(), "CN=Issuing", ISSUING, false, NOW);
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(leaf, ISSUING_CERT), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW.plus(Duration.ofDays(60))))
                .isInstanceOf(DeviceException.class).hasMessageContaining("does not chain");

        assertThatThrownBy(() -> CertificateCheck.verify(List.of(ISSUING_CERT), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("no certificate for this device");
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("no certificate");
    }
}
