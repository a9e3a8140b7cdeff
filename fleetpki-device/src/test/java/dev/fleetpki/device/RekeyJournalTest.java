package dev.fleetpki.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.Pem;
import dev.fleetpki.kms.SecretSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rekeying renewal cut short at any point (the files a crash leaves behind, written here as the
 * crash would leave them) is settled when the device is opened again: the key it opens with is
 * always the key its installed certificate certifies, and the key that lost is destroyed.
 */
class RekeyJournalTest {
    private static final Instant NOW = Instant.now();
    private static final KeyPair ROOT = TestPki.ec();
    private static final X509Certificate ROOT_CERT = TestPki.cert("CN=Root", ROOT.getPublic(), "CN=Root", ROOT, true, NOW);
    private static final String NEW = "file:device-rtest.p8";

    @TempDir Path dir;
    private SecretSource pass;
    private PublicKey oldKey;

    @BeforeEach
    void enrolledDevice() throws Exception {
        Files.writeString(dir.resolve("pass"), "journal test passphrase\n");
        pass = SecretSource.parse("file:pass", dir);
        DeviceIdentity d = DeviceIdentity.create(dir, "dev-1", KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256, pass, ROOT_CERT);
        oldKey = d.key().publicKey();
        d.install(List.of(TestPki.cert("CN=dev-1", oldKey, "CN=Root", ROOT, false, NOW)), NOW);
    }

    /** The journal as written before the new key exists. */
    private void journal() throws Exception {
        journal(null);
    }

    /** The journal as rewritten once the new key exists, before its CSR leaves the device. */
    private void journal(PublicKey fresh) throws Exception {
        Files.writeString(dir.resolve(DeviceIdentity.REKEY_JOURNAL), DeviceIdentity.journal(KeyRef.parse(NEW), KeyRef.parse("file:device.p8"), fresh));
    }

    /** The crash came after the new certificate arrived: the journal names the new key, and chain.pem certifies it. */
    private PublicKey newKeyCertified() throws Exception {
        journal();
        PublicKey fresh = newKeyMade();
        journal(fresh);
        chainFor(fresh);
        return fresh;
    }

    private PublicKey newKeyMade() {
        return new DefaultKeyManager(dir).create(KeyRef.parse(NEW), KeyAlgorithm.EC_P256, pass).publicKey();
    }

    private void chainFor(PublicKey key) throws Exception {
        Files.writeString(dir.resolve(DeviceIdentity.CHAIN), Pem.encode("CERTIFICATE", TestPki.cert("CN=dev-1", key, "CN=Root", ROOT, false, NOW).getEncoded()));
    }

    private DeviceIdentity reopen() {
        return DeviceIdentity.open(dir, "dev-1", pass, ROOT_CERT);
    }

    private DeviceIdentity reopenWithWrongPassphrase() throws Exception {
        Files.writeString(dir.resolve("wrong"), "not the passphrase\n");
        return DeviceIdentity.open(dir, "dev-1", SecretSource.parse("file:wrong", dir), ROOT_CERT);
    }

    private void assertSettled() {
        assertThat(dir.resolve(DeviceIdentity.REKEY_JOURNAL)).doesNotExist();
    }

    @Test
    void crashAfterTheNewCertificateWasInstalledCompletesTheSwitch() throws Exception {
        PublicKey fresh = newKeyCertified(); // chain.pem renamed into place; key.ref not yet
        DeviceIdentity d = reopen();
        assertThat(d.key().publicKey().getEncoded()).isEqualTo(fresh.getEncoded());
        assertThat(Files.readString(dir.resolve(DeviceIdentity.KEY_REF)).strip()).isEqualTo(NEW);
        assertThat(dir.resolve("device.p8")).as("the old key is destroyed").doesNotExist();
        assertSettled();
        // and it signs with the key its certificate certifies
        assertThat(CertificateCheck.verify(d.chain().orElseThrow(), d.key().publicKey(), "dev-1", ROOT_CERT, NOW)).hasSize(1);
    }

    @Test
    void crashAfterKeyRefButBeforeTheOldKeyWentFinishesTheCleanUp() throws Exception {
        PublicKey fresh = newKeyCertified();
        Files.writeString(dir.resolve(DeviceIdentity.KEY_REF), NEW + "\n");
        assertThat(reopen().key().publicKey().getEncoded()).isEqualTo(fresh.getEncoded());
        assertThat(dir.resolve("device.p8")).doesNotExist();
        assertSettled();
    }

    @Test
    void crashBeforeTheNewCertificateKeepsTheOldKeyAndDestroysTheNewOne() throws Exception {
        journal();
        journal(newKeyMade()); // the request was in flight: chain.pem still certifies the old key
        DeviceIdentity d = reopen();
        assertThat(d.key().publicKey().getEncoded()).isEqualTo(oldKey.getEncoded());
        assertThat(dir.resolve("device-rtest.p8")).as("the new key certifies nothing").doesNotExist();
        assertThat(Files.readString(dir.resolve(DeviceIdentity.KEY_REF)).strip()).isEqualTo("file:device.p8");
        assertSettled();
    }

    @Test
    void crashWhileTheNewKeyWasBeingWrittenKeepsTheOldKey() throws Exception {
        journal();
        Files.writeString(dir.resolve("device-rtest.p8"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjAp\n"); // cut off
        assertThat(reopen().key().publicKey().getEncoded()).isEqualTo(oldKey.getEncoded());
        assertThat(dir.resolve("device-rtest.p8")).doesNotExist();
        assertSettled();

        journal(); // before the new key file was even created
        assertThat(reopen().key().publicKey().getEncoded()).isEqualTo(oldKey.getEncoded());
        assertSettled();

        journal(); // the new key complete, the journal not yet rewritten with it: its CSR never left the device
        newKeyMade();
        assertThat(reopen().key().publicKey().getEncoded()).isEqualTo(oldKey.getEncoded());
        assertThat(dir.resolve("device-rtest.p8")).doesNotExist();
        assertSettled();
    }

    @Test
    void aWrongPassphraseNeverCostsTheDeviceTheKeyItsCertificateIsFor() throws Exception {
        PublicKey fresh = newKeyCertified();
        assertThatThrownBy(this::reopenWithWrongPassphrase).isInstanceOf(DeviceException.class).hasMessageContaining("cannot open the device key");
        assertThat(dir.resolve("device-rtest.p8")).as("the certified key is kept").exists();
        assertThat(reopen().key().publicKey().getEncoded()).isEqualTo(fresh.getEncoded());
    }

    @Test
    void aDamagedJournalIsReportedNotGuessedAt() throws Exception {
        Files.writeString(dir.resolve(DeviceIdentity.REKEY_JOURNAL), "new=\n");
        assertThatThrownBy(this::reopen).isInstanceOf(DeviceException.class).hasMessageContaining("is damaged");
        assertThat(dir.resolve("device.p8")).exists();
    }
}
