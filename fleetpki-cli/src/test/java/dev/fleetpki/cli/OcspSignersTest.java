package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.revocation.RevocationService;
import dev.fleetpki.server.RevocationHttp;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delegated OCSP signers (RFC 6960 4.2.2.2): every issuing and code-signing CA gets one, certified
 * by that CA, and a new one before the old one ends; OpenSSL checks the answers they sign.
 */
class OcspSignersTest {
    @TempDir Path dir;

    @Test
    void everyCaGetsADelegatedSignerAndANewOneBeforeItEnds() throws Exception {
        Path home = TestHome.write(dir, "ecdsa-p256", """
                  - name: factory-b
                    subject: "CN=Factory B CA,O=fleetpki test"
                ocsp:
                  subject: "CN=Test OCSP Signer,O=fleetpki test"
                  validity: 30d
                codeSigning:
                  subject: "CN=Test Code Signing CA,O=fleetpki test"
                """, null);
        TestHome.init(home);
        assertThat(Cli.run(home, "device", "add", "sensor-b").exit()).isZero();
        Path csr = TestHome.opensslCsr(home, "sensor-b", "ec", "/CN=sensor-b", "-pkeyopt", "ec_paramgen_curve:P-256");
        Path cert = home.resolve("sensor-b.crt");
        Cli.Result signed = Cli.run(home, "sign", "--csr", csr.toString(), "--device", "sensor-b", "--ca", "factory-b", "--out", cert.toString());
        assertThat(signed.exit()).as(signed.all()).isZero();

        // the ceremony certified one signer, for the first issuing CA; the server's check certifies the others
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            RevocationService rev = f.revocation();
            List<CaRecord> made = rev.maintainOcspSigners();
            assertThat(made).extracting(CaRecord::parent).containsExactlyInAnyOrder("factory-b", "code-signing");
            assertThat(made).allSatisfy(r -> {
                assertThat(r.role()).isEqualTo(CaRole.OCSP);
                assertThat(r.certificate().getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.9");
                assertThat(r.certificate().getExtensionValue("1.3.6.1.5.5.7.48.1.5")).as("id-pkix-ocsp-nocheck").isNotNull();
                assertThat(Duration.between(r.certificate().getNotBefore().toInstant(), r.certificate().getNotAfter().toInstant()))
                        .isLessThanOrEqualTo(Duration.ofDays(30).plusMinutes(5));
                assertThat(home.resolve("keys/" + r.name() + ".p8")).exists();
            });
            assertThat(rev.maintainOcspSigners()).as("nothing due a second time").isEmpty();
            CaRecord factorySigner = made.stream().filter(r -> r.parent().equals("factory-b")).findFirst().orElseThrow();

            // OpenSSL: the answer for factory-b's certificate verifies, and is signed by factory-b's own delegated signer
            try (RevocationHttp http = RevocationHttp.start(rev, f.store(), f.store().revocation(), new dev.fleetpki.server.Metrics(java.util.Set.of()), "127.0.0.1", 0)) {
                String out = ocsp(home, home.resolve("ca/factory-b.pem"), cert, "http://127.0.0.1:" + http.port() + "/ocsp");
                assertThat(out).contains("Response verify OK").contains(cert + ": good");
                assertThat(signerOf(out)).isEqualTo(factorySigner.certificate().getSerialNumber());
            }
        }

        // 25 days on, the 30-day signers are within a third of their end: new ones replace them, and answers use the new ones
        Clock later = Clock.offset(Clock.systemUTC(), Duration.ofDays(25));
        try (Fleet f = Fleet.open(home, later)) {
            RevocationService rev = f.revocation();
            List<CaRecord> renewed = rev.maintainOcspSigners();
            assertThat(renewed).extracting(CaRecord::parent).containsExactlyInAnyOrder("issuing", "factory-b", "code-signing");
            CaRecord newIssuingSigner = renewed.stream().filter(r -> r.parent().equals("issuing")).findFirst().orElseThrow();
            assertThat(f.store().cas().stream().filter(c -> c.role() == CaRole.OCSP).count()).as("old signers stay (their answers are still valid)")
                    .isEqualTo(6);
            var answer = rev.answer(new org.bouncycastle.cert.ocsp.OCSPReqBuilder().addRequest(
                    dev.fleetpki.core.OcspSigner.Issuer.of("issuing", f.store().ca("issuing").orElseThrow().certificate())
                            .sha1Id(java.math.BigInteger.valueOf(12345))).build().getEncoded());
            var basic = (org.bouncycastle.cert.ocsp.BasicOCSPResp) new org.bouncycastle.cert.ocsp.OCSPResp(answer.der()).getResponseObject();
            assertThat(basic.getCerts()[0].getSerialNumber()).as("the answer carries the new signer").isEqualTo(newIssuingSigner.certificate().getSerialNumber());
        }
    }

    @Test
    void withoutCeremonyOcspTheCaKeysSignAndNothingIsCertified() throws Exception {
        Path home = TestHome.write(dir, "ecdsa-p256", null, null);
        TestHome.init(home);
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            RevocationService rev = f.revocation();
            assertThat(rev.maintainOcspSigners()).isEmpty();
            assertThat(f.store().cas()).noneMatch(c -> c.role() == CaRole.OCSP);
        }
    }

    private static String ocsp(Path home, Path issuer, Path cert, String url) {
        return Proc.run(home, Map.of(), "openssl", "ocsp", "-issuer", issuer.toString(), "-cert", cert.toString(), "-url", url,
                "-CAfile", home.resolve("ca/root.pem").toString(), "-resp_text", "-no_nonce").output();
    }

    /** The serial of the certificate that signed an answer, from openssl's -resp_text ("Certificate: ... Serial Number: ..."). */
    private static java.math.BigInteger signerOf(String respText) throws Exception {
        int at = respText.indexOf("-----BEGIN CERTIFICATE-----");
        assertThat(at).as("the answer includes its signer's certificate").isNotNegative();
        String pem = respText.substring(at, respText.indexOf("-----END CERTIFICATE-----", at) + 25);
        return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new java.io.ByteArrayInputStream(pem.getBytes())))
                .getSerialNumber();
    }
}
