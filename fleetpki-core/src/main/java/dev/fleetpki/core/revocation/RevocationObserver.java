package dev.fleetpki.core.revocation;

import java.util.function.Supplier;

/** Told what revocation publishing did (the server's metrics). Must be cheap and must not throw. */
public interface RevocationObserver {
    /** A gauge of the certificates issued here whose OCSP answers wait to be pre-signed. */
    void watchPresignQueue(Supplier<Number> queued);

    /** OCSP answers pre-signed and stored, by what made them ({@code issuance}, {@code pass}, {@code revocation}). */
    void ocspPresigned(String trigger, long answers);

    /** A CRL published by this process. */
    void crlPublished(String ca, int shard, long entries, long number);

    /** An OCSP answer given: its status (good, revoked, unknown, unauthorized) and whether it was pre-signed or signed live. */
    void ocspAnswered(String status, boolean presigned);
}
