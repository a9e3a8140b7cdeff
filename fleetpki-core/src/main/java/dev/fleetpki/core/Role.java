package dev.fleetpki.core;

import java.util.Locale;

/** What an authenticated caller may do. */
public enum Role {
    /** Everything, including the CA ceremony. */
    ADMIN,
    /** Register devices, sign CSRs, revoke. */
    ISSUER,
    /** Read and verify the audit log. */
    AUDITOR,
    /** Approve or reject enrollment requests kept for an operator; read devices, certificates and requests. */
    APPROVER,
    /** A factory station: enroll devices of its fleet in bulk, and alone issue from a bare public key. */
    FACTORY,
    /** A device acting for itself (renewal). */
    DEVICE,
    /** Signs firmware with the signers, and for the device models, its token is bound to (nothing else). */
    FIRMWARE_SIGNER;

    /** The name people write and read: {@code issuer}, {@code firmware-signer}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
