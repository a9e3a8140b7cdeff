package dev.fleetpki.core;

import java.time.Instant;
import java.util.Locale;

/**
 * A request that no automatic rule let through, waiting for an operator, and what became of it.
 *
 * @param csrSha256 SHA-256 of the CSR's DER, hex: a client re-sending the same CSR finds its request
 * @param credential what the requester authenticated with (an {@link EnrollmentPolicy.Credential} name)
 * @param serial the certificate issued on approval, or null
 */
public record EnrollmentRequest(String id, String deviceId, String profile, byte[] csrDer, String csrSha256, Status status,
                                String credential, Actor requestedBy, String protocol, Instant createdAt, Instant decidedAt,
                                Actor decidedBy, String reason, String serial) {
    public enum Status {
        PENDING, ISSUED, REJECTED;

        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }
}
