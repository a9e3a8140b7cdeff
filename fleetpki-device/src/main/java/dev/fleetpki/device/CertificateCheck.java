package dev.fleetpki.device;

import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import java.util.Set;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * What a device checks before it uses a certificate the server sent: it certifies the device's own
 * key, names the device's own id, and chains (RFC 5280 path validation) to the trust anchor the
 * device was given out of band. A server that answers with anything else is refused, and the
 * device keeps what it had.
 */
public final class CertificateCheck {
    private CertificateCheck() {}

    /**
     * @param certs    what the server sent, in any order (a certs-only CMS has no order)
     * @return the chain ordered leaf first, then its issuers up to (not including) the anchor
     * @throws DeviceException saying which check failed
     */
    public static List<X509Certificate> verify(List<X509Certificate> certs, PublicKey ownKey, String deviceId, X509Certificate anchor, Instant now) {
        return verify(certs, ownKey, deviceId, List.of(anchor), now);
    }

    /** As above, chaining to any of the device's anchors (the one it was given and those it learned through it, docs/rollover.md). */
    public static List<X509Certificate> verify(List<X509Certificate> certs, PublicKey ownKey, String deviceId, Collection<X509Certificate> anchors,
                                               Instant now) {
        if (certs.isEmpty()) {
            throw new DeviceException("the server sent no certificate");
        }
        X509Certificate leaf = certs.stream().filter(c -> c.getBasicConstraints() < 0).findFirst()
                .orElseThrow(() -> new DeviceException("the server sent only CA certificates, no certificate for this device"));
        if (!Arrays.equals(leaf.getPublicKey().getEncoded(), ownKey.getEncoded())) {
            throw new DeviceException("the server's certificate (serial " + leaf.getSerialNumber().toString(16)
                    + ") certifies another key, not this device's; refused, the current certificate stays");
        }
        String cn = commonName(leaf);
        if (!deviceId.equals(cn)) {
            throw new DeviceException("the server's certificate names '" + cn + "', not this device ('" + deviceId + "'); refused, the current certificate stays");
        }
        List<X509Certificate> chain = order(leaf, certs, anchors);
        try {
            CertPath path = CertificateFactory.getInstance("X.509").generateCertPath(chain);
            Set<TrustAnchor> trusted = new java.util.HashSet<>();
            anchors.forEach(a -> trusted.add(new TrustAnchor(a, null)));
            PKIXParameters params = new PKIXParameters(trusted);
            params.setRevocationEnabled(false); // revocation is the relying parties' check; the device has just been issued this
            params.setDate(Date.from(now));
            CertPathValidator.getInstance("PKIX").validate(path, params);
        } catch (CertPathValidatorException e) {
            throw new DeviceException("the server's certificate does not chain to this device's trust anchor ("
                    + anchors.stream().map(a -> "'" + a.getSubjectX500Principal().getName() + "'").collect(java.util.stream.Collectors.joining(", ")) + "): " + e.getMessage() + "; refused, the current certificate stays", e);
        } catch (GeneralSecurityException e) {
            throw new DeviceException("cannot check the server's certificate chain: " + e.getMessage(), e);
        }
        return chain;
    }

    /**
     * Leaf, then each issuer found among the certificates, stopping at an anchor (which is not
     * repeated). A self-signed certificate is never taken as an intermediate: during a root rollover
     * the server sends the new root beside the cross certificate with the same subject, and only
     * the cross certificate leads to an anchor the device has.
     */
    static List<X509Certificate> order(X509Certificate leaf, List<X509Certificate> certs, Collection<X509Certificate> anchors) {
        List<X509Certificate> chain = new ArrayList<>();
        chain.add(leaf);
        X509Certificate at = leaf;
        for (int guard = 0; guard < 8 && !issuedByAnchor(at, anchors); guard++) {
            X509Certificate cur = at;
            X509Certificate issuer = certs.stream().filter(c -> c != cur && c.getSubjectX500Principal().equals(cur.getIssuerX500Principal())
                    && !anchors.contains(c) && !c.getSubjectX500Principal().equals(c.getIssuerX500Principal())).findFirst().orElse(null);
            if (issuer == null) {
                break; // path validation says what is missing
            }
            chain.add(issuer);
            at = issuer;
        }
        return chain;
    }

    private static boolean issuedByAnchor(X509Certificate c, Collection<X509Certificate> anchors) {
        return anchors.stream().anyMatch(a -> a.getSubjectX500Principal().equals(c.getIssuerX500Principal()));
    }

    static String commonName(X509Certificate c) {
        try {
            for (Rdn rdn : new LdapName(c.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return rdn.getValue().toString();
                }
            }
        } catch (InvalidNameException e) {
            throw new DeviceException("cannot read the certificate's subject: " + e.getMessage(), e);
        }
        return "";
    }
}
