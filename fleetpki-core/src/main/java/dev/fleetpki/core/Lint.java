package dev.fleetpki.core;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.ocsp.OCSPObjectIdentifiers;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyPurposeId;

/**
 * Pre-issuance checks on a certificate signed with a throwaway key, before the CA key signs the
 * same TBS (the Boulder model). A finding refuses issuance; nothing is signed by the CA.
 */
public final class Lint {
    private Lint() {}

    public static void check(X509Certificate c, byte[] der, Profile profile, X509Certificate issuer) {
        List<String> findings = new ArrayList<>();
        if (der.length > profile.maxDerSize()) {
            findings.add("the certificate is " + der.length + " bytes DER, over profile '" + profile.name() + "' budget of "
                    + profile.maxDerSize() + " (raise maxDerSize, or drop URLs or the organization from the profile)");
        }
        if (c.getSerialNumber().signum() <= 0 || c.getSerialNumber().toByteArray().length > 20) {
            findings.add("serial number must be positive and at most 20 octets (RFC 5280 4.1.2.2)");
        }
        if (issuer != null) {
            if (c.getNotAfter().after(issuer.getNotAfter())) {
                findings.add("notAfter " + c.getNotAfter().toInstant() + " is after the issuer's " + issuer.getNotAfter().toInstant());
            }
            if (c.getNotBefore().before(issuer.getNotBefore())) {
                findings.add("notBefore " + c.getNotBefore().toInstant() + " is before the issuer's " + issuer.getNotBefore().toInstant());
            }
            if (!c.getIssuerX500Principal().equals(issuer.getSubjectX500Principal())) {
                findings.add("issuer name differs from the issuing CA's subject");
            }
        }
        boolean emptySubject = c.getSubjectX500Principal().getEncoded().length <= 2;
        try {
            if (emptySubject && (c.getSubjectAlternativeNames() == null
                    || !c.getCriticalExtensionOIDs().contains(Extension.subjectAlternativeName.getId()))) {
                findings.add("empty subject without a critical subjectAltName (RFC 5280 4.2.1.6)");
            }
        } catch (CertificateParsingException e) {
            findings.add("subjectAltName does not parse: " + e.getMessage());
        }
        boolean[] ku = c.getKeyUsage();
        if (ku == null) {
            findings.add("no key usage extension");
        } else {
            boolean certSign = ku.length > 5 && ku[5];
            if (certSign != profile.kind().isCa()) {
                findings.add(profile.kind().isCa() ? "CA certificate without keyCertSign" : "end-entity certificate with keyCertSign");
            }
            boolean keyEncipherment = ku.length > 2 && ku[2];
            if (keyEncipherment && !"RSA".equals(c.getPublicKey().getAlgorithm())) {
                findings.add("keyEncipherment on a non-RSA key");
            }
        }
        if ((c.getBasicConstraints() >= 0) != profile.kind().isCa()) {
            findings.add(profile.kind().isCa() ? "CA certificate without basicConstraints CA:TRUE" : "end-entity certificate with CA:TRUE");
        }
        if (profile.kind().isCa() && !c.getCriticalExtensionOIDs().contains(Extension.basicConstraints.getId())) {
            findings.add("basicConstraints must be critical in a CA certificate (RFC 5280 4.2.1.9)");
        }
        if (!profile.kind().isCa()) {
            try {
                List<String> eku = c.getExtendedKeyUsage();
                List<String> want = profile.kind().extendedKeyUsages().stream().map(KeyPurposeId::getId).toList();
                if (eku == null || !eku.containsAll(want) || eku.size() != want.size()) {
                    findings.add("extended key usage " + eku + " differs from the profile kind's " + want);
                }
            } catch (CertificateParsingException e) {
                findings.add("extended key usage does not parse");
            }
        }
        if (profile.kind() == ProfileKind.OCSP_SIGNING && c.getExtensionValue(OCSPObjectIdentifiers.id_pkix_ocsp_nocheck.getId()) == null) {
            findings.add("OCSP signing certificate without id-pkix-ocsp-nocheck");
        }
        if (c.getExtensionValue(Extension.subjectKeyIdentifier.getId()) == null
                || c.getExtensionValue(Extension.authorityKeyIdentifier.getId()) == null) {
            findings.add("missing subject or authority key identifier");
        }
        if (!findings.isEmpty()) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "pre-issuance lint refused the certificate: " + String.join("; ", findings));
        }
    }
}
