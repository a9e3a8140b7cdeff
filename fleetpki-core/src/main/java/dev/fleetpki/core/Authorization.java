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
 */
public record Authorization(Actor actor, Role role, String deviceId, Set<String> profiles) {
    public Authorization {
        profiles = profiles == null ? Set.of() : Set.copyOf(profiles);
    }

    public static Authorization of(Actor actor, Role role) {
        return new Authorization(actor, role, null, Set.of());
    }

    public boolean allowsProfile(String profile) {
        return profiles.isEmpty() || profiles.contains(profile);
    }
}
