package dev.fleetpki.core;

import java.util.Optional;

/**
 * The slice of the store the issuance pipeline needs. Implementations make
 * {@link #commitIssued} durable (committed, synchronous) before returning.
 */
public interface IssuanceLedger {
    Optional<Device> device(String id);

    /**
     * Reserves a serial before anything is signed with it.
     *
     * @throws PkiException CONFLICT when the serial is already taken (the caller draws another)
     */
    void reserveSerial(String serialHex, String caName, String deviceId, String profile);

    /** Stores the certificate and its audit event in one transaction. */
    void commitIssued(IssuedCertificate certificate, AuditEvent event);

    /** Appends an audit event on its own (a refusal). */
    void audit(AuditEvent event);
}
