package dev.fleetpki.core.store;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.StoredCertificate;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Issued certificates and their revocation. */
public interface CertificateStore {
    Optional<StoredCertificate> certificate(String serialHex);

    /**
     * Certificates, newest first.
     *
     * @param deviceId only this device's, or null
     * @param notAfterBefore only those ending before this instant and not yet ended at {@code now}, or null
     */
    List<StoredCertificate> certificates(String deviceId, Instant now, Instant notAfterBefore, int limit);

    long certificateCount();

    /**
     * Certificates per day for {@code days} days from {@code from} (index 0: the day starting at {@code from}):
     * by when they were issued ({@code issued}) or, unrevoked ones, by when they end.
     */
    long[] perDay(boolean issued, Instant from, int days);

    /** How many unrevoked certificates of one CA and profile end within a window from now. */
    record Expiring(String ca, String profile, java.time.Duration within, long count) {}

    /**
     * For each CA and profile with unrevoked certificates not yet ended, how many end within each
     * window (a certificate ending within 7 days is counted in the 30-day window too).
     */
    List<Expiring> expiring(Instant now, List<java.time.Duration> windows);

    /** Every certificate CA {@code caName} signed, revoked ones too, oldest first (an offline station's journal is made from them). */
    List<StoredCertificate> signedBy(String caName);

    /** When the last certificate {@code caName} signed ends (revoked ones too), leaving out {@code exceptSerialHex} (null: none), if it signed any. */
    Optional<Instant> lastExpiry(String caName, String exceptSerialHex);

    /** Records a revocation (time and reason) with its audit event. */
    void revoke(String serialHex, RevocationReason reason, Instant at, AuditEvent event);

    /**
     * Records a revocation with its audit event, and in the same transaction drops the certificate's
     * pre-signed OCSP response, so no responder reading this store answers "good" once this commits.
     *
     * @param invalidSince when the key is known or suspected to have been compromised (the CRL entry's
     *     invalidity date), or null
     */
    void revoke(String serialHex, RevocationReason reason, Instant at, Instant invalidSince, AuditEvent event);
}
