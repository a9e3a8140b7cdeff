package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Role;
import dev.fleetpki.kms.KeyAlgorithm;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.spec.RSAPublicKeySpec;
import java.time.Clock;
import java.util.List;
import org.bouncycastle.asn1.x509.GeneralName;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pipeline rules that need a crafted key or request, on a real CA home and store. */
class IssuancePolicyTest {
    @TempDir Path home;
    Fleet fleet;
    final Authorization factory = Authorization.of(Actor.station("line-1"), Role.FACTORY);
    final Authorization issuer = Authorization.of(Actor.operator("alice"), Role.ISSUER);

    @BeforeEach
    void setUp() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, """
                device-uri: {kind: device, subject: uri-san, uriTemplate: "urn:dev:acme:{id}"}
                device-long: {kind: device, validity: 15y}
                device-tiny: {kind: device, maxDerSize: 300}
                device-ec-only: {kind: device, keyAlgorithms: [ecdsa-p256]}
                """);
        TestHome.init(home);
        fleet = Fleet.open(home, Clock.systemUTC());
        assertThat(Cli.run(home, "device", "add", "dev-1").exit()).isZero();
    }

    @AfterEach
    void tearDown() {
        fleet.close();
    }

    private IssuedCertificate bare(PublicKey key, String profile) {
        return fleet.pipeline().issue(IssuanceRequest.fromBareKey(key, "dev-1", profile, "test"), factory);
    }

    private static ErrorKind kind(Runnable r) {
        try {
            r.run();
        } catch (PkiException e) {
            return e.kind();
        }
        throw new AssertionError("expected a refusal");
    }

    @Test
    void rocaKeysAreRefusedAndOrdinaryRsaKeysAreNot() throws Exception {
        PublicKey roca = rocaStyleKey();
        assertThatThrownBy(() -> bare(roca, "device")).hasMessageContaining("ROCA fingerprint (CVE-2017-15361)");
        PublicKey ordinary = KeyAlgorithm.RSA_2048.generate().getPublic();
        assertThat(bare(ordinary, "device").certificate().getPublicKey()).isEqualTo(ordinary);
    }

    @Test
    void rsaExponentAndAllowedAlgorithmsAreEnforced() throws Exception {
        var rsa = (java.security.interfaces.RSAPublicKey) KeyAlgorithm.RSA_2048.generate().getPublic();
        PublicKey e3 = KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(rsa.getModulus(), BigInteger.valueOf(3)));
        assertThatThrownBy(() -> bare(e3, "device")).hasMessageContaining("RSA public exponent 3 is not allowed");
        PublicKey ed = KeyAlgorithm.ED25519.generate().getPublic();
        assertThatThrownBy(() -> bare(ed, "device-ec-only")).hasMessageContaining("ed25519 is not allowed by this profile; allowed: ecdsa-p256");
    }

    @Test
    void bareKeysNeedAFactoryStation() {
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        assertThat(kind(() -> fleet.pipeline().issue(IssuanceRequest.fromBareKey(k, "dev-1", "device", "test"), issuer)))
                .isEqualTo(ErrorKind.NOT_AUTHORIZED);
        assertThat(bare(k, "device").proofOfPossession()).isFalse();
    }

    @Test
    void theCasOwnKeyIsRefused() {
        PublicKey caKey = fleet.cas().get("issuing").certificate().getPublicKey();
        assertThatThrownBy(() -> bare(caKey, "device")).hasMessageContaining("the CA's own public key");
    }

    @Test
    void aCertificateMayNotOutliveItsIssuer() {
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        assertThatThrownBy(() -> bare(k, "device-long")).hasMessageContaining("after its issuer 'issuing' ends");
        assertThat(fleet.store().certificateCount()).isZero();
        assertThat(fleet.store().reservationCount()).as("no serial was taken, so none was reserved").isZero();
    }

    @Test
    void derSizeBudgetIsLintedBeforeTheCaSigns() {
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        assertThatThrownBy(() -> bare(k, "device-tiny")).hasMessageContaining("over profile 'device-tiny' budget of 300");
        assertThat(fleet.store().certificateCount()).isZero();
    }

    @Test
    void uriSanProfileNamesTheDeviceByUri() throws Exception {
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        IssuedCertificate c = bare(k, "device-uri");
        assertThat(c.certificate().getSubjectAlternativeNames()).anyMatch(l -> l.get(1).equals("urn:dev:acme:dev-1"));
        var wrong = new IssuanceRequest("dev-1", "device-uri", k, null,
                List.of(new GeneralName(GeneralName.uniformResourceIdentifier, "urn:dev:acme:dev-2")), false, "test", null, null);
        assertThatThrownBy(() -> fleet.pipeline().issue(wrong, factory)).hasMessageContaining("allows only the URI urn:dev:acme:dev-1");
    }

    @Test
    void serverNamesAreCheckedAgainstTheProfile() throws Exception {
        assertThat(Cli.run(home, "device", "add", "gw.fleet.example").exit()).isZero();
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        var outside = new IssuanceRequest("gw.fleet.example", "server-tls", k, "gw.fleet.example",
                List.of(new GeneralName(GeneralName.dNSName, "www.bank.example")), true, "test", null, null);
        assertThatThrownBy(() -> fleet.pipeline().issue(outside, issuer)).hasMessageContaining("outside profile 'server-tls' suffixes [fleet.example]");
    }

    @Test
    void cloudVerificationNeedsTheRegistrationCodeAsCn() {
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        var mismatch = new IssuanceRequest(null, "cloud-verification", k, "ABC", List.of(), true, "test", "XYZ", null);
        assertThatThrownBy(() -> fleet.pipeline().issue(mismatch, issuer)).hasMessageContaining("is not the registration code 'XYZ'");
        var ok = new IssuanceRequest(null, "cloud-verification", k, "XYZ", List.of(), true, "test", "XYZ", "root");
        IssuedCertificate c = fleet.pipeline().issue(ok, issuer); // proves possession of the root key, which this store holds
        assertThat(c.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=XYZ");
        assertThat(c.certificate().getIssuerX500Principal()).isEqualTo(fleet.cas().get("root").certificate().getSubjectX500Principal());
    }

    @Test
    void caAndOcspProfilesAreNotForDeviceRequests() {
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        assertThatThrownBy(() -> bare(k, "sub-ca")).hasMessageContaining("come from the ceremony");
        assertThatThrownBy(() -> bare(k, "nonexistent")).hasMessageContaining("no profile named 'nonexistent'");
    }

    /** A 2048-bit modulus built the way ROCA-affected libraries built primes: p = k*M + (65537^a mod M). */
    static PublicKey rocaStyleKey() throws Exception {
        BigInteger m = BigInteger.ONE;
        for (int p : new int[] {3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103,
            107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167}) {
            m = m.multiply(BigInteger.valueOf(p));
        }
        SecureRandom rnd = new SecureRandom();
        BigInteger g = BigInteger.valueOf(65537);
        // choose p, q in [1.5 * 2^1023, 2^1024) so that N = p * q has exactly 2048 bits
        BigInteger lo = BigInteger.ONE.shiftLeft(1022).multiply(BigInteger.valueOf(3)).divide(m).add(BigInteger.ONE);
        BigInteger span = BigInteger.ONE.shiftLeft(1024).divide(m).subtract(lo);
        BigInteger[] primes = new BigInteger[2];
        for (int i = 0; i < 2; i++) {
            for (int attempt = 0; attempt < 100_000 && primes[i] == null; attempt++) {
                BigInteger k = lo.add(new BigInteger(span.bitLength() + 8, rnd).mod(span));
                BigInteger p = k.multiply(m).add(g.modPow(new BigInteger(64, rnd), m));
                if (p.bitLength() == 1024 && p.isProbablePrime(40)) {
                    primes[i] = p;
                }
            }
        }
        return KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(primes[0].multiply(primes[1]), g));
    }
}
