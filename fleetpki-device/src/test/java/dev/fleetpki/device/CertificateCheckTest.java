package dev.fleetpki.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A server that answers with a certificate for another key, another subject or an untrusted chain is refused. */
class CertificateCheckTest {
    private static final Instant NOW = Instant.parse("2026-11-30T00:00:00Z");
    private static final KeyPair ROOT = TestPki.ec();
    private static final KeyPair ISSUING = TestPki.ec();
    private static final KeyPair DEVICE = TestPki.ec();
    private static final X509Certificate ROOT_CERT = TestPki.cert("CN=Root", ROOT.getPublic(), "CN=Root", ROOT, true, NOW);
    private static final X509Certificate ISSUING_CERT = TestPki.cert("CN=Issuing", ISSUING.getPublic(), "CN=Root", ROOT, true, NOW);

    @Test
    void aGoodAnswerIsOrderedLeafFirstWhateverOrderItCameIn() {
        X509Certificate leaf = TestPki.cert("CN=dev-1", DEVICE.getPublic(), "CN=Issuing", ISSUING, false, NOW);
        List<X509Certificate> chain = CertificateCheck.verify(List.of(ISSUING_CERT, ROOT_CERT, leaf), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW);
        assertThat(chain).containsExactly(leaf, ISSUING_CERT);
    }

    @Test
    void anotherKeyAnotherSubjectAnUntrustedChainAndAnExpiredCertificateAreRefused() {
        KeyPair other = TestPki.ec();
        X509Certificate forOtherKey = TestPki.cert("CN=dev-1", other.getPublic(), "CN=Issuing", ISSUING, false, NOW);
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(forOtherKey, ISSUING_CERT), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("certifies another key");

        X509Certificate forOtherDevice = TestPki.cert("CN=dev-2", DEVICE.getPublic(), "CN=Issuing", ISSUING, false, NOW);
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(forOtherDevice, ISSUING_CERT), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("names 'dev-2', not this device ('dev-1')");

        // a look-alike hierarchy: same names, other keys
        KeyPair fakeRoot = TestPki.ec();
        KeyPair fakeIssuing = TestPki.ec();
        X509Certificate fakeIssuingCert = TestPki.cert("CN=Issuing", fakeIssuing.getPublic(), "CN=Root", fakeRoot, true, NOW);
        X509Certificate fromFake = TestPki.cert("CN=dev-1", DEVICE.getPublic(), "CN=Issuing", fakeIssuing, false, NOW);
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(fromFake, fakeIssuingCert), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("does not chain to this device's trust anchor");

        X509Certificate leaf = TestPki.cert("CN=dev-1", DEVICE.getPublic(), "CN=Issuing", ISSUING, false, NOW);
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(leaf, ISSUING_CERT), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW.plus(Duration.ofDays(60))))
                .isInstanceOf(DeviceException.class).hasMessageContaining("does not chain");

        assertThatThrownBy(() -> CertificateCheck.verify(List.of(ISSUING_CERT), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("no certificate for this device");
        assertThatThrownBy(() -> CertificateCheck.verify(List.of(), DEVICE.getPublic(), "dev-1", ROOT_CERT, NOW))
                .isInstanceOf(DeviceException.class).hasMessageContaining("no certificate");
    }
}
