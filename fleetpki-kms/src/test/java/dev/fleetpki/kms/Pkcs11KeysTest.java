package dev.fleetpki.kms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Signature;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against a real SoftHSM2 token: key created non-extractable, signs, and cannot be exported.
 * SoftHSM must be installed (.ci/run installs it); the test fails, never skips, without it.
 */
class Pkcs11KeysTest {
    static final String MODULE = "/usr/lib/softhsm/libsofthsm2.so";

    @TempDir Path home;

    static Path initToken(Path dir, String label) throws Exception {
        assertThat(Path.of(MODULE)).as("SoftHSM2 module (apt-get install softhsm2)").exists();
        Path tokens = Files.createDirectories(dir.resolve("tokens"));
        Path conf = dir.resolve("softhsm2.conf");
        Files.writeString(conf, "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n");
        run(conf, "softhsm2-util", "--init-token", "--free", "--label", label, "--pin", "1234", "--so-pin", "5678");
        Files.writeString(dir.resolve("pin.txt"), "1234\n");
        return conf;
    }

    static String run(Path conf, String... cmd) throws Exception {
        return ChildJvm.runProcess(conf, List.of(cmd));
    }

    @Test
    void tokenKeySignsAndCannotBeExported() throws Exception {
        Path conf = initToken(home, "fleet");
        // SoftHSM reads SOFTHSM2_CONF from the environment: run the key work in a child JVM that has it.
        String out = ChildJvm.run(conf, Pkcs11Child.class, home.toString());
        assertThat(out).contains("SIGNATURE_VERIFIED").contains("ENCODED_NULL");
        String objects = run(conf, "pkcs11-tool", "--module", MODULE, "--token-label", "fleet",
                "--login", "--pin", "1234", "--list-objects", "--type", "privkey");
        // SunPKCS11's KeyStore records the alias (our object= label) as the key's CKA_ID.
        String idHex = java.util.HexFormat.of().formatHex("issuing-2026".getBytes(StandardCharsets.US_ASCII));
        assertThat(objects).contains(idHex).contains("never extractable").contains("always sensitive");
    }

    /** Runs inside the child JVM with SOFTHSM2_CONF set. */
    public static final class Pkcs11Child {
        public static void main(String[] args) throws Exception {
            Path home = Path.of(args[0]);
            KeyRef ref = KeyRef.parse("pkcs11:token=fleet;object=issuing-2026?module-path=" + MODULE + "&pin-source=file:pin.txt");
            SigningKey k = new DefaultKeyManager(home).create(ref, KeyAlgorithm.EC_P256, null);
            SigningKey reopened = new DefaultKeyManager(home).open(ref, null);
            byte[] msg = "firmware".getBytes(StandardCharsets.UTF_8);
            var signer = reopened.contentSigner();
            signer.getOutputStream().write(msg);
            Signature v = Signature.getInstance("SHA256withECDSA");
            v.initVerify(k.publicKey());
            v.update(msg);
            if (v.verify(signer.getSignature())) {
                System.out.println("SIGNATURE_VERIFIED");
            }
            var priv = ((JcaSigningKey) reopened).privateKey();
            if (priv.getEncoded() == null) {
                System.out.println("ENCODED_NULL");
            }
            try {
                new DefaultKeyManager(home).create(ref, KeyAlgorithm.EC_P256, null);
            } catch (KeyStoreFailure e) {
                System.out.println("REFUSED_OVERWRITE " + e.getMessage());
            }
            try {
                new DefaultKeyManager(home).open(KeyRef.parse("pkcs11:token=nosuch;object=x?module-path=" + MODULE
                        + "&pin-source=file:pin.txt"), null);
            } catch (KeyStoreFailure e) {
                System.out.println("NO_TOKEN " + e.getMessage());
            }
        }
    }

    @Test
    void refusalsNameTheProblem() throws Exception {
        Path conf = initToken(home, "fleet");
        String out = ChildJvm.run(conf, Pkcs11Child.class, home.toString());
        assertThat(out).contains("REFUSED_OVERWRITE token 'fleet' already holds a key labelled 'issuing-2026'");
        assertThat(out).contains("NO_TOKEN no PKCS#11 token labelled 'nosuch'").contains("[fleet]");
        assertThatThrownBy(() -> KeyRef.parse("pkcs11:token=fleet?module-path=" + MODULE))
                .hasMessageContaining("names no key");
    }
}
