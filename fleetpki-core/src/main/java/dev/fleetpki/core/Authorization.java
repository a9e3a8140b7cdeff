package dev.fleetpki.core;

import java.util.Set;

/**
 * What one decision of the {@link EnrollmentAuthorizer} allows: this actor may obtain a
 * certificate of this one profile for this one device, and nothing else. Only the authorizer
 * makes one (the constructor is package-private), and the {@link IssuancePipeline} checks the
 * request against it again right before signing, as Boulder's CA re-checks the RA's
 * authorization: a new issuing path that never asked the authorizer has no Authorization to pass,
 * so it cannot issue.
 */
public final class Authorization {
    private final Actor actor;
    private final Role role;
    private final String deviceId;
    private final String profile;
    private final String fleet;
    private final boolean operator;
    private final boolean bareKey;
    private final IssuedCertificate renewing;
    private final Consumes consumes;

    Authorization(Actor actor, Role role, String deviceId, String profile, String fleet, boolean operator, boolean bareKey,
                  IssuedCertificate renewing, Consumes consumes) {
        if (actor == null || role == null || profile == null) {
            throw new IllegalArgumentException("an authorization names its actor, role and profile");
        }
        this.actor = actor;
        this.role = role;
        this.deviceId = deviceId;
        this.profile = profile;
        this.fleet = fleet;
        this.operator = operator;
        this.bareKey = bareKey;
        this.renewing = renewing;
        this.consumes = consumes;
    }

    /** Who is asking (recorded in the audit log). */
    public Actor actor() {
        return actor;
    }

    public Role role() {
        return role;
    }

    /** The one device the certificate may be for (null for a cloud-verification certificate, which names a code, and a signer's). */
    public String deviceId() {
        return deviceId;
    }

    /** The one profile the certificate may have. */
    public String profile() {
        return profile;
    }

    /** The device model a station's or manufacturer CA's authorization is bound to ({@code *}: any), or null: not bound. */
    public String fleet() {
        return fleet;
    }

    /** Whether the device's model is inside this authorization's fleet binding. */
    public boolean coversModel(String model) {
        return fleet == null || EnrollmentAuthorizer.covers(fleet, model);
    }

    /** An operator decided (CLI, admin token, an approval): server names without configured suffixes, the server's own identity. */
    public boolean operator() {
        return operator;
    }

    /** Whether the certificate may certify a bare public key (no proof of possession): factory stations only. */
    public boolean allowsBareKey() {
        return bareKey;
    }

    /** The certificate this one renews: its names are carried over, not taken from the request. Null for a first enrollment. */
    public IssuedCertificate renewing() {
        return renewing;
    }

    /** What the issuance uses up in the transaction that stores the certificate, or null. */
    public Consumes consumes() {
        return consumes;
    }

    /** The firmware signer this authorization certifies, or null: it is for a device or a registration code. */
    public String signer() {
        return consumes instanceof SignerEnrollment s ? s.signer() : null;
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

    /**
     * A firmware signer's code-signing certificate: a new signer is stored with it ({@code rotate}
     * false; refused if the name is taken), or an active signer's current certificate and key
     * become this one ({@code rotate} true; its older certificates stay valid for what they signed).
     */
    public record SignerEnrollment(String signer, Set<String> models, String keyRef, boolean rotate) implements Consumes {
        public SignerEnrollment {
            models = Set.copyOf(models);
        }
    }

    @Override
    public String toString() {
        return actor + " -> " + profile + " for " + deviceId;
    }
}
