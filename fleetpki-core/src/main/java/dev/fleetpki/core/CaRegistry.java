package dev.fleetpki.core;

import java.util.List;
import java.util.Optional;

/** The slice of the store the ceremony and the CA directory need. */
public interface CaRegistry {
    List<CaRecord> cas();

    Optional<CaRecord> ca(String name);

    /** Stores CA records and their audit events in one transaction; CONFLICT if a name exists. */
    void saveCas(List<CaRecord> cas, List<AuditEvent> events);
}
