package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.EnrollmentAuthorizer;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.Station;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.KeyAlgorithm;
import java.math.BigInteger;
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
    /** A factory station's authorization (every fleet) to certify a bare key for dev-1 with this profile. */
    private Authorization factory(String profile) {
        var station = new EnrollmentCredential.FactoryStation(new Station("line-1", "ACTIVE", null, "*"));
        return ((EnrollmentAuthorizer.Allowed) fleet.authorizer().decide(station, "dev-1", profile, EnrollmentAuthorizer.Purpose.BARE_KEY, "test"))
                .authorization();
    }

    private Authorization issuer(String device, String profile) {
        return fleet.authorizer().operator(Actor.operator("alice"), device, profile, "test");
    }

    @BeforeEach
    void setUp() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, """
                device-uri: {kind: device, subject: uri-san, uriTemplate: "urn:dev:acme:{id}"}
                device-long: {kind: device, validity: 15y}
                device-tiny: {kind: device, maxDerSize: 300}
                device-ec-only: {kind: device, keyAlgorithms: [ecdsa-p256]}
                server-ranged: {kind: server-tls, dnsSuffixes: [fleet.example, pki.test], ipRanges: [10.20.0.0/16, "fd00::/8"]}
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
        return fleet.pipeline().issue(IssuanceRequest.fromBareKey(key, "dev-1", profile, "test"), factory(profile));
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
        assertThat(kind(() -> fleet.pipeline().issue(IssuanceRequest.fromBareKey(k, "dev-1", "device", "test"), issuer("dev-1", "device"))))
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
        assertThat(fleet.store().certificates().certificateCount()).isZero();
        assertThat(fleet.store().reservationCount()).as("no serial was taken, so none was reserved").isZero();
    }

    @Test
    void derSizeBudgetIsLintedBeforeTheCaSigns() {
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        assertThatThrownBy(() -> bare(k, "device-tiny")).hasMessageContaining("over profile 'device-tiny' budget of 300");
        assertThat(fleet.store().certificates().certificateCount()).isZero();
    }

    @Test
    void uriSanProfileNamesTheDeviceByUri() throws Exception {
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        IssuedCertificate c = bare(k, "device-uri");
        assertThat(c.certificate().getSubjectAlternativeNames()).anyMatch(l -> l.get(1).equals("urn:dev:acme:dev-1"));
        var wrong = new IssuanceRequest("dev-1", "device-uri", k, null,
                List.of(new GeneralName(GeneralName.uniformResourceIdentifier, "urn:dev:acme:dev-2")), false, "test", null, null);
        assertThatThrownBy(() -> fleet.pipeline().issue(wrong, factory("device-uri"))).hasMessageContaining("allows only the URI urn:dev:acme:dev-1");
    }

    @Test
    void serverNamesAreCheckedAgainstTheProfile() throws Exception {
        assertThat(Cli.run(home, "device", "add", "gw.fleet.example").exit()).isZero();
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        var outside = new IssuanceRequest("gw.fleet.example", "server-tls", k, "gw.fleet.example",
                List.of(new GeneralName(GeneralName.dNSName, "www.bank.example")), true, "test", null, null);
        assertThatThrownBy(() -> fleet.pipeline().issue(outside, issuer("gw.fleet.example", "server-tls")))
                .hasMessageContaining("outside profile 'server-tls' suffixes [fleet.example]");
    }

    @Test
    void anAuthorizationIsForOneDeviceAndOneProfile() {
        assertThat(Cli.run(home, "device", "add", "dev-2").exit()).isZero();
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        Authorization forDev1 = factory("device");
        assertThatThrownBy(() -> fleet.pipeline().issue(IssuanceRequest.fromBareKey(k, "dev-2", "device", "test"), forDev1))
                .hasMessageContaining("for device 'dev-1', not 'dev-2'");
        assertThatThrownBy(() -> fleet.pipeline().issue(IssuanceRequest.fromBareKey(k, "dev-1", "device-uri", "test"), forDev1))
                .hasMessageContaining("authorized for profile 'device', not 'device-uri'");
        assertThat(fleet.store().certificates().certificateCount()).isZero();
    }

    @Test
    void aStationBoundToNoFleetEnrollsNothing() {
        var unbound = new EnrollmentCredential.FactoryStation(new Station("old-line", "ACTIVE", null, null));
        assertThatThrownBy(() -> fleet.authorizer().decide(unbound, "dev-1", "device", EnrollmentAuthorizer.Purpose.BARE_KEY, "test"))
                .isInstanceOf(PkiException.class).hasMessageContaining("bound to no fleet");
        var other = new EnrollmentCredential.FactoryStation(new Station("cam-line", "ACTIVE", null, "camera"));
        assertThat(Cli.run(home, "device", "add", "cam-1", "--model", "camera").exit()).isZero();
        assertThat(fleet.authorizer().decide(other, "cam-1", "device", EnrollmentAuthorizer.Purpose.BARE_KEY, "test"))
                .isInstanceOf(EnrollmentAuthorizer.Allowed.class);
        assertThatThrownBy(() -> fleet.authorizer().decide(other, "dev-1", "device", EnrollmentAuthorizer.Purpose.BARE_KEY, "test"))
                .hasMessageContaining("fleet 'camera' only");
    }

    @Test
    void serverIpAddressesMustLieInTheProfilesRanges() throws Exception {
        assertThat(Cli.run(home, "device", "add", "ranged.fleet.example").exit()).isZero();
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        var outside = new IssuanceRequest("ranged.fleet.example", "server-ranged", k, "ranged.fleet.example",
                List.of(new GeneralName(GeneralName.iPAddress, "192.168.1.7")), true, "test", null, null);
        assertThatThrownBy(() -> fleet.pipeline().issue(outside, issuer("ranged.fleet.example", "server-ranged")))
                .hasMessageContaining("IP address 192.168.1.7 is outside profile 'server-ranged' ranges [10.20.0.0/16, fd00::/8]");
        var inside = new IssuanceRequest("ranged.fleet.example", "server-ranged", k, "ranged.fleet.example",
                List.of(new GeneralName(GeneralName.iPAddress, "10.20.3.4"), new GeneralName(GeneralName.iPAddress, "fd12::1")), true, "test", null, null);
        assertThat(fleet.pipeline().issue(inside, issuer("ranged.fleet.example", "server-ranged")).certificate().getSubjectAlternativeNames())
                .anyMatch(l -> l.get(1).equals("10.20.3.4"));
        // the hosts of the CA's own URLs are never a server's name
        var own = new IssuanceRequest("ranged.fleet.example", "server-ranged", k, "ranged.fleet.example",
                List.of(new GeneralName(GeneralName.dNSName, "pki.test")), true, "test", null, null);
        assertThatThrownBy(() -> fleet.pipeline().issue(own, issuer("ranged.fleet.example", "server-ranged")))
                .hasMessageContaining("'pki.test' names one of this CA's own services");
    }

    @Test
    void cloudVerificationNeedsTheRegistrationCodeAsCn() {
        PublicKey k = KeyAlgorithm.EC_P256.generate().getPublic();
        var mismatch = new IssuanceRequest(null, "cloud-verification", k, "ABC", List.of(), true, "test", "XYZ", null);
        assertThatThrownBy(() -> fleet.pipeline().issue(mismatch, issuer(null, "cloud-verification"))).hasMessageContaining("is not the registration code 'XYZ'");
        var ok = new IssuanceRequest(null, "cloud-verification", k, "XYZ", List.of(), true, "test", "XYZ", "root");
        IssuedCertificate c = fleet.pipeline().issue(ok, issuer(null, "cloud-verification")); // proves possession of the root key, which this store holds
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
