package dev.fleetpki.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fleetpki.core.testkit.Csrs;
import dev.fleetpki.kms.KeyAlgorithm;
import java.math.BigInteger;
import java.security.KeyPair;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.crmf.CertificateRequestMessageBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

/** CMP's CRMF requests (RFC 4211): the template's key and names, and the signature proof of possession checked. */
class CrmfRequestTest {
    static byte[] certReqMsg(KeyPair certified, KeyPair popSigner, String subject, boolean pop) throws Exception {
        var b = new CertificateRequestMessageBuilder(BigInteger.ZERO)
                .setPublicKey(SubjectPublicKeyInfo.getInstance(certified.getPublic().getEncoded()))
                .setSubject(new X500Name(subject))
                .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName(GeneralName.dNSName, "dev-1.example")));
        if (pop) {
            b.setProofOfPossessionSigningKeySigner(new JcaContentSignerBuilder("SHA256withECDSA").build(popSigner.getPrivate()));
        }
        return b.build().getEncoded();
    }

    @Test
    void aSignedRequestGivesItsKeySubjectAndNames() throws Exception {
        KeyPair kp = Csrs.keyPair(KeyAlgorithm.EC_P256);
        byte[] der = certReqMsg(kp, kp, "CN=dev-1", true);
        UntrustedCsr r = UntrustedCsr.parseCertReqMsg(der);
        assertArrayEquals(kp.getPublic().getEncoded(), r.publicKey().getEncoded());
        assertEquals("dev-1", r.commonName());
        assertEquals(List.of(new GeneralName(GeneralName.dNSName, "dev-1.example")), r.requestedSubjectAltNames());
        assertArrayEquals(der, r.der());
        assertEquals("dev-1", UntrustedCsr.stored(der).commonName(), "a kept CRMF request reads back");
    }

    @Test
    void aProofByAnotherKeyOrNoneIsRefused() throws Exception {
        KeyPair kp = Csrs.keyPair(KeyAlgorithm.EC_P256);
        KeyPair other = Csrs.keyPair(KeyAlgorithm.EC_P256);
        PkiException wrong = assertThrows(PkiException.class, () -> UntrustedCsr.parseCertReqMsg(certReqMsg(kp, other, "CN=dev-1", true)));
        assertEquals(ErrorKind.BAD_SIGNATURE, wrong.kind());
        PkiException none = assertThrows(PkiException.class, () -> UntrustedCsr.parseCertReqMsg(certReqMsg(kp, kp, "CN=dev-1", false)));
        assertEquals(ErrorKind.BAD_SIGNATURE, none.kind());
    }

    @Test
    void garbageIsMalformed() {
        PkiException e = assertThrows(PkiException.class, () -> UntrustedCsr.parseCertReqMsg(new byte[] {0x30, 0x03, 0x02, 0x01, 0x00}));
        assertEquals(ErrorKind.MALFORMED_REQUEST, e.kind());
        assertThrows(PkiException.class, () -> UntrustedCsr.stored(new byte[] {0x04, 0x00}));
    }
}
