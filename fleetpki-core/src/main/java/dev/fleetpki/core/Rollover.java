package dev.fleetpki.core;

import dev.fleetpki.core.config.CaRole;
import java.security.cert.X509Certificate;
import java.time.Instant;

/**
 * A CA being replaced by a successor with a new key ({@code fleetpki ca rollover}, docs/rollover.md),
 * as the store records it: which step it has reached, and for a root the two cross certificates.
 * The old CA's record stays; the successor is a CA record of its own ({@link #newName}).
 *
 * @param newKeyRef where the successor's key is (recorded at step {@link Step#KEY}, before it certifies anything)
 * @param newWithOld for a root: the new root's key certified by the old root (devices that trust only
 *                   the old root reach the new one through it, and learn it as an anchor); else null
 * @param oldWithNew for a root: the old root's key certified by the new root (relying parties that
 *                   trust only the new root still verify the old root's certificates); else null
 */
public record Rollover(String oldName, String newName, CaRole role, String newKeyRef, String newSubject, Step step,
                       X509Certificate newWithOld, X509Certificate oldWithNew, Instant startedAt, Instant updatedAt) {

    /** The steps, in order; each is recorded once done, so a rerun continues after the last one. */
    public enum Step {
        /** The successor's key exists (created in the key store), nothing certified yet. */
        KEY,
        /** The successor is certified (by the current parent; a root by itself, with both cross certificates) and stored as a CA. */
        CERTIFIED,
        /** EST cacerts, the trust bundle, SCEP GetNextCACert and CMP root CA updates offer the successor. */
        PUBLISHED,
        /** New certificates come from the successor; the old CA signs only CRLs and OCSP answers for its own. */
        SWITCHED,
        /** The old CA's last certificate has expired: it is no longer published or used. */
        RETIRED;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        public static Step parse(String s) {
            for (Step st : values()) {
                String w = st.wireName();
                // the verb works too: certify, publish, switch, retire
                if (w.equalsIgnoreCase(s) || w.equalsIgnoreCase(s + "ed") || w.equalsIgnoreCase(s + "d")) {
                    return st;
                }
            }
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "no rollover step '" + s + "'; the steps are key, certified, published, switched, retired");
        }
    }

    public boolean atLeast(Step s) {
        return step.compareTo(s) >= 0;
    }

    public Rollover at(Step next, Instant now) {
        return new Rollover(oldName, newName, role, newKeyRef, newSubject, next, newWithOld, oldWithNew, startedAt, now);
    }

    public Rollover withCrossCertificates(X509Certificate nwo, X509Certificate own) {
        return new Rollover(oldName, newName, role, newKeyRef, newSubject, step, nwo, own, startedAt, updatedAt);
    }

    /** A certificate a CA of this store signed for a key it does not hold here, recorded so it can be revoked and listed on its CRL. */
    public record Signed(X509Certificate certificate, String issuerName) {}
}
