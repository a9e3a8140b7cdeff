package dev.fleetpki.core;

import java.util.Set;

/**
 * What an authenticated credential allows, as decided by an enrollment authorizer. Only the
 * pipeline reads it; adapters build it after they authenticate.
 *
 * @param actor who is asking (recorded in the audit log)
 * @param role what the actor may do
 * @param deviceId the single device this credential may enroll, or null for any registered device
 * @param profiles the profiles this credential may use; empty means any
 * @param consumes what the issuance uses up, in the transaction that stores the certificate (or null)
 */
public record Authorization(Actor actor, Role role, String deviceId, Set<String> profiles, Consumes consumes) {
    public Authorization {
        profiles = profiles == null ? Set.of() : Set.copyOf(profiles);
    }

    public static Authorization of(Actor actor, Role role) {
        return new Authorization(actor, role, null, Set.of(), null);
    }

    /** The same, limited to one device. */
    public Authorization forDevice(String device) {
        return new Authorization(actor, role, device, profiles, consumes);
    }

    /** The same, using up {@code c} when the certificate is stored. */
    public Authorization consuming(Consumes c) {
        return new Authorization(actor, role, deviceId, profiles, c);
    }

    /**
     * Something an issuance uses up atomically with storing the certificate: if it is already
     * used up, the certificate is not stored (and never returned).
     */
    public sealed interface Consumes {}

    /** A one-time enrollment secret, by id. */
    public record SecretUse(String secretId) implements Consumes {}

    /** A pending request an operator approved, by id: it becomes issued with the certificate's serial. */
    public record RequestApproval(String requestId, Actor approver) implements Consumes {}

    public boolean allowsProfile(String profile) {
        return profiles.isEmpty() || profiles.contains(profile);
    }
}
