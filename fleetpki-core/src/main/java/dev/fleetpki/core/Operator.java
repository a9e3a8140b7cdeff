package dev.fleetpki.core;

import java.time.Instant;

/**
 * A console operator account: a person who signs in to the web console with a password (or a
 * registered TLS client certificate) and acts with one role.
 *
 * @param passwordHash argon2id or bcrypt ({@link Passwords}); null: no password sign-in (client certificate only)
 * @param status {@code active} or {@code disabled}
 * @param failedSignIns failed password sign-ins since the last good one
 * @param lockedUntil null: not locked; else no sign-in before this instant
 * @param certSha256 SHA-256 (hex) of the client certificate that signs this operator in, or null
 */
public record Operator(String name, Role role, String passwordHash, String status, int failedSignIns, Instant lockedUntil,
                       String certSha256, Instant createdAt, Actor createdBy) {
    public boolean active() {
        return "active".equals(status);
    }

    public boolean lockedAt(Instant now) {
        return lockedUntil != null && now.isBefore(lockedUntil);
    }

    /** How the audit log names the operator's actions. */
    public Actor actor() {
        return Actor.operator(name);
    }

    /** active, disabled or locked, at {@code now}. */
    public String state(Instant now) {
        return !active() ? status : lockedAt(now) ? "locked" : "active";
    }
}
