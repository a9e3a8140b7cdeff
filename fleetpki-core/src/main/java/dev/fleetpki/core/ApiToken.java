package dev.fleetpki.core;

import java.time.Instant;
import java.util.Set;

/**
 * An API token as stored: never its secret, only the secret's SHA-256.
 *
 * @param id the public part of the token, {@code fpk_<id>_<secret>}
 * @param expiresAt null: does not expire
 * @param revokedAt null: not revoked (final)
 * @param certSha256 for an operator client certificate: SHA-256 (hex) of its DER, and then
 *     {@code secretHash} is empty (no bearer secret exists); null for a bearer token
 * @param disabledAt null: enabled; else when it was disabled (it can be enabled again)
 * @param profiles profiles this token may obtain beyond what its role and the fleet rules give
 *     (server-tls, cloud-verification for an issuer or factory token); empty: none
 * @param signers for role firmware-signer: the firmware signers it may sign with; empty: none
 * @param models for role firmware-signer: the device models it may sign for ({@code *}: every model); empty: none
 */
public record ApiToken(String id, String name, Role role, String secretHash, Instant createdAt, Actor createdBy, Instant expiresAt,
                       Instant revokedAt, String certSha256, Instant disabledAt, Set<String> profiles, Set<String> signers,
                       Set<String> models) {
    public ApiToken {
        profiles = profiles == null ? Set.of() : Set.copyOf(profiles);
        signers = signers == null ? Set.of() : Set.copyOf(signers);
        models = models == null ? Set.of() : Set.copyOf(models);
    }

    /** A token without firmware-signer bindings. */
    public ApiToken(String id, String name, Role role, String secretHash, Instant createdAt, Actor createdBy, Instant expiresAt,
                    Instant revokedAt, String certSha256, Instant disabledAt, Set<String> profiles) {
        this(id, name, role, secretHash, createdAt, createdBy, expiresAt, revokedAt, certSha256, disabledAt, profiles, null, null);
    }

    public boolean usableAt(Instant now) {
        return revokedAt == null && disabledAt == null && (expiresAt == null || now.isBefore(expiresAt));
    }

    /** active, disabled, revoked or expired, at {@code now}. */
    public String status(Instant now) {
        return revokedAt != null ? "revoked" : disabledAt != null ? "disabled" : usableAt(now) ? "active" : "expired";
    }
}
