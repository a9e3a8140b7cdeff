package dev.fleetpki.core;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Which enrollment credentials a fleet accepts (the {@code enrollment:} section of the config).
 * A fleet is a device model; the rule named {@code "*"} covers every model without its own rule
 * (and devices not registered yet). A request whose credential is authentic but that no rule lets
 * through (a kind the fleet does not accept, or a manufacturer certificate naming a device that is
 * not registered) becomes a pending request for an operator when the rule says {@code pending},
 * and is refused when it says {@code refuse}. A request with no credential at all is always
 * refused: there is no unauthenticated enrollment.
 *
 * @param fleets the rules by device model, always with a {@code "*"} rule
 * @param deviceRate enrollments one device credential (secret, manufacturer certificate, current
 *     certificate) may make per {@code ratePeriod}; 0 means no limit
 * @param stationRate the same for a factory station or an API token; 0 means no limit
 * @param ratePeriod the window the rates count in
 * @param secretValidity how long a new enrollment secret lives by default
 * @param cmpImplicitConfirm whether a CMP client that asks for implicitConfirm gets it (default
 *     false: every certificate is confirmed by certConf, or revoked when it is not)
 */
public record EnrollmentPolicy(Map<String, FleetRule> fleets, int deviceRate, int stationRate, Duration ratePeriod, Duration secretValidity,
                               boolean cmpImplicitConfirm) {

    /** A kind of credential a request can arrive with. */
    public enum Credential {
        /** A one-time enrollment secret of one registered device (HTTP basic on EST, bearer on REST). */
        SECRET,
        /** A manufacturer (IDevID) certificate chaining to an imported vendor CA. */
        MANUFACTURER,
        /** A factory station's client certificate. */
        STATION,
        /** The device's current certificate from this CA (renewal). */
        RENEWAL,
        /** An API token with the issuer or factory role (a back-end or gateway). */
        TOKEN;

        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Credential parse(String s) {
            for (Credential c : values()) {
                if (c.configName().equals(s)) {
                    return c;
                }
            }
            throw new IllegalArgumentException("'" + s + "' is not a credential kind; use secret, manufacturer, station, renewal or token");
        }
    }

    /** What happens to an authenticated request no rule accepts. */
    public enum Otherwise { PENDING, REFUSE }

    /**
     * @param accept the credential kinds that enroll at once
     * @param otherwise what happens to other authenticated requests
     * @param serverKeygen the credential kinds that may ask the server to generate the key (EST serverkeygen)
     * @param profiles the profiles each credential kind may obtain, by kind; a kind not in the map
     *     gets the device-side profiles (those of kind device and device-peer), and an empty list
     *     gets nothing. Server, code-signing, CA, OCSP and cloud-verification certificates are
     *     never in a credential's scope: they need an operator.
     */
    public record FleetRule(Set<Credential> accept, Otherwise otherwise, Set<Credential> serverKeygen, Map<Credential, Set<String>> profiles) {
        public FleetRule {
            accept = Set.copyOf(accept);
            serverKeygen = Set.copyOf(serverKeygen);
            profiles = Map.copyOf(profiles);
        }
    }

    public static final FleetRule DEFAULT_RULE = new FleetRule(Set.of(Credential.values()), Otherwise.PENDING,
            Set.of(Credential.STATION, Credential.TOKEN), Map.of());

    /** The longest a one-time enrollment secret may live: it is for the next enrollment, not a standing credential. */
    public static final Duration MAX_SECRET_VALIDITY = Duration.ofDays(90);

    public static final EnrollmentPolicy DEFAULT = new EnrollmentPolicy(Map.of("*", DEFAULT_RULE), 10, 0, Duration.ofMinutes(1), Duration.ofDays(7), false);

    public EnrollmentPolicy {
        fleets = Map.copyOf(fleets);
        if (!fleets.containsKey("*")) {
            throw new IllegalArgumentException("enrollment.fleets needs a '*' rule");
        }
    }

    /** The rule for a device model (null: an unregistered device or one without a model). */
    public FleetRule rule(String model) {
        FleetRule r = model == null ? null : fleets.get(model);
        return r != null ? r : fleets.get("*");
    }
}
