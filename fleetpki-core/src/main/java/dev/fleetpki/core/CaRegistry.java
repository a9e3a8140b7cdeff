package dev.fleetpki.core;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;

/** The slice of the store the ceremony and the CA directory need. */
public interface CaRegistry {
    List<CaRecord> cas();

    Optional<CaRecord> ca(String name);

    /** Stores CA records and their audit events in one transaction; CONFLICT if a name exists. */
    void saveCas(List<CaRecord> cas, List<AuditEvent> events);

    /**
     * Records, with its audit event and in one transaction, a certificate a CA of this store signed
     * for a sub-CA whose key lives elsewhere (the offline root signing an issuing CA's request): it
     * can then be revoked here ({@code fleetpki revoke SERIAL}) and is listed on this CA's CRL.
     */
    void recordSubordinate(X509Certificate cert, String issuerName, AuditEvent event);

    /** Every CA rollover begun in this store, oldest first. */
    List<Rollover> rollovers();

    /**
     * Records that a rollover reached {@code next.step()}, with what that step made (the successor's
     * CA record, cross certificates recorded as certificates of their issuers) and its audit event, in
     * one transaction. CONFLICT unless the stored step is still {@code expected} (null: no rollover of
     * {@code next.oldName()} yet), so two operators cannot perform the same step twice.
     */
    void saveRollover(Rollover next, Rollover.Step expected, List<CaRecord> newCas, List<Rollover.Signed> signed, AuditEvent event);
}
