package dev.fleetpki.kms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.Signature;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

class FileKeysTest {
    @TempDir Path home;

    private SecretSource pass() throws Exception {
        Path f = home.resolve("pass.txt");
        if (!Files.exists(f)) {
            Files.writeString(f, "correct horse battery staple\n");
        }
        return SecretSource.parse("file:pass.txt", home);
    }

    @ParameterizedTest(name = "sign/{0}")
    @EnumSource(KeyAlgorithm.class)
    void createdKeyReopensAndSignsVerifiably(KeyAlgorithm alg) throws Exception {
        KeyRef ref = KeyRef.parse("file:keys/" + alg.configName() + ".p8");
        SigningKey created = new DefaultKeyManager(home).create(ref, alg, pass());
        Path file = home.resolve("keys/" + alg.configName() + ".p8");
        assertThat(Files.readString(file)).startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");

        SigningKey opened = new DefaultKeyManager(home).open(ref, pass());
        assertThat(opened.publicKey().getEncoded()).isEqualTo(created.publicKey().getEncoded());
        assertThat(opened.algorithm()).isEqualTo(alg);

        byte[] msg = "fleetpki".getBytes(StandardCharsets.UTF_8);
        var signer = opened.contentSigner();
        signer.getOutputStream().write(msg);
        byte[] sig = signer.getSignature();
        Signature v = alg == KeyAlgorithm.ML_DSA_65
                ? Signature.getInstance(alg.signatureAlgorithm(), Crypto.bc())
                : Signature.getInstance(alg.signatureAlgorithm());
        v.initVerify(created.publicKey());
        v.update(msg);
        assertThat(v.verify(sig)).isTrue();
    }

    @Test
    void pkcs12KeyFileRoundTrips() throws Exception {
        KeyRef ref = KeyRef.parse("file:ca.p12");
        SigningKey created = new DefaultKeyManager(home).create(ref, KeyAlgorithm.EC_P384, pass());
        SigningKey opened = new DefaultKeyManager(home).open(ref, pass());
        assertThat(opened.publicKey().getEncoded()).isEqualTo(created.publicKey().getEncoded());
        assertThat(opened.location()).contains("PKCS#12");
    }

    @Test
    void refuseWrongPassphraseWithoutLeakingIt() throws Exception {
        KeyRef ref = KeyRef.parse("file:k.p8");
        new DefaultKeyManager(home).create(ref, KeyAlgorithm.EC_P256, pass());
        Files.writeString(home.resolve("wrong.txt"), "not-the-passphrase");
        assertThatThrownBy(() -> new DefaultKeyManager(home).open(ref, SecretSource.parse("file:wrong.txt", home)))
                .isInstanceOf(KeyStoreFailure.class)
                .hasMessageContaining("wrong passphrase")
                .hasMessageNotContaining("not-the-passphrase");
    }

    @Test
    void refuseToOverwriteAnExistingKey() throws Exception {
        KeyRef ref = KeyRef.parse("file:k.p8");
        new DefaultKeyManager(home).create(ref, KeyAlgorithm.EC_P256, pass());
        byte[] before = Files.readAllBytes(home.resolve("k.p8"));
        assertThatThrownBy(() -> new DefaultKeyManager(home).create(ref, KeyAlgorithm.EC_P256, pass()))
                .hasMessageContaining("already exists");
        assertThat(Files.readAllBytes(home.resolve("k.p8"))).isEqualTo(before);
    }

    @Test
    void refuseShortPassphraseAndLeaveNoFile() throws Exception {
        Files.writeString(home.resolve("short.txt"), "abc");
        assertThatThrownBy(() -> new DefaultKeyManager(home).create(KeyRef.parse("file:k.p8"), KeyAlgorithm.EC_P256,
                SecretSource.parse("file:short.txt", home))).hasMessageContaining("shorter than 8");
        assertThat(home.resolve("k.p8")).doesNotExist();
    }

    @Test
    void secretsAreNeverInline() {
        assertThatThrownBy(() -> SecretSource.parse("hunter22", home))
                .hasMessageContaining("never written inline").hasMessageNotContaining("hunter22");
        assertThatThrownBy(() -> KeyRef.parse("http://x")).hasMessageContaining("unknown scheme");
        assertThatThrownBy(() -> KeyRef.parse("pkcs11:token=a;object=b")).hasMessageContaining("module-path");
    }
}
