package dev.fleetpki.core.store;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.EnrollmentRequest;
import java.util.List;
import java.util.Optional;

/** Enrollment requests kept for an operator. */
public interface RequestStore {
    /** Stores a pending request; CONFLICT when one is already pending for the device and profile. */
    void addRequest(EnrollmentRequest r, AuditEvent event);

    Optional<EnrollmentRequest> request(String id);

    /**
     * In one read, what an enrollment needs to know of earlier requests for this device and
     * profile: those carrying this CSR (a client re-sending it) and the pending one, newest first.
     */
    List<EnrollmentRequest> requestsFor(String deviceId, String profile, String csrSha256);

    Optional<EnrollmentRequest> pendingRequest(String deviceId, String profile);

    /** Requests, oldest first; status null: all. */
    List<EnrollmentRequest> requests(EnrollmentRequest.Status status, int limit);

    long pendingCount();

    /** Marks a pending request rejected; CONFLICT when it is not pending. */
    void rejectRequest(String id, String reason, AuditEvent event);
}
