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

    /**
     * A page of events, newest first, as columns.
     *
     * @param beforeSeq only events before this sequence number (keyset paging), or null
     * @param action only this action's wire name ({@code certificate.revoke}), or null
     * @param target only events about this target (a device id, a serial), or null
     * @param actor only this actor ({@code operator:alice}), or null
     */
    List<Map<String, Object>> auditPage(Long beforeSeq, String action, String target, String actor, int limit);

    /** The newest event's sequence number and chain hash. */
    Map.Entry<Long, String> auditHead();

    /** The chain hash at this sequence number, if the log reaches it. */
    Optional<String> auditHashAt(long seq);

    /** Recomputes the whole chain. */
    AuditVerification verifyAudit();
}
