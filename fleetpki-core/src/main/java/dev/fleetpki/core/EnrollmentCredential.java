package dev.fleetpki.core;

import dev.fleetpki.core.EnrollmentPolicy.Credential;
import java.util.Set;

/**
 * What a caller authenticated with, once a protocol adapter has checked it (the secret's hash,
 * the client certificate's chain, the token). One record per kind, so each carries exactly what
 * its kind has. Only {@link EnrollmentAuthorizer} turns one into an {@link Authorization}.
 */
public sealed interface EnrollmentCredential {
    Actor actor();

    /** The kind a fleet rule names ({@code accept}, {@code profiles}); null for an operator, whom no fleet rule limits. */
    Credential kind();

    Role role();

    /** The one device a device-held credential is bound to; null for stations, tokens and operators. */
    default String deviceId() {
        return null;
    }

    /** Held by the device itself (secret, manufacturer certificate, current certificate): rate limited per device. */
    default boolean deviceHeld() {
        return deviceId() != null;
    }

    /** A one-time enrollment secret of one registered device. */
    record Secret(EnrollmentSecret secret) implements EnrollmentCredential {
        public Actor actor() {
            return new Actor("device", secret.deviceId());
        }

        public Credential kind() {
            return Credential.SECRET;
        }

        public Role role() {
            return Role.DEVICE;
        }

        @Override
        public String deviceId() {
            return secret.deviceId();
        }
    }

    /** A manufacturer (IDevID) certificate that chains to a trusted vendor CA and names this device. */
    record Manufacturer(ManufacturerCa ca, String deviceId) implements EnrollmentCredential {
        public Actor actor() {
            return new Actor("device", deviceId);
        }

        public Credential kind() {
            return Credential.MANUFACTURER;
        }

        public Role role() {
            return Role.DEVICE;
        }
    }

    /** A factory station's client certificate. */
    record FactoryStation(Station station) implements EnrollmentCredential {
        public Actor actor() {
            return Actor.station(station.name());
        }

        public Credential kind() {
            return Credential.STATION;
        }

        public Role role() {
            return Role.FACTORY;
        }
    }

    /** The device's current, valid certificate from this CA (renewal). */
    record Renewal(StoredCertificate current) implements EnrollmentCredential {
        public Actor actor() {
            return new Actor("device", current.issued().deviceId());
        }

        public Credential kind() {
            return Credential.RENEWAL;
        }

        public Role role() {
            return Role.DEVICE;
        }

        @Override
        public String deviceId() {
            return current.issued().deviceId();
        }
    }

    /**
     * An API token or operator client certificate with role issuer or factory (a back end or
     * gateway), and the profiles it was bound to beyond what the fleet rules give the token kind.
     */
    record ApiCaller(Actor actor, Role role, Set<String> profiles) implements EnrollmentCredential {
        public ApiCaller {
            if (role != Role.ISSUER && role != Role.FACTORY) {
                throw new IllegalArgumentException("an API caller that enrolls has role issuer or factory, not " + role);
            }
            profiles = profiles == null ? Set.of() : Set.copyOf(profiles);
        }

        public Credential kind() {
            return Credential.TOKEN;
        }
    }

    /**
     * An operator: someone at the CA's own console (the CLI, which holds the CA home) or an API
     * token or client certificate with role admin. Fleet rules do not limit operators; the
     * pipeline's own checks still apply.
     */
    record Operator(Actor actor) implements EnrollmentCredential {
        public Credential kind() {
            return null;
        }

        public Role role() {
            return Role.ADMIN;
        }
    }
}
