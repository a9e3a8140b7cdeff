package dev.fleetpki.device;

import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Date;
import java.util.List;

/**
 * How a device learns a new root during a root rollover (docs/rollover.md): only through a
 * certificate chain from an anchor it already trusts, never from a download alone. A self-signed
 * root offered (by EST cacerts, RFC 7030 4.1.3's root CA key update certificates) is learned when
 * a cross certificate offered beside it certifies that same name and key, is a CA certificate, is
 * valid now, and is signed by one of the device's anchors. Anything else is ignored: a stranger's
 * root, a cross certificate whose signature does not verify, one for another key.
 */
public final class AnchorUpdate {
    private AnchorUpdate() {}

    /** The roots among {@code offered} that {@code trusted} vouches for through a cross certificate, not yet trusted. */
    public static List<X509Certificate> learn(Collection<X509Certificate> trusted, Collection<X509Certificate> offered, Instant now) {
        List<X509Certificate> learned = new ArrayList<>();
        for (X509Certificate root : offered) {
            if (!selfSigned(root) || !validAt(root, now) || trusted.contains(root) || learned.contains(root)) {
                continue;
            }
            for (X509Certificate cross : offered) {
                if (cross != root && vouches(cross, root, trusted, now)) {
                    learned.add(root);
                    break;
                }
            }
        }
        return learned;
    }

    /** Whether {@code cross} certifies {@code root}'s name and key as a CA, and one of {@code trusted} signed it. */
    static boolean vouches(X509Certificate cross, X509Certificate root, Collection<X509Certificate> trusted, Instant now) {
        if (!cross.getSubjectX500Principal().equals(root.getSubjectX500Principal())
                || !Arrays.equals(cross.getPublicKey().getEncoded(), root.getPublicKey().getEncoded())
                || cross.getBasicConstraints() < 0 || !validAt(cross, now)) {
            return false;
        }
        for (X509Certificate anchor : trusted) {
            if (anchor.getSubjectX500Principal().equals(cross.getIssuerX500Principal())) {
                try {
                    cross.verify(anchor.getPublicKey());
                    return true;
                } catch (GeneralSecurityException e) {
                    // not this anchor's signature: try another with the same name, else refuse
                }
            }
        }
        return false;
    }

    private static boolean selfSigned(X509Certificate c) {
        if (!c.getSubjectX500Principal().equals(c.getIssuerX500Principal()) || c.getBasicConstraints() < 0) {
            return false;
        }
        try {
            c.verify(c.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static boolean validAt(X509Certificate c, Instant now) {
        try {
            c.checkValidity(Date.from(now));
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }
}
