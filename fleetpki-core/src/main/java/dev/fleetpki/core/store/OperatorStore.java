package dev.fleetpki.core.store;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.ConsoleSession;
import dev.fleetpki.core.Operator;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Console operator accounts and their signed-in sessions. */
public interface OperatorStore {
    /** Adds an operator; CONFLICT when the name (or the client certificate) is taken. */
    void addOperator(Operator o, AuditEvent event);

    Optional<Operator> operator(String name);

    /** The active operator a client certificate with this SHA-256 signs in. */
    Optional<Operator> operatorByCertificate(String certSha256);

    List<Operator> operators();

    /** Sets a new password hash, clears failures and the lock, and ends the operator's sessions; NOT_FOUND when unknown. */
    void setPassword(String name, String passwordHash, AuditEvent event);

    /** Sets active or disabled (twice is fine); disabling ends the operator's sessions; NOT_FOUND when unknown. */
    void setOperatorStatus(String name, String status, AuditEvent event);

    /**
     * Counts a failed sign-in; at {@code maxFailures} the operator is locked until {@code lockUntil}
     * (the count starts again) and {@code lockEvent} is audited with it. Returns the operator as now stored.
     */
    Operator signInFailed(String name, int maxFailures, Instant lockUntil, AuditEvent refusal, AuditEvent lockEvent);

    /** Clears the failure count and the lock; with a session, stores it in the same transaction. */
    void signedIn(String name, ConsoleSession session, AuditEvent event);

    /** Clears the lock and failures by an administrator. */
    void unlock(String name, AuditEvent event);

    Optional<ConsoleSession> session(String idHash);

    /** Moves a session's idle end on. */
    void touchSession(String idHash, Instant idleUntil);

    /** Ends one session (sign-out); with an event, audited. */
    void endSession(String idHash, AuditEvent event);

    /** The first approval of an action on a target waiting for a second operator (expired or not). */
    java.util.Optional<dev.fleetpki.core.DualControl.FirstApproval> firstApproval(dev.fleetpki.core.DualControl.Action action, String target);

    /** Records a first approval; CONFLICT when one is waiting already. */
    void addFirstApproval(dev.fleetpki.core.DualControl.FirstApproval approval, AuditEvent event);

    /** Removes a first approval (used up or expired); with an event, audited. */
    void endFirstApproval(dev.fleetpki.core.DualControl.Action action, String target, AuditEvent event);

    /** Every first approval waiting, oldest first. */
    List<dev.fleetpki.core.DualControl.FirstApproval> firstApprovals();

    /** Forgets sessions that ended before {@code before}; returns how many. */
    int forgetSessions(Instant before);
}
