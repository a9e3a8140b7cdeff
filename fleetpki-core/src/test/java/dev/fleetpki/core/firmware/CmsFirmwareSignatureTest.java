package dev.fleetpki.core.firmware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.testkit.TestCa;
import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.Pem;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A detached CMS signature over a firmware manifest, made with a KeyManager key whose code-signing
 * certificate the test CA issued, verified by stock openssl against the root alone, with no
 * fleetpki code: accepted as signed, refused once the manifest changes.
 */
class CmsFirmwareSignatureTest {
    @TempDir static Path dir;
    static TestCa ca;
    static SigningKey key;
    static IssuedCertificate signer;

    @BeforeAll
    static void signer() throws Exception {
        ca = TestCa.builder().profiles("code-signing:\n  validity: 30d\n").build(dir.resolve("ca"));
        Path pass = dir.resolve("pass");
        Files.writeString(pass, "signer passphrase\n");
        SignerRegistry.Enrolled e = new SignerRegistry(ca.ledger(), ca.authorizer(), ca.pipeline(), new DefaultKeyManager(dir), new SecretSource.File(pass),
                ca.clock()).add(Actor.operator("alice"), Role.ADMIN, "signer-1", Set.of("sensor-v2"), KeyRef.parse("file:keys/signer-1.p8"),
                KeyAlgorithm.EC_P256, "code-signing", "test");
        key = e.key();
        signer = e.certificate();
        Files.writeString(dir.resolve("root.pem"), Pem.encode("CERTIFICATE", ca.ledger().ca("root").orElseThrow().certificate().getEncoded()));
    }

    private static FirmwareManifest manifest(byte[] image) throws Exception {
        return new FirmwareManifest(MessageDigest.getInstance("SHA-256").digest(image), image.length, "1.4.2", "sensor-v2", 3, "1.0.0", "signer-1",
                Instant.parse("2026-12-06T10:00:00Z"));
    }

    @Test
    void opensslVerifiesTheSignatureAgainstTheRootAlone() throws Exception {
        byte[] image = "firmware image bytes".getBytes(StandardCharsets.US_ASCII);
        FirmwareManifest m = manifest(image);
        Files.write(dir.resolve("manifest.json"), m.json());
        Files.write(dir.resolve("manifest.p7s"), CmsFirmwareSignature.sign(m.json(), key, signer.certificate(),
                List.of(ca.ledger().ca("issuing").orElseThrow().certificate()), m.signedAt()));
        assertThat(new String(m.json(), StandardCharsets.UTF_8)).startsWith("{\"format\":\"fleetpki-firmware-manifest/1\",\"sha256\":\"")
                .contains("\"version\":\"1.4.2\"", "\"model\":\"sensor-v2\"", "\"securityCounter\":3", "\"signedAt\":\"2026-12-06T10:00:00Z\"");

        String ok = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.p7s", "-content", "manifest.json", "-CAfile", "root.pem",
                "-purpose", "any", "-out", "/dev/null");
        assertThat(ok).contains("Verification successful");
        assertThat(openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", "manifest.p7s")).contains("signingTime").contains("Dec  6 10:00:00 2026");

        Files.write(dir.resolve("manifest.json"), manifest("another image".getBytes(StandardCharsets.US_ASCII)).json());
        assertThat(openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.p7s", "-content", "manifest.json", "-CAfile", "root.pem",
                "-purpose", "any", "-out", "/dev/null")).as("another manifest under the same signature").contains("Verification failure");
    }

    @Test
    void onlyTheCertificatesOwnKeySigns() throws Exception {
        Path pass = dir.resolve("pass");
        SigningKey other = new DefaultKeyManager(dir).create(KeyRef.parse("file:keys/other.p8"), KeyAlgorithm.EC_P256, new SecretSource.File(pass));
        FirmwareManifest m = manifest(new byte[] {1});
        assertThatThrownBy(() -> CmsFirmwareSignature.sign(m.json(), other, signer.certificate(), List.of(), m.signedAt()))
                .isInstanceOf(PkiException.class).hasMessageContaining("is not the key of the signer certificate");
        assertThatThrownBy(() -> new FirmwareManifest(new byte[31], 1, "1", "m", 0, null, "s", Instant.now())).isInstanceOf(PkiException.class)
                .hasMessageContaining("SHA-256 (32 bytes) or SHA-384 (48 bytes)");
    }

    private static String openssl(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return out;
    }
}
