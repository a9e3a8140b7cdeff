package dev.fleetpki.core;

import java.time.Instant;

/**
 * An API token as stored: never its secret, only the secret's SHA-256.
 *
 * @param id the public part of the token, {@code fpk_<id>_<secret>}
 * @param expiresAt null: does not expire
 * @param revokedAt null: not revoked
 * @param certSha256 for an operator client certificate: SHA-256 (hex) of its DER, and then
 *     {@code secretHash} is empty (no bearer secret exists); null for a bearer token
 */
public record ApiToken(String id, String name, Role role, String secretHash, Instant createdAt, Actor createdBy, Instant expiresAt,
                       Instant revokedAt, String certSha256) {
    public boolean usableAt(Instant now) {
        return revokedAt == null && (expiresAt == null || now.isBefore(expiresAt));
    }
}
