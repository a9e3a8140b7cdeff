package dev.fleetpki.core.firmware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.ApiToken;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.FirmwareAuthorization;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.firmware.FirmwareSigning.Format;
import dev.fleetpki.core.testkit.TestCa;
import dev.fleetpki.core.testkit.TestClock;
import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Firmware signing in core: who may sign with which signer for which model (through the one
 * authorizer), what a revoked or expired signer does, the digest-only mode, and images that are not
 * what they claim. Every refusal is audited and leaves nothing signed.
 */
class FirmwareSigningTest {
    @TempDir Path dir;
    TestClock clock;
    TestCa ca;
    DefaultKeyManager keys;
    SecretSource pass;
    SignerRegistry registry;
    FirmwareSigning signing;
    static final byte[] IMAGE = "an unsigned firmware image, not very long".getBytes(StandardCharsets.US_ASCII);

    @BeforeEach
    void setUp() throws Exception {
        clock = new TestClock(Instant.parse("2026-12-06T10:00:00Z"));
        ca = TestCa.builder().clock(clock).profiles("code-signing:\n  validity: 30d\ndevice:\n  validity: 365d\n").build(dir.resolve("ca"));
        Files.writeString(dir.resolve("pass"), "signer passphrase\n");
        pass = new SecretSource.File(dir.resolve("pass"));
        keys = new DefaultKeyManager(dir);
        registry = new SignerRegistry(ca.ledger(), ca.authorizer(), ca.pipeline(), keys, pass, clock);
        signing = new FirmwareSigning(ca.ledger(), ca.ledger(), ca.ledger(), keys, pass, ca.ledger(), clock);
        registry.add(Actor.operator("alice"), Role.ADMIN, "release", Set.of("sensor-v2"), KeyRef.parse("file:signers/release.p8"), KeyAlgorithm.EC_P256,
                "code-signing", "test");
    }

    private static FirmwareSigning.Request req(String signer, String model, Format f) {
        return new FirmwareSigning.Request(signer, model, "1.4.2", f, 7L, "1.0.0", 0x200, true, "test");
    }

    private FirmwareSigning.Signed sign(FirmwareAuthorization.Caller who, String signer, String model, Format f) {
        FirmwareAuthorization a = ca.authorizer().firmware(who, signing.signer(signer), model, "test");
        return signing.sign(a, req(signer, model, f), new ByteArrayInputStream(IMAGE), IMAGE.length, new ByteArrayOutputStream());
    }

    private static FirmwareAuthorization.Caller token(Role role, Set<String> signers, Set<String> models) {
        Instant t = Instant.EPOCH;
        return FirmwareAuthorization.Caller.of(new ApiToken("id", "ci", role, "h", t, Actor.operator("alice"), null, null, null, null, Set.of(), signers, models));
    }

    @Test
    void anOperatorSignsAndTheSignatureIsAuditedWithSignerModelAndDigest() throws Exception {
        FirmwareSigning.Signed s = sign(FirmwareAuthorization.Caller.operator(Actor.operator("alice")), "release", "sensor-v2", Format.CMS);
        byte[] sha = MessageDigest.getInstance("SHA-256").digest(IMAGE);
        assertThat(s.digest()).isEqualTo(sha);
        assertThat(s.digestAlgorithm()).isEqualTo("sha256");
        assertThat(new String(s.manifest(), StandardCharsets.UTF_8)).contains("\"sha256\":\"" + HexFormat.of().formatHex(sha) + "\"",
                "\"size\":" + IMAGE.length, "\"model\":\"sensor-v2\"", "\"securityCounter\":7", "\"minimumPreviousVersion\":\"1.0.0\"",
                "\"signer\":\"release\"", "\"signedAt\":\"2026-12-06T10:00:00Z\"");
        List<AuditEvent> signed = ca.ledger().audited(AuditAction.FIRMWARE_SIGN);
        assertThat(signed).hasSize(1);
        assertThat(signed.getFirst().target()).isEqualTo("signer:release");
        assertThat(signed.getFirst().detail()).containsEntry("sha256", HexFormat.of().formatHex(sha)).containsEntry("model", "sensor-v2")
                .containsEntry("signer", "release").containsEntry("digestOnly", "false").containsEntry("format", "cms");
    }

    @Test
    void aFirmwareSignerTokenSignsOnlyWithItsSignersForItsModels() throws Exception {
        registry.add(Actor.operator("alice"), Role.ADMIN, "beta", Set.of("*"), KeyRef.parse("file:signers/beta.p8"), KeyAlgorithm.EC_P256,
                "code-signing", "test");
        var bound = token(Role.FIRMWARE_SIGNER, Set.of("release"), Set.of("sensor-v2"));
        assertThat(sign(bound, "release", "sensor-v2", Format.RAW).signer()).isEqualTo("release");
        record Case(FirmwareAuthorization.Caller who, String signer, String model, String says) {}
        for (Case c : List.of(
                new Case(bound, "beta", "sensor-v2", "may sign with signers release, not 'beta'"),
                new Case(token(Role.FIRMWARE_SIGNER, Set.of("beta"), Set.of("sensor-v2")), "beta", "camera", "may sign firmware for models sensor-v2, not 'camera'"),
                new Case(token(Role.FIRMWARE_SIGNER, Set.of(), Set.of()), "release", "sensor-v2", "may sign with no signer"),
                new Case(token(Role.FIRMWARE_SIGNER, Set.of("release"), Set.of()), "release", "sensor-v2", "may sign firmware for no model"),
                new Case(token(Role.ISSUER, Set.of("release"), Set.of("*")), "release", "sensor-v2", "has role issuer"),
                new Case(token(Role.FACTORY, Set.of(), Set.of()), "release", "sensor-v2", "has role factory"),
                new Case(FirmwareAuthorization.Caller.operator(Actor.operator("alice")), "release", "camera", "signs firmware for sensor-v2, not for model 'camera'"))) {
            int refusals = ca.ledger().audited(AuditAction.FIRMWARE_REFUSE).size();
            assertThatThrownBy(() -> sign(c.who(), c.signer(), c.model(), Format.RAW)).as(c.says())
                    .isInstanceOf(PkiException.class).hasMessageContaining(c.says())
                    .satisfies(e -> assertThat(((PkiException) e).kind()).isEqualTo(ErrorKind.NOT_AUTHORIZED));
            assertThat(ca.ledger().audited(AuditAction.FIRMWARE_REFUSE)).as(c.says()).hasSize(refusals + 1);
        }
        assertThat(ca.ledger().audited(AuditAction.FIRMWARE_SIGN)).hasSize(1);
        // a wildcard token signs with its signer for any model that signer covers
        assertThat(sign(token(Role.FIRMWARE_SIGNER, Set.of("beta"), Set.of("*")), "beta", "camera", Format.CMS).signer()).isEqualTo("beta");
    }

    @Test
    void anAuthorizationIsForItsOwnSignerAndModelOnly() {
        FirmwareAuthorization a = ca.authorizer().firmware(FirmwareAuthorization.Caller.operator(Actor.operator("alice")), signing.signer("release"),
                "sensor-v2", "test");
        assertThatThrownBy(() -> signing.sign(a, req("release", "camera", Format.CMS), new ByteArrayInputStream(IMAGE), IMAGE.length, null))
                .hasMessageContaining("this authorization is for signer 'release' and model 'sensor-v2'");
    }

    @Test
    void aRevokedSignerSignsNothingAndARotatedOneSignsWithItsNewCertificate() {
        var op = FirmwareAuthorization.Caller.operator(Actor.operator("alice"));
        String first = sign(op, "release", "sensor-v2", Format.CMS).certificateSerial();
        SignerRegistry.Enrolled rotated = registry.rotate(Actor.operator("alice"), Role.ADMIN, "release", KeyRef.parse("file:signers/release-2.p8"),
                KeyAlgorithm.EC_P256, "code-signing", "test");
        assertThat(rotated.certificate().serialHex()).isNotEqualTo(first);
        assertThat(sign(op, "release", "sensor-v2", Format.CMS).certificateSerial()).isEqualTo(rotated.certificate().serialHex());
        assertThat(ca.ledger().signerCertificates("release")).extracting(c -> c.issued().serialHex()).containsExactly(rotated.certificate().serialHex(), first);

        List<String> revoked = registry.revoke(Actor.operator("alice"), "release", RevocationReason.KEY_COMPROMISE, null);
        assertThat(revoked).containsExactlyInAnyOrder(first, rotated.certificate().serialHex());
        assertThatThrownBy(() -> sign(op, "release", "sensor-v2", Format.CMS)).hasMessageContaining("was revoked at");
        assertThatThrownBy(() -> registry.rotate(Actor.operator("alice"), Role.ADMIN, "release", null, null, "code-signing", "test"))
                .hasMessageContaining("a revoked signer stays revoked");
    }

    @Test
    void aSignerWhoseCertificateExpiredSignsNothingUntilRotated() {
        var op = FirmwareAuthorization.Caller.operator(Actor.operator("alice"));
        clock.advance(Duration.ofDays(31));
        assertThatThrownBy(() -> sign(op, "release", "sensor-v2", Format.MCUBOOT)).hasMessageContaining("not now; give the signer a new certificate");
        registry.rotate(Actor.operator("alice"), Role.ADMIN, "release", null, null, "code-signing", "test"); // same key, new certificate
        assertThat(sign(op, "release", "sensor-v2", Format.MCUBOOT).format()).isEqualTo(Format.MCUBOOT);
    }

    @Test
    void aDigestIsSignedForCmsAndRawButNotForMcubootAndTheAuditSaysSo() {
        FirmwareAuthorization a = ca.authorizer().firmware(FirmwareAuthorization.Caller.operator(Actor.operator("alice")), signing.signer("release"),
                "sensor-v2", "test");
        byte[] sha = new byte[32];
        FirmwareSigning.Signed s = signing.signDigest(a, req("release", "sensor-v2", Format.CMS), sha, 1000);
        assertThat(s.digestOnly()).isTrue();
        assertThat(ca.ledger().audited(AuditAction.FIRMWARE_SIGN).getLast().detail()).containsEntry("digestOnly", "true");
        assertThatThrownBy(() -> signing.signDigest(a, req("release", "sensor-v2", Format.MCUBOOT), sha, 1000))
                .hasMessageContaining("needs the image itself");
        assertThatThrownBy(() -> signing.signDigest(a, req("release", "sensor-v2", Format.RAW), new byte[20], 1000))
                .hasMessageContaining("SHA-256: 64 hex digits");
    }

    @Test
    void aTruncatedOrLongerImageIsRefusedAndNothingIsAuditedAsSigned() {
        FirmwareAuthorization a = ca.authorizer().firmware(FirmwareAuthorization.Caller.operator(Actor.operator("alice")), signing.signer("release"),
                "sensor-v2", "test");
        for (Format f : Format.values()) {
            assertThatThrownBy(() -> signing.sign(a, req("release", "sensor-v2", f), new ByteArrayInputStream(IMAGE), IMAGE.length + 10,
                    new ByteArrayOutputStream())).as(f.name()).hasMessageContaining("it is truncated");
            assertThatThrownBy(() -> signing.sign(a, req("release", "sensor-v2", f), new ByteArrayInputStream(IMAGE), IMAGE.length - 1,
                    new ByteArrayOutputStream())).as(f.name()).hasMessageContaining("longer than the " + (IMAGE.length - 1) + " bytes given");
        }
        assertThat(ca.ledger().audited(AuditAction.FIRMWARE_SIGN)).isEmpty();
        assertThat(ca.ledger().audited(AuditAction.FIRMWARE_REFUSE)).hasSize(6);
    }

    @Test
    void aSignerKeyReplacedOutsideFleetpkiIsRefused() throws Exception {
        Files.delete(dir.resolve("signers/release.p8"));
        keys.create(KeyRef.parse("file:signers/release.p8"), KeyAlgorithm.EC_P256, pass);
        assertThatThrownBy(() -> sign(FirmwareAuthorization.Caller.operator(Actor.operator("alice")), "release", "sensor-v2", Format.CMS))
                .hasMessageContaining("is not the key signer 'release''s certificate");
    }

    @Test
    void theRawFormatNeedsAnEcdsaSignerAndMcubootAnEcdsaP256OrEd25519One() throws Exception {
        registry.add(Actor.operator("alice"), Role.ADMIN, "ed", Set.of("*"), KeyRef.parse("file:signers/ed.p8"), KeyAlgorithm.ED25519, "code-signing", "test");
        registry.add(Actor.operator("alice"), Role.ADMIN, "p384", Set.of("*"), KeyRef.parse("file:signers/p384.p8"), KeyAlgorithm.EC_P384, "code-signing", "test");
        var op = FirmwareAuthorization.Caller.operator(Actor.operator("alice"));
        assertThatThrownBy(() -> sign(op, "ed", "sensor-v2", Format.RAW)).hasMessageContaining("the raw format carries an ECDSA signature");
        assertThatThrownBy(() -> sign(op, "p384", "sensor-v2", Format.MCUBOOT)).hasMessageContaining("ECDSA P-256 or Ed25519");
        assertThat(sign(op, "ed", "sensor-v2", Format.MCUBOOT).format()).isEqualTo(Format.MCUBOOT);
        FirmwareSigning.Signed p384 = sign(op, "p384", "sensor-v2", Format.RAW);
        assertThat(p384.digest()).hasSize(48).isEqualTo(MessageDigest.getInstance("SHA-384").digest(IMAGE)); // a P-384 signer names images by SHA-384
        assertThat(new String(p384.manifest(), StandardCharsets.UTF_8)).contains("\"sha384\":\"" + HexFormat.of().formatHex(p384.digest()) + "\"")
                .doesNotContain("sha256");
        assertThat(ca.ledger().audited(AuditAction.FIRMWARE_SIGN).getLast().detail()).containsKey("sha384");
        FirmwareAuthorization a = ca.authorizer().firmware(op, signing.signer("p384"), "sensor-v2", "test");
        assertThatThrownBy(() -> signing.signDigest(a, req("p384", "sensor-v2", Format.CMS), new byte[32], 10))
                .hasMessageContaining("SHA-384 (its key is P-384): 96 hex digits");
        assertThat(signing.signDigest(a, req("p384", "sensor-v2", Format.CMS), new byte[48], 10).digestAlgorithm()).isEqualTo("sha384");
        assertThat(sign(op, "ed", "sensor-v2", Format.CMS).format()).isEqualTo(Format.CMS);
    }

    @Test
    void signersAreMadeByOperatorsForNamedModelsAndAFailedOneLeavesNoKey() {
        assertThatThrownBy(() -> registry.add(Actor.operator("bob"), Role.ISSUER, "s2", Set.of("m"), KeyRef.parse("file:signers/s2.p8"),
                KeyAlgorithm.EC_P256, "code-signing", "test")).hasMessageContaining("only an operator");
        assertThatThrownBy(() -> registry.add(Actor.operator("alice"), Role.ADMIN, "s3", Set.of(), KeyRef.parse("file:signers/s3.p8"),
                KeyAlgorithm.EC_P256, "code-signing", "test")).hasMessageContaining("--models '*'");
        assertThatThrownBy(() -> registry.add(Actor.operator("alice"), Role.ADMIN, "s4", Set.of("m"), KeyRef.parse("file:signers/s4.p8"),
                KeyAlgorithm.EC_P256, "device", "test")).hasMessageContaining("a profile of kind code-signing");
        assertThatThrownBy(() -> registry.add(Actor.operator("alice"), Role.ADMIN, "release", Set.of("m"), KeyRef.parse("file:signers/r2.p8"),
                KeyAlgorithm.EC_P256, "code-signing", "test")).hasMessageContaining("already exists");
        // a key policy refusal after the key was made: the key is destroyed again
        TestCa strict = TestCa.builder().clock(clock).profiles("code-signing:\n  keyAlgorithms: [ecdsa-p384]\n").build(dir.resolve("strict"));
        SignerRegistry r = new SignerRegistry(strict.ledger(), strict.authorizer(), strict.pipeline(), keys, pass, clock);
        assertThatThrownBy(() -> r.add(Actor.operator("alice"), Role.ADMIN, "s5", Set.of("m"), KeyRef.parse("file:signers/s5.p8"),
                KeyAlgorithm.EC_P256, "code-signing", "test")).isInstanceOf(PkiException.class);
        assertThat(dir.resolve("signers/s5.p8")).doesNotExist();
        assertThat(strict.ledger().signers()).isEmpty();
        for (String s : List.of("s2", "s3", "s4")) {
            assertThat(dir.resolve("signers/" + s + ".p8")).doesNotExist();
        }
    }
}
