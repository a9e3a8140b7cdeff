package dev.fleetpki.device;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device learns a new root only through a cross certificate from an anchor it trusts: the
 * genuine new-with-old is accepted; a stranger's root, a cross certificate signed by another key
 * under the old root's name, one for another key, and one that is not a CA certificate are not.
 */
class AnchorUpdateTest {
    static final Instant NOW = Instant.now();
    static final KeyPair OLD = TestPki.ec();
    static final KeyPair NEW = TestPki.ec();
    static final X509Certificate OLD_ROOT = TestPki.cert("CN=Root", OLD.getPublic(), "CN=Root", OLD, true, NOW);
    static final X509Certificate NEW_ROOT = TestPki.cert("CN=Root G2", NEW.getPublic(), "CN=Root G2", NEW, true, NOW);
    static final X509Certificate NEW_WITH_OLD = TestPki.cert("CN=Root G2", NEW.getPublic(), "CN=Root", OLD, true, NOW);

    @TempDir Path dir;

    @Test
    void theNewRootIsLearnedThroughTheCrossCertificateFromTheOldOne() {
        assertThat(AnchorUpdate.learn(List.of(OLD_ROOT), List.of(OLD_ROOT, NEW_WITH_OLD, NEW_ROOT), NOW)).containsExactly(NEW_ROOT);
        assertThat(AnchorUpdate.learn(List.of(OLD_ROOT, NEW_ROOT), List.of(OLD_ROOT, NEW_WITH_OLD, NEW_ROOT), NOW)).as("known already").isEmpty();
    }

    @Test
    void anythingNotVouchedForByATrustedAnchorIsIgnored() {
        assertThat(AnchorUpdate.learn(List.of(OLD_ROOT), List.of(NEW_ROOT), NOW)).as("a root alone").isEmpty();
        KeyPair mallory = TestPki.ec();
        X509Certificate forged = TestPki.cert("CN=Root G2", NEW.getPublic(), "CN=Root", mallory, true, NOW);
        assertThat(AnchorUpdate.learn(List.of(OLD_ROOT), List.of(forged, NEW_ROOT), NOW)).as("signed under the old root's name by another key").isEmpty();
        X509Certificate otherKey = TestPki.cert("CN=Root G2", mallory.getPublic(), "CN=Root", OLD, true, NOW);
        assertThat(AnchorUpdate.learn(List.of(OLD_ROOT), List.of(otherKey, NEW_ROOT), NOW)).as("certifies another key").isEmpty();
        X509Certificate leaf = TestPki.cert("CN=Root G2", NEW.getPublic(), "CN=Root", OLD, false, NOW);
        assertThat(AnchorUpdate.learn(List.of(OLD_ROOT), List.of(leaf, NEW_ROOT), NOW)).as("not a CA certificate").isEmpty();
        assertThat(AnchorUpdate.learn(List.of(OLD_ROOT), List.of(NEW_WITH_OLD, NEW_ROOT), NOW.plus(java.time.Duration.ofDays(60))))
                .as("expired").isEmpty();
    }

    @Test
    void aLearnedRootIsKeptAndTrustedAfterReopening() throws Exception {
        Files.writeString(dir.resolve("pass"), "device passphrase\n");
        SecretSource pass = SecretSource.parse("file:pass", dir);
        DeviceIdentity d = DeviceIdentity.create(dir, "dev-1", KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256, pass, OLD_ROOT);
        assertThat(d.anchors()).containsExactly(OLD_ROOT);
        assertThat(d.learnAnchors(List.of(NEW_ROOT), NOW)).isEmpty();
        assertThat(dir.resolve(DeviceIdentity.LEARNED_ANCHORS)).doesNotExist();
        assertThat(d.learnAnchors(List.of(NEW_WITH_OLD, NEW_ROOT), NOW)).containsExactly(NEW_ROOT);
        DeviceIdentity again = DeviceIdentity.open(dir, "dev-1", pass, OLD_ROOT);
        assertThat(again.anchors()).containsExactly(OLD_ROOT, NEW_ROOT);
        assertThat(DeviceIdentity.learnedAnchors(dir)).containsExactly(NEW_ROOT);
        // a certificate from the new hierarchy now verifies without the cross certificate
        KeyPair ca = TestPki.ec();
        X509Certificate issuing = TestPki.cert("CN=Issuing G2", ca.getPublic(), "CN=Root G2", NEW, true, NOW);
        X509Certificate leaf = TestPki.cert("CN=dev-1", again.key().publicKey(), "CN=Issuing G2", ca, false, NOW);
        assertThat(CertificateCheck.verify(List.of(leaf, issuing), again.key().publicKey(), "dev-1", again.anchors(), NOW)).hasSize(2);
    }
}
