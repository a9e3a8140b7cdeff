package dev.fleetpki.core.store;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.AuditVerification;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The hash-chained audit log. */
public interface AuditLog {
    /** Appends an event on its own. */
    void audit(AuditEvent event);

    /** The newest {@code limit} events, newest first, as columns. */
    List<Map<String, Object>> auditTail(int limit);

    /** The newest event's sequence number and chain hash. */
    Map.Entry<Long, String> auditHead();

    /** The chain hash at this sequence number, if the log reaches it. */
    Optional<String> auditHashAt(long seq);

    /** Recomputes the whole chain. */
    AuditVerification verifyAudit();
}
