package dev.fleetpki.server;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.EnrollmentPolicy;
import dev.fleetpki.core.EnrollmentPolicy.Credential;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.Role;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.UntrustedCsr;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.asn1.x500.X500Name;

/**
 * Enrollment as EST and REST share it: given an authenticated credential and a verified CSR,
 * decide by the fleet's rule ({@link EnrollmentPolicy}) whether to issue now, to keep the request
 * for an operator, or to refuse; then issue through the pipeline, which makes every other check.
 * A client re-sending a CSR it already sent gets what became of it (RFC 7030 4.2.3).
 */
public final class Enrollment {
    private static final SecureRandom RANDOM = new SecureRandom();

    /** What became of an enrollment request. */
    sealed interface Outcome {}

    record Issued(IssuedCertificate certificate) implements Outcome {}

    record Pending(EnrollmentRequest request) implements Outcome {}

    private final Services s;
    private final RateLimiter limiter;

    Enrollment(Services s) {
        this.s = s;
        EnrollmentPolicy p = s.config().enrollment();
        this.limiter = new RateLimiter(p.ratePeriod().toMillis());
    }

    /**
     * @param requestedDevice the device a station or token names (REST body), or null: the CSR's CN
     * @param renewal the client asked to renew (EST simplereenroll)
     */
    Outcome enroll(Credentials.Presented cred, UntrustedCsr csr, String profileName, String requestedDevice, String protocol, boolean renewal) {
        Profile profile = profile(profileName);
        if (renewal && cred.kind() != Credential.RENEWAL) {
            throw new HttpProblem(403, "renewal-needs-certificate", "Renewal needs the current certificate",
                    "simplereenroll is authenticated by the device's current certificate as the TLS client certificate; to enroll with "
                            + "another credential use simpleenroll");
        }
        String deviceId = deviceId(cred, csr, requestedDevice);
        rateLimit(cred, profile.name(), protocol);
        if (cred.kind() == Credential.RENEWAL) {
            checkRenewal(cred.current(), csr, profile);
        }
        String csrHash = dev.fleetpki.core.Fingerprints.sha256(csr.der());
        List<EnrollmentRequest> known = s.store().requestsFor(deviceId, profile.name(), csrHash);
        Optional<EnrollmentRequest> earlier = known.stream().filter(r -> r.csrSha256().equals(csrHash)).findFirst();
        if (earlier.isPresent()) {
            EnrollmentRequest r = earlier.get();
            switch (r.status()) {
                case ISSUED -> {
                    StoredCertificate c = s.store().certificate(r.serial()).orElseThrow(() -> new PkiException(ErrorKind.INTERNAL,
                            "request " + r.id() + " was issued as " + r.serial() + ", which is not in the store"));
                    return new Issued(c.issued());
                }
                case PENDING -> {
                    return new Pending(r);
                }
                case REJECTED -> throw new PkiException(ErrorKind.NOT_AUTHORIZED, "request " + r.id() + " for this CSR was rejected by "
                        + r.decidedBy() + (r.reason() == null ? "" : ": " + r.reason()) + "; contact the operator");
            }
        }
        known.stream().filter(r -> r.status() == EnrollmentRequest.Status.PENDING).findFirst().ifPresent(p -> {
            throw new HttpProblem(409, "request-pending", "A request is pending", "request " + p.id() + " for device '" + deviceId
                    + "' and profile '" + profile.name() + "' is waiting for an operator; poll it, or send the same CSR again",
                    Map.of("Location", CertificateRoutes.requestHref(p.id())));
        });
        Optional<Device> device = s.store().device(deviceId);
        EnrollmentPolicy.FleetRule rule = s.config().enrollment().rule(device.map(Device::model).orElse(null));
        if (cred.kind() == Credential.STATION && device.isPresent() && !cred.station().covers(device.get().model())) {
            throw refuse(cred, deviceId, profile, protocol, "factory station '" + cred.station().name() + "' enrolls devices of fleet '"
                    + cred.station().fleet() + "' only; device '" + deviceId + "' is model '" + device.get().model() + "'");
        }
        boolean accepted = rule.accept().contains(cred.kind()) && !(cred.kind() == Credential.MANUFACTURER && device.isEmpty());
        if (accepted) {
            return new Issued(s.pipeline().issue(IssuanceRequest.fromCsr(csr, deviceId, profile.name(), protocol), authorization(cred, deviceId)));
        }
        if (rule.otherwise() == EnrollmentPolicy.Otherwise.PENDING) {
            return new Pending(keep(cred, csr, csrHash, deviceId, profile, protocol));
        }
        throw refuse(cred, deviceId, profile, protocol, device.isEmpty() ? "device '" + deviceId + "' is not registered"
                : "fleet '" + device.get().model() + "' does not accept " + cred.kind().configName() + " credentials (enrollment.fleets in fleetpki.yaml)");
    }

    /** What the pipeline is told the credential may do. */
    static Authorization authorization(Credentials.Presented cred, String deviceId) {
        Authorization a = new Authorization(cred.actor(), cred.role(), cred.deviceHeld() ? deviceId : null, Set.of(), null);
        return cred.kind() == Credential.SECRET ? a.consuming(new Authorization.SecretUse(cred.secret().id())) : a;
    }

    /** Whether this credential may ask the server to make the key (EST serverkeygen). */
    void requireServerKeygen(Credentials.Presented cred, String deviceId) {
        String model = s.store().device(deviceId).map(Device::model).orElse(null);
        if (!s.config().enrollment().rule(model).serverKeygen().contains(cred.kind())) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, cred.kind().configName() + " credentials may not ask the server to generate a key for fleet '"
                    + model + "' (enrollment.fleets.*.serverKeygen in fleetpki.yaml); generate the key on the device and use simpleenroll");
        }
    }

    String deviceId(Credentials.Presented cred, UntrustedCsr csr, String requested) {
        if (cred.deviceId() != null) {
            if (requested != null && !requested.equals(cred.deviceId())) {
                throw new PkiException(ErrorKind.NOT_AUTHORIZED, "this credential may enroll only device '" + cred.deviceId() + "', not '" + requested + "'");
            }
            return cred.deviceId();
        }
        String id = requested != null ? requested : csr.commonName();
        if (id == null) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "say which device: put its id in the CSR's CN (or 'device' in a REST request)");
        }
        Device.checkId(id);
        return id;
    }

    /** Counts this request against the credential's rate; over it, a 429 (counted as reason rate-limited). */
    void rateLimit(Credentials.Presented cred, String profile, String protocol) {
        EnrollmentPolicy p = s.config().enrollment();
        int limit = cred.deviceHeld() ? p.deviceRate() : p.stationRate();
        long wait = limiter.acquire(cred.rateKey(), limit, System.currentTimeMillis());
        if (wait > 0) {
            s.metrics().refused("rate-limited", profile, protocol);
            throw new HttpProblem(429, "rate-limited", "Too many requests", cred.actor() + " made more than " + limit + " enrollment requests in "
                    + dev.fleetpki.core.Durations.format(p.ratePeriod()) + "; retry after " + ((wait + 999) / 1000) + " s",
                    Map.of("Retry-After", String.valueOf((wait + 999) / 1000)));
        }
    }

    /** A renewal keeps the subject; it brings a new key unless the profile allows keeping it. */
    private static void checkRenewal(StoredCertificate current, UntrustedCsr csr, Profile profile) {
        X500Name was = X500Name.getInstance(current.issued().certificate().getSubjectX500Principal().getEncoded());
        if (!sameCn(was, csr.subject())) {
            throw new PkiException(ErrorKind.NAME_MISMATCH, "a renewal keeps the subject: the current certificate is for '"
                    + current.issued().subject() + "', the CSR asks for '" + csr.subject() + "'");
        }
        PublicKey old = current.issued().certificate().getPublicKey();
        if (!profile.renewWithSameKey() && Arrays.equals(old.getEncoded(), csr.publicKey().getEncoded())) {
            throw new PkiException(ErrorKind.KEY_POLICY, "the CSR carries the current certificate's key; profile '" + profile.name()
                    + "' renews only with a new key (rekey): generate a new key pair on the device (or set renewWithSameKey: true)");
        }
    }

    private static boolean sameCn(X500Name a, X500Name b) {
        var ca = a.getRDNs(org.bouncycastle.asn1.x500.style.BCStyle.CN);
        var cb = b.getRDNs(org.bouncycastle.asn1.x500.style.BCStyle.CN);
        return ca.length == 1 && cb.length == 1 && ca[0].getFirst().getValue().toString().equals(cb[0].getFirst().getValue().toString());
    }

    private EnrollmentRequest keep(Credentials.Presented cred, UntrustedCsr csr, String csrHash, String deviceId, Profile profile, String protocol) {
        Instant now = s.clock().instant();
        byte[] id = new byte[8];
        RANDOM.nextBytes(id);
        EnrollmentRequest r = new EnrollmentRequest(HexFormat.of().formatHex(id), deviceId, profile.name(), csr.der(), csrHash,
                EnrollmentRequest.Status.PENDING, cred.kind().configName(), cred.actor(), protocol, now, null, null, null, null);
        Map<String, String> detail = new LinkedHashMap<>();
        detail.put("request", r.id());
        detail.put("profile", profile.name());
        detail.put("credential", cred.kind().configName());
        detail.put("protocol", protocol);
        if (cred.manufacturer() != null) {
            detail.put("manufacturer", cred.manufacturer().name());
        }
        try {
            s.store().addRequest(r, new AuditEvent(now, cred.actor(), "request.pending", "device:" + deviceId, detail));
        } catch (PkiException e) {
            if (e.kind() == ErrorKind.CONFLICT) { // another request became pending meanwhile
                String location = s.store().pendingRequest(deviceId, profile.name()).map(p -> CertificateRoutes.requestHref(p.id())).orElse("");
                throw new HttpProblem(409, "request-pending", "A request is pending", e.detail(), Map.of("Location", location));
            }
            throw e;
        }
        return r;
    }

    private PkiException refuse(Credentials.Presented cred, String deviceId, Profile profile, String protocol, String reason) {
        s.metrics().refused(ErrorKind.NOT_AUTHORIZED, profile.name(), protocol);
        s.store().audit(new AuditEvent(s.clock().instant(), cred.actor(), "certificate.refuse", "device:" + deviceId,
                Map.of("kind", ErrorKind.NOT_AUTHORIZED.name(), "reason", reason, "profile", profile.name(), "protocol", protocol,
                        "credential", cred.kind().configName())));
        return new PkiException(ErrorKind.NOT_AUTHORIZED, reason);
    }

    Profile profile(String name) {
        return s.config().profile(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no profile named '" + name + "'; profiles: " + String.join(", ", new java.util.TreeSet<>(s.config().profiles().keySet()))));
    }

    /** A new one-time enrollment secret: its text (shown once) and when it expires. */
    public record NewSecret(String text, Instant expiresAt) {}

    /** Makes a device's one-time enrollment secret (replacing its unused one); only its hash is stored. */
    public static NewSecret newSecret(dev.fleetpki.store.JdbcStore store, String deviceId, java.time.Duration life, Actor by, Instant now) {
        dev.fleetpki.core.TokenSecrets.New t = dev.fleetpki.core.TokenSecrets.create(dev.fleetpki.core.TokenSecrets.ENROLLMENT);
        Instant expires = now.plus(life);
        store.addEnrollmentSecret(new dev.fleetpki.core.EnrollmentSecret(t.id(), deviceId, t.secretHash(), now, by, expires, null, null),
                new AuditEvent(now, by, "device.secret", "device:" + deviceId, Map.of("id", t.id(), "expires", expires.toString())));
        return new NewSecret(t.text(), expires);
    }

    /** Approving and rejecting pending requests (REST and the CLI). */
    public static IssuedCertificate approve(Services s, String id, Actor approver) {
        return approve(s, s.store().request(id).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no request " + id + "; list them with: fleetpki request list")), approver);
    }

    /** Approves a request already read; the issuing transaction still refuses it if it stopped being pending meanwhile. */
    static IssuedCertificate approve(Services s, EnrollmentRequest r, Actor approver) {
        String id = r.id();
        if (r.status() != EnrollmentRequest.Status.PENDING) {
            throw new PkiException(ErrorKind.CONFLICT, "request " + id + " is " + r.status().configName() + ", not pending");
        }
        Instant now = s.clock().instant();
        if (s.store().deviceNow(r.deviceId()).isEmpty()) { // a manufacturer certificate naming a device not registered yet
            s.store().addDevice(new Device(r.deviceId(), null, Map.of(), Device.Status.ACTIVE, null, now),
                    new AuditEvent(now, approver, "device.add", "device:" + r.deviceId(), Map.of("via", "request " + id)));
        }
        UntrustedCsr csr = UntrustedCsr.parse(r.csrDer());
        IssuedCertificate c = s.pipeline().issue(IssuanceRequest.fromCsr(csr, r.deviceId(), r.profile(), r.protocol()),
                new Authorization(approver, Role.ISSUER, r.deviceId(), Set.of(), new Authorization.RequestApproval(id, approver)));
        return c;
    }

    public static void reject(Services s, String id, String reason, Actor by) {
        s.store().rejectRequest(id, reason, new AuditEvent(s.clock().instant(), by, "request.reject", "request:" + id,
                reason == null ? Map.of() : Map.of("reason", reason)));
    }

    /** Fixed-window counters per credential; windows older than one period are dropped as the map grows. */
    static final class RateLimiter {
        private final long periodMillis;
        private final ConcurrentHashMap<String, long[]> windows = new ConcurrentHashMap<>();

        RateLimiter(long periodMillis) {
            this.periodMillis = periodMillis;
        }

        /** 0 when allowed, else milliseconds until the window ends. */
        long acquire(String key, int limit, long now) {
            if (limit <= 0) {
                return 0;
            }
            if (windows.size() > 100_000) {
                windows.values().removeIf(w -> now - w[0] >= periodMillis);
            }
            long[] w = windows.compute(key, (k, old) -> {
                if (old == null || now - old[0] >= periodMillis) {
                    return new long[] {now, 1};
                }
                old[1]++;
                return old;
            });
            synchronized (w) {
                return w[1] <= limit ? 0 : w[0] + periodMillis - now;
            }
        }
    }
}
