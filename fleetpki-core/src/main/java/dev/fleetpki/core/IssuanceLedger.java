package dev.fleetpki.core;

import java.util.Optional;

/**
 * The slice of the store the issuance pipeline needs. Implementations make
 * {@link #commitIssued} durable (committed, synchronous) before returning.
 */
public interface IssuanceLedger {
    Optional<Device> device(String id);

    /**
     * A random serial (see {@link SerialNumbers}) already reserved in the store, so unique, and
     * never handed out before. Nothing may be signed with a serial that was not reserved.
     *
     * @return the serial as lowercase hex
     */
    String reserveSerial();

    /**
     * Stores the certificate and its audit event in one transaction, using up {@code consumes}
     * (null: nothing) in the same transaction; refuses (NOT_AUTHORIZED) and stores nothing when
     * it is already used up.
     */
    void commitIssued(IssuedCertificate certificate, AuditEvent event, Authorization.Consumes consumes);

    /** How many certificates the store holds that CA {@code ca} signed (a station CA's quota counts them). */
    long issuedBy(String ca);

    /** Appends an audit event on its own (a refusal). */
    void audit(AuditEvent event);
}
