package dev.fleetpki.core.store;

import java.time.Instant;

/** Nonces a protocol has seen, so that a message sent again is known as a replay (SCEP's senderNonce). */
public interface NonceStore {
    /** Records the nonce; false when this scope has seen it before. */
    boolean firstSeen(String scope, String value, Instant at);

    /** Forgets nonces seen before {@code before}; returns how many. */
    int forgetNonces(Instant before);
}
