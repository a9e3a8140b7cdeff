package dev.fleetpki.core;

import java.time.Instant;

/**
 * A signed-in console session as stored: the SHA-256 of its random id (the cookie's value is never
 * stored), whose it is, and when it ends: {@code idleUntil} moves on with each request, {@code
 * expiresAt} never does.
 */
public record ConsoleSession(String idHash, String operator, Instant createdAt, Instant idleUntil, Instant expiresAt, String how) {
    public boolean liveAt(Instant now) {
        return now.isBefore(idleUntil) && now.isBefore(expiresAt);
    }
}
