package dev.fleetpki.core;

import java.time.Instant;

/**
 * A one-time enrollment secret as stored: never the secret, only its SHA-256.
 *
 * @param id the public part of {@code fpe_<id>_<secret>}
 * @param usedAt when it bought a certificate (null: unused)
 * @param usedSerial the certificate it bought
 */
public record EnrollmentSecret(String id, String deviceId, String secretHash, Instant createdAt, Actor createdBy, Instant expiresAt,
                               Instant usedAt, String usedSerial) {
    public boolean usableAt(Instant now) {
        return usedAt == null && now.isBefore(expiresAt);
    }
}
