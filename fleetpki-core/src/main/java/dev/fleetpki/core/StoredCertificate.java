package dev.fleetpki.core;

import java.time.Instant;

/** An issued certificate with its revocation state. */
public record StoredCertificate(IssuedCertificate issued, Instant revokedAt, RevocationReason reason) {
    public boolean revoked() {
        return revokedAt != null;
    }

    /** valid, revoked or expired, at {@code now}. */
    public String status(Instant now) {
        if (revoked()) {
            return "revoked";
        }
        return issued.notAfter().isBefore(now) ? "expired" : "valid";
    }
}
