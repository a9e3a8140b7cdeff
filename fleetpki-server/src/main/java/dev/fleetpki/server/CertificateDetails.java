package dev.fleetpki.server;

import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.kms.KeyAlgorithm;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.AccessDescription;
import org.bouncycastle.asn1.x509.AuthorityInformationAccess;
import org.bouncycastle.asn1.x509.CRLDistPoint;
import org.bouncycastle.asn1.x509.DistributionPoint;
import org.bouncycastle.asn1.x509.DistributionPointName;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;

/** A certificate decoded for a person to read: each field named in words, as the console's certificate page shows it. */
final class CertificateDetails {
    private static final String[] KEY_USAGE = {"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
        "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"};
    private static final Map<String, String> EKU = Map.of("1.3.6.1.5.5.7.3.1", "serverAuth", "1.3.6.1.5.5.7.3.2", "clientAuth",
            "1.3.6.1.5.5.7.3.3", "codeSigning", "1.3.6.1.5.5.7.3.4", "emailProtection", "1.3.6.1.5.5.7.3.8", "timeStamping",
            "1.3.6.1.5.5.7.3.9", "OCSPSigning", "1.3.6.1.5.5.7.3.28", "cmcRA");
    private static final String[] SAN_KIND = {"otherName", "email", "DNS", "x400", "directory", "ediParty", "URI", "IP", "registeredID"};

    private CertificateDetails() {}

    /** Label and value, in the order a reader wants them. */
    static List<String[]> of(X509Certificate c) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"Subject", c.getSubjectX500Principal().getName(X500Principal.RFC2253)});
        rows.add(new String[] {"Issuer", c.getIssuerX500Principal().getName(X500Principal.RFC2253)});
        rows.add(new String[] {"Serial", c.getSerialNumber().toString(16)});
        rows.add(new String[] {"Valid from", c.getNotBefore().toInstant().toString()});
        rows.add(new String[] {"Valid until", c.getNotAfter().toInstant().toString()});
        String key;
        try {
            key = KeyAlgorithm.of(c.getPublicKey()).configName();
        } catch (RuntimeException e) {
            key = c.getPublicKey().getAlgorithm();
        }
        rows.add(new String[] {"Public key", key});
        rows.add(new String[] {"Signature", c.getSigAlgName()});
        try {
            Collection<List<?>> sans = c.getSubjectAlternativeNames();
            if (sans != null) {
                List<String> names = new ArrayList<>();
                for (List<?> san : sans) {
                    int kind = (Integer) san.get(0);
                    names.add((kind >= 0 && kind < SAN_KIND.length ? SAN_KIND[kind] : String.valueOf(kind)) + ":" + san.get(1));
                }
                rows.add(new String[] {"Subject alternative names", String.join(", ", names)});
            }
        } catch (CertificateParsingException e) {
            rows.add(new String[] {"Subject alternative names", "(unreadable)"});
        }
        boolean[] ku = c.getKeyUsage();
        if (ku != null) {
            List<String> names = new ArrayList<>();
            for (int i = 0; i < ku.length && i < KEY_USAGE.length; i++) {
                if (ku[i]) {
                    names.add(KEY_USAGE[i]);
                }
            }
            rows.add(new String[] {"Key usage", String.join(", ", names)});
        }
        try {
            List<String> eku = c.getExtendedKeyUsage();
            if (eku != null) {
                rows.add(new String[] {"Extended key usage", String.join(", ", eku.stream().map(o -> EKU.getOrDefault(o, o)).toList())});
            }
        } catch (CertificateParsingException e) {
            rows.add(new String[] {"Extended key usage", "(unreadable)"});
        }
        int bc = c.getBasicConstraints();
        rows.add(new String[] {"CA", bc < 0 ? "no" : "yes" + (bc == Integer.MAX_VALUE ? "" : ", path length " + bc)});
        try {
            Extensions ext = new JcaX509CertificateHolder(c).getExtensions();
            if (ext != null) {
                CRLDistPoint dp = CRLDistPoint.fromExtensions(ext);
                if (dp != null) {
                    List<String> urls = new ArrayList<>();
                    for (DistributionPoint p : dp.getDistributionPoints()) {
                        if (p.getDistributionPoint() != null && p.getDistributionPoint().getType() == DistributionPointName.FULL_NAME) {
                            for (GeneralName n : GeneralNames.getInstance(p.getDistributionPoint().getName()).getNames()) {
                                urls.add(n.getName().toString());
                            }
                        }
                    }
                    rows.add(new String[] {"CRL distribution points", String.join(", ", urls)});
                }
                AuthorityInformationAccess aia = AuthorityInformationAccess.fromExtensions(ext);
                if (aia != null) {
                    List<String> urls = new ArrayList<>();
                    for (AccessDescription d : aia.getAccessDescriptions()) {
                        String what = d.getAccessMethod().equals(AccessDescription.id_ad_ocsp) ? "OCSP" : "CA issuers";
                        urls.add(what + ": " + d.getAccessLocation().getName());
                    }
                    rows.add(new String[] {"Authority information access", String.join(", ", urls)});
                }
            }
        } catch (java.security.cert.CertificateEncodingException e) {
            rows.add(new String[] {"Extensions", "(unreadable)"});
        }
        rows.add(new String[] {"SHA-256 fingerprint", Fingerprints.of(c)});
        return rows;
    }
}
