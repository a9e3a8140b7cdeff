package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.revocation.RevocationService;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.ocsp.OCSPObjectIdentifiers;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cert.ocsp.BasicOCSPResp;
import org.bouncycastle.cert.ocsp.CertificateID;
import org.bouncycastle.cert.ocsp.OCSPReqBuilder;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.cert.ocsp.UnknownStatus;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an anonymous OCSP client can make the responder do: a nonce is echoed only up to 32
 * octets (RFC 8954 2.1; longer ones are answered without it, from the pre-signed answers), an
 * empty or malformed nonce is malformedRequest (RFC 9654), and answers for serials this CA never
 * issued are signed only up to {@code revocation.ocsp.unknownPerSecond}, then tryLater.
 */
class OcspAbuseTest {
    @TempDir Path dir;

    /** A request with the nonce as RFC 9654 encodes it (extnValue holds an OCTET STRING), or none when null. */
    private static byte[] request(X509Certificate issuer, BigInteger serial, byte[] nonce) throws Exception {
        return requestRaw(issuer, serial, nonce == null ? null : new DEROctetString(nonce).getEncoded());
    }

    /** A request whose nonce extension's extnValue holds exactly these octets (older clients put the bare nonce there). */
    private static byte[] requestRaw(X509Certificate issuer, BigInteger serial, byte[] extnValue) throws Exception {
        CertificateID id = new CertificateID(new JcaDigestCalculatorProviderBuilder().build().get(CertificateID.HASH_SHA1),
                new JcaX509CertificateHolder(issuer), serial);
        OCSPReqBuilder b = new OCSPReqBuilder().addRequest(id);
        if (extnValue != null) {
            b.setRequestExtensions(new Extensions(new Extension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce, false, new DEROctetString(extnValue))));
        }
        return b.build().getEncoded();
    }

    private static byte[] nonceOf(OCSPResp resp) throws Exception {
        Extension e = ((BasicOCSPResp) resp.getResponseObject()).getExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce);
        return e == null ? null : org.bouncycastle.asn1.ASN1OctetString.getInstance(e.getExtnValue().getOctets()).getOctets();
    }

    @Test
    void noncesAreEchoedUpToThirtyTwoOctetsAndAnEmptyOneIsMalformed() throws Exception {
        try (TestServer t = TestServer.start(dir, null)) {
            X509Certificate issuing = t.fleet.store().ca("issuing").orElseThrow().certificate();
            BigInteger serial = t.fleet.store().certificates().certificates(null, java.time.Instant.now(), null, 10).getFirst().issued().certificate().getSerialNumber();
            RevocationService r = t.services.revocation();
            byte[] n16 = new byte[16];
            new SecureRandom().nextBytes(n16);
            OCSPResp echoed = new OCSPResp(r.answer(request(issuing, serial, n16)).der());
            assertThat(echoed.getStatus()).isZero();
            assertThat(nonceOf(echoed)).isEqualTo(n16);
            byte[] n32 = new byte[32];
            assertThat(nonceOf(new OCSPResp(r.answer(request(issuing, serial, n32)).der()))).isEqualTo(n32);
            OCSPResp longNonce = new OCSPResp(r.answer(request(issuing, serial, new byte[33])).der());
            assertThat(longNonce.getStatus()).isZero();
            assertThat(nonceOf(longNonce)).as("answered without the nonce").isNull();
            OCSPResp huge = new OCSPResp(r.answer(request(issuing, serial, new byte[4000])).der());
            assertThat(huge.getStatus()).isZero();
            assertThat(nonceOf(huge)).isNull();
            assertThat(new OCSPResp(r.answer(request(issuing, serial, new byte[0])).der()).getStatus()).as("empty nonce").isEqualTo(1);
            assertThat(new OCSPResp(r.answer(requestRaw(issuing, serial, new byte[0])).der()).getStatus()).as("empty extnValue").isEqualTo(1);
            // an older client's nonce, straight in extnValue: its length counts the same way
            byte[] raw = new byte[20];
            new SecureRandom().nextBytes(raw);
            raw[0] = 0x55; // not a DER tag an OCTET STRING starts with
            OCSPResp rawAnswer = new OCSPResp(r.answer(requestRaw(issuing, serial, raw)).der());
            assertThat(((BasicOCSPResp) rawAnswer.getResponseObject()).getExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce).getExtnValue().getOctets())
                    .isEqualTo(raw);
            assertThat(((BasicOCSPResp) new OCSPResp(r.answer(requestRaw(issuing, serial, new byte[40])).der()).getResponseObject())
                    .getExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce)).as("40 raw octets: answered without").isNull();
        }
    }

    @Test
    void answersForSerialsNeverIssuedAreRationedAndKnownOnesStillAnswered() throws Exception {
        try (TestServer t = TestServer.start(dir, null, """
                revocation:
                  ocsp:
                    unknownPerSecond: 5
                """)) {
            X509Certificate issuing = t.fleet.store().ca("issuing").orElseThrow().certificate();
            RevocationService r = t.services.revocation();
            SecureRandom random = new SecureRandom();
            int signed = 0;
            int later = 0;
            long start = System.nanoTime();
            for (int i = 0; i < 200; i++) {
                OCSPResp resp = new OCSPResp(r.answer(request(issuing, new BigInteger(126, random), null)).der());
                if (resp.getStatus() == 0) {
                    assertThat(((BasicOCSPResp) resp.getResponseObject()).getResponses()[0].getCertStatus()).isInstanceOf(UnknownStatus.class);
                    assertThat(((BasicOCSPResp) resp.getResponseObject()).getResponses()[0].getNextUpdate()).as("RFC 5019 2.2.4").isNotNull();
                    signed++;
                } else {
                    assertThat(resp.getStatus()).as("tryLater").isEqualTo(3);
                    later++;
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(signed).as("signed in %.2f s", seconds).isLessThanOrEqualTo(5 + (int) Math.ceil(seconds * 5) + 1);
            assertThat(later).isGreaterThan(0);
            // the server's own certificate is issued: its answer is still signed
            BigInteger known = t.fleet.store().certificates().certificates(null, java.time.Instant.now(), null, 10).getFirst().issued().certificate().getSerialNumber();
            OCSPResp good = new OCSPResp(r.answer(request(issuing, known, null)).der());
            assertThat(good.getStatus()).isZero();
            assertThat(((BasicOCSPResp) good.getResponseObject()).getResponses()[0].getCertStatus()).isNull();
        }
    }
}
