package dev.fleetpki.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ocsp.OCSPObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;

/**
 * Pre-issuance checks on the exact TBS the CA is about to sign (carried in a certificate with a
 * placeholder signature, see {@link LintSigner}), the Boulder model. A finding refuses issuance;
 * the CA signs nothing.
 */
public final class Lint {
    private Lint() {}

    /**
     * A certificate time as DER writes it (UTCTime {@code YYMMDDHHMMSSZ}, years 1950-2049 as RFC 5280
     * 4.1.2.5.1 says, or GeneralizedTime {@code YYYYMMDDHHMMSSZ}), read directly: BouncyCastle's
     * {@code getDate()} goes through a date format and costs more than the rest of the lint.
     * Anything else is left to BouncyCastle.
     */
    static java.time.Instant instant(org.bouncycastle.asn1.x509.Time t) {
        try {
            if (t.toASN1Primitive() instanceof org.bouncycastle.asn1.ASN1UTCTime u) {
                byte[] der = u.getEncoded();
                String raw = new String(der, 2, der.length - 2, StandardCharsets.US_ASCII);
                if (raw.length() == 13 && raw.endsWith("Z")) {
                    int yy = Integer.parseInt(raw.substring(0, 2));
                    return at(yy < 50 ? 2000 + yy : 1900 + yy, raw.substring(2));
                }
            } else if (t.toASN1Primitive() instanceof org.bouncycastle.asn1.ASN1GeneralizedTime g) {
                byte[] der = g.getEncoded();
                String raw = new String(der, 2, der.length - 2, StandardCharsets.US_ASCII);
                if (raw.length() == 15 && raw.endsWith("Z")) {
                    return at(Integer.parseInt(raw.substring(0, 4)), raw.substring(4));
                }
            }
        } catch (IOException | RuntimeException e) {
            // as below
        }
        return t.getDate().toInstant();
    }

    private static java.time.Instant at(int year, String mmddhhmmss) {
        return java.time.LocalDateTime.of(year, Integer.parseInt(mmddhhmmss.substring(0, 2)), Integer.parseInt(mmddhhmmss.substring(2, 4)),
                Integer.parseInt(mmddhhmmss.substring(4, 6)), Integer.parseInt(mmddhhmmss.substring(6, 8)),
                Integer.parseInt(mmddhhmmss.substring(8, 10))).toInstant(java.time.ZoneOffset.UTC);
    }

    /**
     * @param der the encoded certificate (its length is checked against the profile's budget)
     * @param issuer the issuing CA's certificate, or null for a self-signed root
     */
    public static void check(X509CertificateHolder c, int derLength, Profile profile, X509Certificate issuer) {
        List<String> findings = new ArrayList<>();
        if (derLength > profile.maxDerSize()) {
            findings.add("the certificate is " + derLength + " bytes DER, over profile '" + profile.name() + "' budget of "
                    + profile.maxDerSize() + " (raise maxDerSize, or drop URLs or the organization from the profile)");
        }
        if (c.getSerialNumber().signum() <= 0 || c.getSerialNumber().toByteArray().length > 20) {
            findings.add("serial number must be positive and at most 20 octets (RFC 5280 4.1.2.2)");
        }
        if (issuer != null) {
            java.time.Instant notAfter = instant(c.toASN1Structure().getEndDate());
            java.time.Instant notBefore = instant(c.toASN1Structure().getStartDate());
            if (notAfter.isAfter(issuer.getNotAfter().toInstant())) {
                findings.add("notAfter " + notAfter + " is after the issuer's " + issuer.getNotAfter().toInstant());
            }
            if (notBefore.isBefore(issuer.getNotBefore().toInstant())) {
                findings.add("notBefore " + notBefore + " is before the issuer's " + issuer.getNotBefore().toInstant());
            }
            if (!Arrays.equals(encoded(c.getIssuer()), issuer.getSubjectX500Principal().getEncoded())) {
                findings.add("issuer name differs from the issuing CA's subject");
            }
        }
        Extensions ext = c.getExtensions();
        if (ext == null) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "pre-issuance lint refused the certificate: it has no extensions");
        }
        Extension san = ext.getExtension(Extension.subjectAlternativeName);
        if (c.getSubject().getRDNs().length == 0 && (san == null || !san.isCritical())) {
            findings.add("empty subject without a critical subjectAltName (RFC 5280 4.2.1.6)");
        }
        KeyUsage ku = KeyUsage.fromExtensions(ext);
        boolean ca = profile.kind().isCa();
        if (ku == null) {
            findings.add("no key usage extension");
        } else {
            if (ku.hasUsages(KeyUsage.keyCertSign) != ca) {
                findings.add(ca ? "CA certificate without keyCertSign" : "end-entity certificate with keyCertSign");
            }
            ASN1ObjectIdentifier keyAlg = c.getSubjectPublicKeyInfo().getAlgorithm().getAlgorithm();
            if (ku.hasUsages(KeyUsage.keyEncipherment) && !PKCSObjectIdentifiers.rsaEncryption.equals(keyAlg)) {
                findings.add("keyEncipherment on a non-RSA key");
            }
        }
        BasicConstraints bc = BasicConstraints.fromExtensions(ext);
        if ((bc != null && bc.isCA()) != ca) {
            findings.add(ca ? "CA certificate without basicConstraints CA:TRUE" : "end-entity certificate with CA:TRUE");
        }
        if (ca && !ext.getExtension(Extension.basicConstraints).isCritical()) {
            findings.add("basicConstraints must be critical in a CA certificate (RFC 5280 4.2.1.9)");
        }
        if (!ca) {
            ExtendedKeyUsage eku = ExtendedKeyUsage.fromExtensions(ext);
            List<KeyPurposeId> want = profile.kind().extendedKeyUsages();
            if (want.isEmpty() ? eku != null : eku == null || eku.getUsages().length != want.size() || !want.stream().allMatch(eku::hasKeyPurposeId)) {
                findings.add("extended key usage differs from the profile kind's " + want.stream().map(KeyPurposeId::getId).toList());
            }
        }
        if (profile.kind() == ProfileKind.OCSP_SIGNING && ext.getExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nocheck) == null) {
            findings.add("OCSP signing certificate without id-pkix-ocsp-nocheck");
        }
        if (ext.getExtension(Extension.subjectKeyIdentifier) == null || ext.getExtension(Extension.authorityKeyIdentifier) == null) {
            findings.add("missing subject or authority key identifier");
        }
        List<String> outside = NameConstraintsLint.findings(c, profile, issuer);
        if (!outside.isEmpty()) {
            findings.add(String.join("; ", outside) + "; every verifier would reject it: use names inside the constraints, or a profile "
                    + "whose issuer has none (RFC 5280 4.2.1.10)");
        }
        if (!findings.isEmpty()) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "pre-issuance lint refused the certificate: " + String.join("; ", findings));
        }
    }

    private static byte[] encoded(X500Name n) {
        try {
            return n.getEncoded();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
