package dev.fleetpki.core.enrollment;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.Durations;
import dev.fleetpki.core.EnrollmentAuthorizer;
import dev.fleetpki.core.EnrollmentAuthorizer.Purpose;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.EnrollmentPolicy;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.EnrollmentSecret;
import dev.fleetpki.core.EnrollmentSecrets;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.IssuanceObserver;
import dev.fleetpki.core.IssuancePipeline;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.TokenSecrets;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.core.store.CertificateStore;
import dev.fleetpki.core.store.CredentialStore;
import dev.fleetpki.core.store.DeviceStore;
import dev.fleetpki.core.store.RequestStore;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Enrollment as every adapter shares it: given an authenticated credential and what it asks for,
 * decide by the fleet's rule (through the {@link EnrollmentAuthorizer}) whether to issue now, to
 * keep the request for an operator, or to refuse; then issue through the pipeline, which makes
 * every other check. A client re-sending a CSR it already sent gets what became of it (RFC 7030
 * 4.2.3). It knows nothing of HTTP: it answers with an {@link Outcome}, and refuses with a
 * {@link PkiException}; each adapter maps both to its protocol in one place.
 */
public final class Enrollment {
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Malformed enrollment requests one source address may send per minute before it is refused (they cost a parse and a refusal each). */
    public static final int MALFORMED_PER_MINUTE = 60;

    /** What became of an enrollment request that was not refused. */
    public sealed interface Outcome {}

    /** Issued now. */
    public record Issued(IssuedCertificate certificate) implements Outcome {}

    /** Issued now for a key pair the CA made (EST serverkeygen); the private key goes to the caller and nowhere else. */
    public record IssuedWithKey(IssuedCertificate certificate, PrivateKey privateKey) implements Outcome {}

    /** Kept for an operator: this request (new, or the one the same CSR made before). */
    public record Pending(EnrollmentRequest request) implements Outcome {}

    /** Another request for this device and profile waits for an operator (its id, when it could be read). */
    public record Conflict(Optional<String> pendingId, String detail) implements Outcome {}

    /** Over a rate: nothing was read or issued; ask again after {@code retryAfter}. */
    public record RateLimited(Duration retryAfter, String detail) implements Outcome {
        /** Whole seconds, rounded up (for Retry-After). */
        public long retryAfterSeconds() {
            return (retryAfter.toMillis() + 999) / 1000;
        }
    }

    private final FleetConfig config;
    private final RequestStore requests;
    private final CertificateStore certificates;
    private final DeviceStore devices;
    private final IssuancePipeline pipeline;
    private final EnrollmentAuthorizer authorizer;
    private final Clock clock;
    private final IssuanceObserver observer;
    private final RateLimiter limiter;
    private final RateLimiter malformed = new RateLimiter(60_000);

    /**
     * @param observer told of the refusals made here (the authorizer's, rate limits); the pipeline reports its own
     */
    public Enrollment(FleetConfig config, RequestStore requests, CertificateStore certificates, DeviceStore devices, IssuancePipeline pipeline,
                      EnrollmentAuthorizer authorizer, Clock clock, IssuanceObserver observer) {
        this.config = config;
        this.requests = requests;
        this.certificates = certificates;
        this.devices = devices;
        this.pipeline = pipeline;
        this.authorizer = authorizer;
        this.clock = clock;
        this.observer = observer;
        this.limiter = new RateLimiter(config.enrollment().ratePeriod().toMillis());
    }

    /**
     * Counts a malformed request from this source address; past {@link #MALFORMED_PER_MINUTE} in a
     * minute, {@link #sourceLimited} answers for it.
     */
    public void malformed(String source) {
        malformed.acquire(source, Integer.MAX_VALUE, clock.millis());
    }

    /** Rate limited when this source address sent too many malformed requests in the last minute (counted as reason malformed-rate-limited). */
    public Optional<RateLimited> sourceLimited(String source, String protocol) {
        long wait = malformed.peek(source, MALFORMED_PER_MINUTE, clock.millis());
        if (wait <= 0) {
            return Optional.empty();
        }
        observer.refused("malformed-rate-limited", null, protocol);
        return Optional.of(new RateLimited(Duration.ofMillis(wait), source + " sent more than " + MALFORMED_PER_MINUTE
                + " malformed enrollment requests in a minute; fix the client, then retry after " + (wait + 999) / 1000 + " s"));
    }

    /**
     * Enrollment with a verified CSR: Issued, Pending, Conflict or RateLimited.
     *
     * @param requestedDevice the device a station or token names (REST body), or null: the CSR's CN
     * @param renewal the client asked to renew (EST simplereenroll)
     */
    public Outcome enroll(EnrollmentCredential cred, UntrustedCsr csr, String profileName, String requestedDevice, String protocol, boolean renewal) {
        Profile profile = profile(profileName);
        String deviceId = deviceId(cred, csr, requestedDevice);
        Optional<RateLimited> limited = rateLimit(cred, profile.name(), protocol);
        if (limited.isPresent()) {
            return limited.get();
        }
        String csrHash = Fingerprints.sha256(csr.der());
        List<EnrollmentRequest> known = requests.requestsFor(deviceId, profile.name(), csrHash);
        Optional<EnrollmentRequest> earlier = known.stream().filter(r -> r.csrSha256().equals(csrHash)).findFirst();
        if (earlier.isPresent()) { // what became of the same CSR sent before (RFC 7030 4.2.3): nothing new is issued here
            EnrollmentRequest r = earlier.get();
            return switch (r.status()) {
                case ISSUED -> new Issued(certificates.certificate(r.serial()).map(StoredCertificate::issued).orElseThrow(() -> new PkiException(
                        ErrorKind.INTERNAL, "request " + r.id() + " was issued as " + r.serial() + ", which is not in the store")));
                case PENDING -> new Pending(r);
                case REJECTED -> throw new PkiException(ErrorKind.NOT_AUTHORIZED, "request " + r.id() + " for this CSR was rejected by "
                        + r.decidedBy() + (r.reason() == null ? "" : ": " + r.reason()) + "; contact the operator");
            };
        }
        Optional<EnrollmentRequest> pending = known.stream().filter(r -> r.status() == EnrollmentRequest.Status.PENDING).findFirst();
        if (pending.isPresent()) {
            return new Conflict(Optional.of(pending.get().id()), "request " + pending.get().id() + " for device '" + deviceId + "' and profile '"
                    + profile.name() + "' is waiting for an operator; poll it, or send the same CSR again");
        }
        return switch (decide(cred, deviceId, profile.name(), renewal ? Purpose.RENEW : Purpose.ENROLL, protocol)) {
            case EnrollmentAuthorizer.Allowed a -> new Issued(pipeline.issue(IssuanceRequest.fromCsr(csr, deviceId, profile.name(), protocol),
                    a.authorization()));
            case EnrollmentAuthorizer.NeedsApproval n -> keep(cred, csr, csrHash, deviceId, profile, protocol);
        };
    }

    /** A bare public key for a named device (factory stations only, as the authorizer decides): Issued or RateLimited. */
    public Outcome enrollBareKey(EnrollmentCredential cred, PublicKey key, String device, String profileName, String protocol) {
        String id = deviceId(cred, null, device);
        Optional<RateLimited> limited = rateLimit(cred, profileName, protocol);
        if (limited.isPresent()) {
            return limited.get();
        }
        Authorization a = authorizeNow(cred, id, profileName, Purpose.BARE_KEY, protocol);
        return new Issued(pipeline.issue(IssuanceRequest.fromBareKey(key, id, profileName, protocol), a));
    }

    /**
     * Server key generation (RFC 7030 4.4): a key pair of the profile's preferred algorithm,
     * certified with the CSR's subject and names; IssuedWithKey or RateLimited. The key is not
     * stored or logged.
     */
    public Outcome enrollServerKey(EnrollmentCredential cred, UntrustedCsr csr, String profileName, String protocol) {
        Profile profile = profile(profileName);
        String deviceId = deviceId(cred, csr, null);
        Optional<RateLimited> limited = rateLimit(cred, profile.name(), protocol);
        if (limited.isPresent()) {
            return limited.get();
        }
        Authorization auth = authorizeNow(cred, deviceId, profile.name(), Purpose.SERVER_KEYGEN, protocol);
        KeyPair kp = profile.preferredKeyAlgorithm().generate();
        IssuanceRequest req = new IssuanceRequest(deviceId, profile.name(), kp.getPublic(), csr.commonName(), csr.requestedSubjectAltNames(),
                true, protocol, null, null);
        return new IssuedWithKey(pipeline.issue(req, auth), kp.getPrivate());
    }

    /** The authorizer's decision; a refusal is counted (the authorizer audits it). */
    private EnrollmentAuthorizer.Decision decide(EnrollmentCredential cred, String deviceId, String profile, Purpose purpose, String protocol) {
        try {
            return authorizer.decide(cred, deviceId, profile, purpose, protocol);
        } catch (PkiException e) {
            observer.refused(e.kind(), profile, protocol);
            throw e;
        }
    }

    /** An authorization to issue at once (bare keys, server key generation): nothing of these can wait for an operator. */
    private Authorization authorizeNow(EnrollmentCredential cred, String deviceId, String profile, Purpose purpose, String protocol) {
        return switch (decide(cred, deviceId, profile, purpose, protocol)) {
            case EnrollmentAuthorizer.Allowed a -> a.authorization();
            case EnrollmentAuthorizer.NeedsApproval n -> throw new PkiException(ErrorKind.NOT_AUTHORIZED, n.reason());
        };
    }

    private static String deviceId(EnrollmentCredential cred, UntrustedCsr csr, String requested) {
        if (cred.deviceId() != null) {
            if (requested != null && !requested.equals(cred.deviceId())) {
                throw new PkiException(ErrorKind.NOT_AUTHORIZED, "this credential may enroll only device '" + cred.deviceId() + "', not '" + requested + "'");
            }
            return cred.deviceId();
        }
        String id = requested != null ? requested : csr == null ? null : csr.commonName();
        if (id == null) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "say which device: put its id in the CSR's CN (or 'device' in a REST request)");
        }
        Device.checkId(id);
        return id;
    }

    /** Counts this request against the credential's rate; over it, RateLimited (counted as reason rate-limited). */
    private Optional<RateLimited> rateLimit(EnrollmentCredential cred, String profile, String protocol) {
        EnrollmentPolicy p = config.enrollment();
        int limit = cred.deviceHeld() ? p.deviceRate() : p.stationRate();
        long wait = limiter.acquire(cred.actor().toString(), limit, clock.millis());
        if (wait <= 0) {
            return Optional.empty();
        }
        observer.refused("rate-limited", profile, protocol);
        return Optional.of(new RateLimited(Duration.ofMillis(wait), cred.actor() + " made more than " + limit + " enrollment requests in "
                + Durations.format(p.ratePeriod()) + "; retry after " + (wait + 999) / 1000 + " s"));
    }

    private Outcome keep(EnrollmentCredential cred, UntrustedCsr csr, String csrHash, String deviceId, Profile profile, String protocol) {
        Instant now = clock.instant();
        byte[] id = new byte[8];
        RANDOM.nextBytes(id);
        EnrollmentRequest r = new EnrollmentRequest(HexFormat.of().formatHex(id), deviceId, profile.name(), csr.der(), csrHash,
                EnrollmentRequest.Status.PENDING, credentialName(cred), cred.actor(), protocol, now, null, null, null, null);
        Map<String, String> detail = new LinkedHashMap<>();
        detail.put("request", r.id());
        detail.put("profile", profile.name());
        detail.put("credential", credentialName(cred));
        detail.put("protocol", protocol);
        if (cred instanceof EnrollmentCredential.Manufacturer m) {
            detail.put("manufacturer", m.ca().name());
        }
        try {
            requests.addRequest(r, new AuditEvent(now, cred.actor(), AuditAction.REQUEST_PENDING, "device:" + deviceId, detail));
        } catch (PkiException e) {
            if (e.kind() == ErrorKind.CONFLICT) { // another request became pending meanwhile
                return new Conflict(requests.pendingRequest(deviceId, profile.name()).map(EnrollmentRequest::id), e.detail());
            }
            throw e;
        }
        return new Pending(r);
    }

    private static String credentialName(EnrollmentCredential cred) {
        return cred.kind() == null ? "operator" : cred.kind().configName();
    }

    private Profile profile(String name) {
        return config.profile(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no profile named '" + name + "'; profiles: " + String.join(", ", new TreeSet<>(config.profiles().keySet()))));
    }

    /** Approves the pending request with this id (REST and the CLI). */
    public IssuedCertificate approve(String id, Actor approver) {
        return approve(requests.request(id).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no request " + id + "; list them with: fleetpki request list")), approver);
    }

    /** Approves a request already read; the issuing transaction still refuses it if it stopped being pending meanwhile. */
    public IssuedCertificate approve(EnrollmentRequest r, Actor approver) {
        String id = r.id();
        if (r.status() != EnrollmentRequest.Status.PENDING) {
            throw new PkiException(ErrorKind.CONFLICT, "request " + id + " is " + r.status().configName() + ", not pending");
        }
        Instant now = clock.instant();
        if (devices.deviceNow(r.deviceId()).isEmpty()) { // a manufacturer certificate naming a device not registered yet
            devices.addDevice(new Device(r.deviceId(), null, Map.of(), Device.Status.ACTIVE, null, now),
                    new AuditEvent(now, approver, AuditAction.DEVICE_ADD, "device:" + r.deviceId(), Map.of("via", "request " + id)));
        }
        UntrustedCsr csr = UntrustedCsr.stored(r.csrDer());
        return pipeline.issue(IssuanceRequest.fromCsr(csr, r.deviceId(), r.profile(), r.protocol()), authorizer.approval(approver, r));
    }

    /** Rejects a pending request; CONFLICT when it is not pending. */
    public void reject(String id, String reason, Actor by) {
        requests.rejectRequest(id, reason, new AuditEvent(clock.instant(), by, AuditAction.REQUEST_REJECT, "request:" + id,
                reason == null ? Map.of() : Map.of("reason", reason)));
    }

    /** A new one-time enrollment secret: its text (shown once) and when it expires. */
    public record NewSecret(String text, Instant expiresAt) {}

    /**
     * Makes a device's one-time enrollment secret (replacing its unused one); only its hash is
     * stored, and {@code secrets} can recompute it for CMP's MAC protection.
     */
    public static NewSecret newSecret(DeviceStore devices, CredentialStore credentials, EnrollmentSecrets secrets, String deviceId, Duration life,
                                      Actor by, Instant now) {
        if (life.isNegative() || life.isZero() || life.compareTo(EnrollmentPolicy.MAX_SECRET_VALIDITY) > 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "an enrollment secret lives from 1 s to " + Durations.format(EnrollmentPolicy.MAX_SECRET_VALIDITY)
                    + ", not " + Durations.format(life) + ": a one-time secret is for the next enrollment, not a standing credential");
        }
        Device d = devices.deviceNow(deviceId).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "device '" + deviceId
                + "' is not registered; register it first: fleetpki device add " + deviceId));
        if (d.status() != Device.Status.ACTIVE) {
            throw new PkiException(ErrorKind.DEVICE_NOT_ACTIVE, "device '" + deviceId + "' is " + d.status().name().toLowerCase(Locale.ROOT)
                    + "; a secret for it could buy nothing" + (d.status() == Device.Status.DISABLED ? " (fleetpki device enable " + deviceId + ")" : ""));
        }
        TokenSecrets.New t = secrets.create(deviceId);
        Instant expires = now.plus(life);
        credentials.addEnrollmentSecret(new EnrollmentSecret(t.id(), deviceId, t.secretHash(), now, by, expires, null, null),
                new AuditEvent(now, by, AuditAction.DEVICE_SECRET, "device:" + deviceId, Map.of("id", t.id(), "expires", expires.toString())));
        return new NewSecret(t.text(), expires);
    }
}
