package dev.fleetpki.core;

import dev.fleetpki.core.firmware.Signer;
import java.util.Set;

/**
 * What one decision of the {@link EnrollmentAuthorizer} allows for firmware: this caller may sign
 * an image for this one device model with this one signer, and nothing else. Only the authorizer
 * makes one (the constructor is package-private), and the firmware signing use case checks the
 * request against it again before the signer's key is used, as the issuance pipeline re-checks
 * an {@link Authorization}.
 */
public final class FirmwareAuthorization {
    private final Actor actor;
    private final Role role;
    private final Signer signer;
    private final String model;

    FirmwareAuthorization(Actor actor, Role role, Signer signer, String model) {
        if (actor == null || role == null || signer == null || model == null) {
            throw new IllegalArgumentException("a firmware authorization names its actor, role, signer and model");
        }
        this.actor = actor;
        this.role = role;
        this.signer = signer;
        this.model = model;
    }

    public Actor actor() {
        return actor;
    }

    public Role role() {
        return role;
    }

    /** The signer, as it was when the decision was made (active, covering the model). */
    public Signer signer() {
        return signer;
    }

    /** The one device model the image may be for. */
    public String model() {
        return model;
    }

    /**
     * Who asks to sign firmware: an operator (the CLI, an admin token), or an API token with role
     * {@link Role#FIRMWARE_SIGNER} bound to named signers and models (empty: none).
     */
    public record Caller(Actor actor, Role role, Set<String> signers, Set<String> models) {
        public Caller {
            signers = signers == null ? Set.of() : Set.copyOf(signers);
            models = models == null ? Set.of() : Set.copyOf(models);
        }

        public static Caller operator(Actor actor) {
            return new Caller(actor, Role.ADMIN, Set.of(), Set.of());
        }

        /** The caller an API token (or operator client certificate) authenticates. */
        public static Caller of(ApiToken token) {
            return new Caller(new Actor("token", token.name()), token.role(), token.signers(), token.models());
        }
    }

    @Override
    public String toString() {
        return actor + " -> firmware for " + model + " by signer " + signer.name();
    }
}
