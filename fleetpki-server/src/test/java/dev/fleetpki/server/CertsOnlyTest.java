package dev.fleetpki.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.Der;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.cms.CMSAbsentContent;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

/** The hand-written certs-only message is byte for byte what BouncyCastle's CMS generator writes in DER. */
class CertsOnlyTest {
    @Test
    void sameBytesAsBouncyCastleForOneAndSeveralCertificates() throws Exception {
        List<X509Certificate> certs = new ArrayList<>();
        // different sizes (an RSA key makes a certificate past 256 bytes of length: long-form lengths)
        certs.add(cert("CN=short", "EC", 256));
        certs.add(cert("CN=a much longer subject name, O=Some Organisation, C=DE", "RSA", 2048));
        certs.add(cert("CN=another", "EC", 384));
        for (int n = 1; n <= certs.size(); n++) {
            List<X509Certificate> some = certs.subList(0, n);
            List<byte[]> ders = new ArrayList<>();
            for (X509Certificate c : some.reversed()) { // input order must not matter: DER sorts the SET OF
                ders.add(c.getEncoded());
            }
            CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
            gen.addCertificates(new JcaCertStore(some));
            byte[] expected = gen.generate(new CMSAbsentContent()).getEncoded(ASN1Encoding.DER);
            byte[] ours = CertsOnly.der(ders);
            assertThat(ours).as("%d certificate(s)", n).isEqualTo(expected);
            assertThat(new CMSSignedData(ours).getCertificates().getMatches(null)).hasSize(n);
        }
    }

    @Test
    void derLengthsShortAndLongForm() {
        assertThat(Der.tlv(0x04, new byte[0x7f])).startsWith(0x04, 0x7f);
        assertThat(Der.tlv(0x04, new byte[0x80])).startsWith(0x04, 0x81, 0x80);
        assertThat(Der.tlv(0x04, new byte[0x1234])).startsWith(0x04, 0x82, 0x12, 0x34);
        assertThat(Der.tlv(0x04, new byte[0x12345])).startsWith(0x04, 0x83, 0x01, 0x23, 0x45);
    }

    private static X509Certificate cert(String subject, String alg, int size) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance(alg);
        g.initialize(size);
        KeyPair kp = g.generateKeyPair();
        long now = System.currentTimeMillis();
        return new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(new X500Name(subject), BigInteger.valueOf(now),
                new Date(now), new Date(now + 86_400_000L), new X500Name(subject), kp.getPublic())
                .build(new JcaContentSignerBuilder(alg.equals("EC") ? "SHA256withECDSA" : "SHA256withRSA").build(kp.getPrivate())));
    }
}
