package dev.fleetpki.core.store;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Delivery state of registry notifications (docs/cloud.md). The audit log is the outbox: an
 * issuance or revocation and its audit event are written in one transaction, so an event exists
 * exactly when its cause does; each endpoint keeps a cursor (the last audit sequence number it has
 * handled), moved only after a delivery succeeded or the event was set aside as failed. A crash
 * between the two delivers an event again (at least once; receivers deduplicate by its id).
 */
public interface WebhookStore {
    /** An endpoint's state: where its cursor is, what it delivered, its last error, how many events it set aside. */
    record Endpoint(String name, long cursor, long delivered, Instant lastDeliveryAt, String lastError, Instant lastErrorAt, long failed) {}

    /** An event set aside after its attempts ran out; {@code retryRequested} once an operator asked for it to be tried again. */
    record Failure(String endpoint, long seq, String event, int attempts, String lastError, Instant failedAt, boolean retryRequested) {}

    /** An audit event that may cause a notification. */
    record Source(long seq, Instant at, String action, String target, String detail) {}

    /** The endpoint's state; a new endpoint starts at the audit log's head (it is told what happens from now on). */
    Endpoint webhookEndpoint(String name);

    /** Every endpoint the store has state for. */
    List<Endpoint> webhookEndpoints();

    /**
     * Takes or renews the endpoint's delivery lease until {@code until}: true when this node holds
     * it (free, expired, or already its own). Nodes sharing a store deliver each endpoint from one node.
     */
    boolean leaseWebhook(String name, String owner, Instant until, Instant now);

    /** Gives the lease up if this node holds it (a server stopping), so another node or the next start takes over at once. */
    void releaseWebhook(String name, String owner);

    /** Audit events after {@code seq} with one of these actions, oldest first. */
    List<Source> auditEventsAfter(long seq, Collection<String> actions, int limit);

    /** How many audit events with these actions come after {@code seq} (the endpoint's backlog). */
    long auditEventsCountAfter(long seq, Collection<String> actions);

    Optional<Source> auditEvent(long seq);

    /** Moves the cursor to {@code seq} (never back) after a delivery, or after an event that needs none. */
    void webhookDone(String name, long seq, boolean delivered, Instant at);

    /** Sets an event aside as failed (or updates its failure) and moves the cursor past it, in one transaction. */
    void webhookFailed(String name, long seq, String event, int attempts, String error, Instant at);

    /** Records the last error of an attempt (the event is still being tried). */
    void webhookError(String name, String error, Instant at);

    /** Failed events, oldest first; {@code name} null: of every endpoint. */
    List<Failure> webhookFailures(String name, int limit);

    /** Marks failed events to be tried again ({@code seq} null: all of the endpoint's); returns how many. */
    int requestWebhookRetry(String name, Long seq);

    /** A retried event was delivered: its failure is removed. */
    void webhookRetried(String name, long seq, Instant at);
}
