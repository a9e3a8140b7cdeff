package dev.fleetpki.core;

/**
 * The closed set of reasons fleetpki refuses or fails. Adapters map each to their protocol's
 * status (REST problem type, EST HTTP status, SCEP failInfo, CMP PKIFailureInfo, CLI exit code).
 */
public enum ErrorKind {
    /** The request could not be parsed (bad PEM, bad DER, wrong shape). */
    MALFORMED_REQUEST(65),
    /** The request's signature does not verify: no proof of possession. */
    BAD_SIGNATURE(65),
    /** The requested names differ from what the device may have. */
    NAME_MISMATCH(65),
    /** The public key is refused by key policy. */
    KEY_POLICY(65),
    /** The caller may not do this. */
    NOT_AUTHORIZED(77),
    /** The device, certificate, CA or profile does not exist. */
    NOT_FOUND(66),
    /** The device exists but is disabled or revoked. */
    DEVICE_NOT_ACTIVE(77),
    /** The request conflicts with current state (duplicate id, already revoked ...). */
    CONFLICT(65),
    /** The certificate would break a rule (validity past the issuer's, size budget ...). */
    POLICY_VIOLATION(65),
    /** Configuration is invalid. */
    CONFIG(78),
    /**
     * A part fleetpki needs does not answer now (the store is unreachable, its connection broke, its
     * disk is full): nothing was done, and the same request may succeed later (HTTP 503 with
     * Retry-After; exit 69, EX_UNAVAILABLE).
     */
    UNAVAILABLE(69),
    /** Something failed inside fleetpki; details are logged, not shown. */
    INTERNAL(70);

    private final int exitCode;

    ErrorKind(int exitCode) {
        this.exitCode = exitCode;
    }

    /** sysexits.h-style exit code for the CLI. */
    public int exitCode() {
        return exitCode;
    }
}
