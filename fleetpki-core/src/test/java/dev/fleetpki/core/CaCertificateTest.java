package dev.fleetpki.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.testkit.Csrs;
import dev.fleetpki.core.testkit.TestCa;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x509.AccessDescription;
import org.bouncycastle.asn1.x509.AuthorityInformationAccess;
import org.bouncycastle.asn1.x509.CRLDistPoint;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where relying parties are sent for revocation: an issuing CA's certificate names the root's CRL
 * and no OCSP responder (none could answer for it: the root signs it and may be offline), while
 * what the issuing CA signs names both.
 */
class CaCertificateTest {
    @TempDir Path dir;

    @Test
    void caCertificatesPointToTheRootCrlOnlyAndLeavesToCrlAndOcsp() {
        TestCa ca = TestCa.builder().build(dir);
        X509Certificate issuing = ca.ledger().ca("issuing").orElseThrow().certificate();
        assertThat(crlUrl(issuing)).isEqualTo("http://ca.test/crl/root.crl");
        assertThat(ocspUrls(issuing)).isEmpty();

        ca.ledger().register("dev-1", null);
        IssuedCertificate leaf = ca.pipeline().issue(IssuanceRequest.fromCsr(Csrs.forCn("dev-1"), "dev-1", "device", "test"),
                ca.authorizer().operator(Actor.operator("alice"), "dev-1", "device", "test"));
        assertThat(crlUrl(leaf.certificate())).isEqualTo("http://ca.test/crl/issuing.crl");
        assertThat(ocspUrls(leaf.certificate())).containsExactly("http://ca.test/ocsp");
    }

    private static String crlUrl(X509Certificate c) {
        CRLDistPoint dp = CRLDistPoint.getInstance(ASN1OctetString.getInstance(c.getExtensionValue(Extension.cRLDistributionPoints.getId())).getOctets());
        return GeneralNames.getInstance(dp.getDistributionPoints()[0].getDistributionPoint().getName())
                .getNames()[0].getName().toString();
    }

    private static List<String> ocspUrls(X509Certificate c) {
        byte[] ext = c.getExtensionValue(Extension.authorityInfoAccess.getId());
        if (ext == null) {
            return List.of();
        }
        AuthorityInformationAccess aia = AuthorityInformationAccess.getInstance(ASN1OctetString.getInstance(ext).getOctets());
        return Arrays.stream(aia.getAccessDescriptions()).filter(d -> d.getAccessMethod().equals(AccessDescription.id_ad_ocsp))
                .map(d -> d.getAccessLocation().getName().toString()).toList();
    }
}
