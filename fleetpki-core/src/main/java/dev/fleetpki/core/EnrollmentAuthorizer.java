package dev.fleetpki.core;

import dev.fleetpki.core.EnrollmentPolicy.FleetRule;
import dev.fleetpki.core.config.FleetConfig;
import java.time.Clock;
import dev.fleetpki.core.firmware.Signer;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The one authorization step every issuing path takes (EST, REST, CLI, and every adapter added
 * later): given who authenticated and what they ask for, decide whether to issue now, to keep the
 * request for an operator, or to refuse. It is the only maker of an {@link Authorization}, which
 * the pipeline needs to issue and checks again before signing, so a path cannot skip it.
 *
 * <p>The checks, in order; the first that fails refuses (NOT_AUTHORIZED, audited):
 * <ol>
 * <li>the profile exists and is not a CA or OCSP profile (those come from the ceremony), nor a
 *     code-signing profile (those go to named firmware signers, {@link #signer});</li>
 * <li>operators (CLI, admin token, approvals) are allowed from here on; the pipeline still checks names and keys;</li>
 * <li>a device-held credential (secret, manufacturer certificate, current certificate) names only its own device;</li>
 * <li>the CA's own server identities (model {@link Device#SERVER_MODEL}) are an operator's alone;</li>
 * <li>a station or manufacturer CA stays inside its fleet (closed: one with no fleet covers none);</li>
 * <li>the profile is in the credential kind's scope for the device's fleet (closed default:
 *     the device-side profiles; an empty list: nothing);</li>
 * <li>a renewal keeps the profile of the certificate it renews;</li>
 * <li>a bare public key only from a factory station, server key generation only where the fleet rule allows;</li>
 * <li>the fleet rule: a kind it accepts is allowed; otherwise pending (CSR enrollments only) or refused.</li>
 * </ol>
 * Firmware signers' certificates ({@link #signer}) and firmware signatures ({@link #firmware})
 * are decided here too, so that every path that makes something a device trusts passes this class.
 */
public final class EnrollmentAuthorizer {
    /** What the caller asks for. */
    public enum Purpose {
        /** Certify the key of a verified CSR. */
        ENROLL,
        /** EST simplereenroll: renew with the current certificate. */
        RENEW,
        /** Certify a bare public key (no proof of possession). */
        BARE_KEY,
        /** Make the key pair on the server (EST serverkeygen). */
        SERVER_KEYGEN
    }

    /** What the authorizer decided. Refusals are thrown as {@link PkiException}. */
    public sealed interface Decision {}

    /** Issue now, with this authorization. */
    public record Allowed(Authorization authorization) implements Decision {}

    /** Authentic, but no rule lets it through by itself: keep the request for an operator. */
    public record NeedsApproval(String reason) implements Decision {}

    private final FleetConfig config;
    private final IssuanceLedger ledger;
    private final Clock clock;
    /** The default scope of every credential kind: the profiles of kind device and device-peer. */
    private final Set<String> deviceSide;

    public EnrollmentAuthorizer(FleetConfig config, IssuanceLedger ledger, Clock clock) {
        this.config = config;
        this.ledger = ledger;
        this.clock = clock;
        this.deviceSide = config.profiles().values().stream().filter(Profile::deviceSide).map(Profile::name).collect(Collectors.toUnmodifiableSet());
    }

    /**
     * @param deviceId the device the certificate is for (null only for a cloud-verification certificate)
     * @param protocol the adapter asking, for the audit record of a refusal
     */
    public Decision decide(EnrollmentCredential cred, String deviceId, String profileName, Purpose purpose, String protocol) {
        try {
            return decideChecked(cred, deviceId, profileName, purpose);
        } catch (PkiException e) {
            ledger.audit(AuditEvent.refusal(clock.instant(), cred.actor(), deviceId != null ? "device:" + deviceId : "profile:" + profileName,
                    e, profileName, protocol, cred.kind() == null ? "operator" : cred.kind().configName()));
            throw e;
        }
    }

    /** An operator's own request (CLI {@code sign}, the server's own TLS identity): allowed, or refused for a CA/OCSP profile. */
    public Authorization operator(Actor actor, String deviceId, String profileName, String protocol) {
        return ((Allowed) decide(new EnrollmentCredential.Operator(actor), deviceId, profileName, Purpose.ENROLL, protocol)).authorization();
    }

    /** An operator's approval of a pending request: issued for the request's device and profile, using the request up. */
    public Authorization approval(Actor approver, EnrollmentRequest request) {
        Authorization a = operator(approver, request.deviceId(), request.profile(), request.protocol());
        return new Authorization(a.actor(), a.role(), a.deviceId(), a.profile(), null, true, false, null,
                new Authorization.RequestApproval(request.id(), approver));
    }

    /**
     * An operator's request for a firmware signer's code-signing certificate: a new signer
     * ({@code rotate} false) or a new certificate and key for an active one. Only operators
     * (the CLI, an admin token) make signers.
     */
    public Authorization signer(Actor operator, Role role, String signer, Set<String> models, String keyRef, String profileName, boolean rotate,
                                String protocol) {
        try {
            if (role != Role.ADMIN) {
                throw refused("only an operator (the CLI, an admin API token) makes firmware signers; " + operator + " has role "
                        + role.configName());
            }
            Profile profile = profile(profileName);
            if (profile.kind() != ProfileKind.CODE_SIGNING) {
                throw refused("a firmware signer's certificate has a profile of kind code-signing; '" + profile.name() + "' is "
                        + profile.kind().configName());
            }
            return new Authorization(operator, role, null, profile.name(), null, true, false, null,
                    new Authorization.SignerEnrollment(signer, models, keyRef, rotate));
        } catch (PkiException e) {
            ledger.audit(AuditEvent.refusal(clock.instant(), operator, "signer:" + signer, e, profileName, protocol, "operator"));
            throw e;
        }
    }

    /**
     * May {@code caller} sign an image for devices of {@code model} with {@code signer}? Operators
     * may, with any active signer bound to the model; an API token only with role firmware-signer,
     * and only with a signer and a model it is bound to (closed: a token bound to none signs
     * nothing). Refusals are audited.
     */
    public FirmwareAuthorization firmware(FirmwareAuthorization.Caller caller, Signer signer, String model, String protocol) {
        try {
            if (caller.role() != Role.ADMIN && caller.role() != Role.FIRMWARE_SIGNER) {
                throw refused("signing firmware needs an operator or an API token with role firmware-signer; " + caller.actor() + " has role "
                        + caller.role().configName());
            }
            if (caller.role() == Role.FIRMWARE_SIGNER) {
                if (!caller.signers().contains(signer.name())) {
                    throw refused(caller.actor() + " may sign with " + (caller.signers().isEmpty() ? "no signer"
                            : "signers " + String.join(", ", new TreeSet<>(caller.signers()))) + ", not '" + signer.name()
                            + "' (fleetpki token create NAME --role firmware-signer --signers S --models M)");
                }
                if (!caller.models().contains("*") && !caller.models().contains(model)) {
                    throw refused(caller.actor() + " may sign firmware for " + (caller.models().isEmpty() ? "no model"
                            : "models " + String.join(", ", new TreeSet<>(caller.models()))) + ", not '" + model + "'");
                }
            }
            if (!signer.active()) {
                throw refused("signer '" + signer.name() + "' was revoked at " + signer.revokedAt() + "; it signs nothing any more");
            }
            if (!signer.covers(model)) {
                throw refused("signer '" + signer.name() + "' signs firmware for " + signer.modelList() + ", not for model '" + model + "'");
            }
            return new FirmwareAuthorization(caller.actor(), caller.role(), signer, model);
        } catch (PkiException e) {
            ledger.audit(AuditEvent.firmwareRefusal(clock.instant(), caller.actor(), signer.name(), e, model, protocol));
            throw e;
        }
    }

    private Profile profile(String profileName) {
        return config.profile(profileName).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no profile named '" + profileName + "'; profiles: " + String.join(", ", new TreeSet<>(config.profiles().keySet()))));
    }

    private Decision decideChecked(EnrollmentCredential cred, String deviceId, String profileName, Purpose purpose) {
        Profile profile = profile(profileName);
        if (profile.kind() == ProfileKind.SUB_CA || profile.kind() == ProfileKind.OCSP_SIGNING || profile.kind() == ProfileKind.SCEP_RA) {
            throw refused("profile '" + profile.name() + "' makes CA, OCSP or SCEP RA certificates; those come from the ceremony "
                    + "('fleetpki init', 'fleetpki ca ...'), not from a request");
        }
        if (profile.kind() == ProfileKind.CODE_SIGNING) {
            throw refused("profile '" + profile.name() + "' makes code-signing certificates; those go to named firmware signers, "
                    + "not devices: fleetpki signer add NAME --key KEY --models MODEL (docs/firmware.md)");
        }
        if (cred instanceof EnrollmentCredential.Operator op) {
            if (purpose == Purpose.BARE_KEY) {
                throw refused("issuing from a bare public key (no proof of possession) is allowed only to a factory station");
            }
            return new Allowed(new Authorization(op.actor(), op.role(), deviceId, profile.name(), null, true, false, null, null));
        }
        String kind = cred.kind().configName();
        if (cred.deviceId() != null && !cred.deviceId().equals(deviceId)) {
            throw refused("this credential may enroll only device '" + cred.deviceId() + "', not '" + deviceId + "'");
        }
        Optional<Device> device = deviceId == null ? Optional.empty() : ledger.device(deviceId);
        String model = device.map(Device::model).orElse(null);
        if (Device.SERVER_MODEL.equals(model)) {
            throw refused("device '" + deviceId + "' is the TLS identity of this CA's own server; only an operator issues its certificates");
        }
        String fleet = fleetOf(cred);
        if (fleet != null && device.isPresent() && !covers(fleet, model)) {
            throw refused(who(cred) + " enrolls devices of fleet '" + fleet + "' only; device '" + deviceId + "' is model '" + model + "'");
        }
        if (fleet == null && (cred instanceof EnrollmentCredential.FactoryStation || cred instanceof EnrollmentCredential.Manufacturer)) {
            throw refused(who(cred) + " is bound to no fleet, so it enrolls nothing; register it again with --fleet MODEL (or --fleet '*')");
        }
        FleetRule rule = config.enrollment().rule(model);
        Set<String> scope = scope(rule, cred);
        if (!scope.contains(profile.name())) {
            String ruleName = model != null && config.enrollment().fleets().containsKey(model) ? model : "*";
            throw refused(kind + " credentials may not obtain profile '" + profile.name() + "'"
                    + (profile.name().equals(profile.kind().configName()) ? "" : " (" + profile.kind().configName() + ")")
                    + "; for fleet '" + (model == null ? "*" : model) + "' they may obtain " + (scope.isEmpty() ? "nothing" : String.join(", ", new TreeSet<>(scope)))
                    + " (enrollment.fleets." + ruleName + ".profiles." + kind + " in fleetpki.yaml). Server, code-signing and cloud-verification "
                    + "certificates are issued by an operator (fleetpki sign, an admin API token) or to an API token bound to them "
                    + "(fleetpki token create NAME --role issuer --profiles server-tls)");
        }
        IssuedCertificate renewing = null;
        if (cred instanceof EnrollmentCredential.Renewal r) {
            renewing = r.current().issued();
            if (!renewing.profile().equals(profile.name())) {
                throw refused("a renewal renews profile '" + renewing.profile() + "' of certificate " + renewing.serialHex()
                        + "; it cannot switch to '" + profile.name() + "' (renew at the label of the current profile)");
            }
        } else if (purpose == Purpose.RENEW) {
            throw refused("simplereenroll is authenticated by the device's current certificate as the TLS client certificate; "
                    + "to enroll with another credential use simpleenroll");
        }
        if (purpose == Purpose.BARE_KEY && cred.role() != Role.FACTORY) {
            throw refused("issuing from a bare public key (no proof of possession) is allowed only to a factory station; "
                    + cred.actor() + " has role " + cred.role().configName());
        }
        if (purpose == Purpose.SERVER_KEYGEN && !rule.serverKeygen().contains(cred.kind())) {
            throw refused(kind + " credentials may not ask the server to generate a key for fleet '" + (model == null ? "*" : model)
                    + "' (enrollment.fleets.*.serverKeygen in fleetpki.yaml); generate the key on the device and use simpleenroll");
        }
        boolean accepted = rule.accept().contains(cred.kind()) && !(cred instanceof EnrollmentCredential.Manufacturer && device.isEmpty());
        if (accepted) {
            Authorization.Consumes consumes = cred instanceof EnrollmentCredential.Secret s ? new Authorization.SecretUse(s.secret().id()) : null;
            return new Allowed(new Authorization(cred.actor(), cred.role(), deviceId, profile.name(), fleet, false, purpose == Purpose.BARE_KEY,
                    renewing, consumes));
        }
        String reason = device.isEmpty() ? "device '" + deviceId + "' is not registered"
                : "fleet '" + model + "' does not accept " + kind + " credentials (enrollment.fleets in fleetpki.yaml)";
        if (rule.otherwise() == EnrollmentPolicy.Otherwise.PENDING && (purpose == Purpose.ENROLL || purpose == Purpose.RENEW)) {
            return new NeedsApproval(reason);
        }
        throw refused(reason);
    }

    /**
     * The profiles a credential kind may obtain under this rule: the rule's list for the kind, or
     * by default the device-side profiles. Never a CA, OCSP, server or code-signing profile.
     */
    Set<String> scope(FleetRule rule, EnrollmentCredential cred) {
        Set<String> named = rule.profiles().get(cred.kind());
        Set<String> scope = named != null ? named : deviceSide;
        if (cred instanceof EnrollmentCredential.ApiCaller api && !api.profiles().isEmpty()) {
            Set<String> more = new HashSet<>(scope);
            more.addAll(api.profiles()); // named on the token by an operator (token create --profiles); never a CA or OCSP profile
            return Set.copyOf(more);
        }
        return scope;
    }

    private static String fleetOf(EnrollmentCredential cred) {
        return switch (cred) {
            case EnrollmentCredential.FactoryStation s -> s.station().fleet();
            case EnrollmentCredential.Manufacturer m -> m.ca().fleet();
            default -> null;
        };
    }

    /** Whether a fleet binding ({@code *} or one model) covers a device of this model. */
    static boolean covers(String fleet, String model) {
        return "*".equals(fleet) || fleet.equals(model);
    }

    private static String who(EnrollmentCredential cred) {
        return switch (cred) {
            case EnrollmentCredential.FactoryStation s -> "factory station '" + s.station().name() + "'";
            case EnrollmentCredential.Manufacturer m -> "manufacturer CA '" + m.ca().name() + "'";
            default -> cred.actor().toString();
        };
    }

    private static PkiException refused(String reason) {
        return new PkiException(ErrorKind.NOT_AUTHORIZED, reason);
    }
}
