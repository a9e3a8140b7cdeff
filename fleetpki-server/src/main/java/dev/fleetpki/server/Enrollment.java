package dev.fleetpki.server;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.Durations;
import dev.fleetpki.core.EnrollmentAuthorizer;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.EnrollmentPolicy;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.UntrustedCsr;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

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

    /** Malformed enrollment requests one source address may send per minute before it gets 429 (they cost a parse and a refusal each). */
    static final int MALFORMED_PER_MINUTE = 60;

    private final Services s;
    private final RateLimiter limiter;
    private final RateLimiter malformed = new RateLimiter(60_000);

    Enrollment(Services s) {
        this.s = s;
        EnrollmentPolicy p = s.config().enrollment();
        this.limiter = new RateLimiter(p.ratePeriod().toMillis());
    }

    /**
     * Counts a malformed request from this source address; past {@link #MALFORMED_PER_MINUTE} in a
     * minute, its requests are answered 429 before they are read (counted as reason malformed-rate-limited).
     */
    void malformed(String source) {
        malformed.acquire(source, Integer.MAX_VALUE, s.clock().millis());
    }

    /** 429 when this source address sent too many malformed requests in the last minute. */
    void checkSource(String source, String protocol) {
        long wait = malformed.peek(source, MALFORMED_PER_MINUTE, s.clock().millis());
        if (wait > 0) {
            s.metrics().refused("malformed-rate-limited", null, protocol);
            throw new HttpProblem(429, "rate-limited", "Too many malformed requests", source + " sent more than " + MALFORMED_PER_MINUTE
                    + " malformed enrollment requests in a minute; fix the client, then retry after " + ((wait + 999) / 1000) + " s",
                    Map.of("Retry-After", String.valueOf((wait + 999) / 1000)));
        }
    }

    /**
     * @param requestedDevice the device a station or token names (REST body), or null: the CSR's CN
     * @param renewal the client asked to renew (EST simplereenroll)
     */
    Outcome enroll(EnrollmentCredential cred, UntrustedCsr csr, String profileName, String requestedDevice, String protocol, boolean renewal) {
        Profile profile = profile(profileName);
        String deviceId = deviceId(cred, csr, requestedDevice);
        rateLimit(cred, profile.name(), protocol);
        String csrHash = Fingerprints.sha256(csr.der());
        List<EnrollmentRequest> known = s.store().requestsFor(deviceId, profile.name(), csrHash);
        Optional<EnrollmentRequest> earlier = known.stream().filter(r -> r.csrSha256().equals(csrHash)).findFirst();
        if (earlier.isPresent()) { // what became of the same CSR sent before (RFC 7030 4.2.3): nothing new is issued here
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
        return switch (decide(cred, deviceId, profile.name(), renewal ? EnrollmentAuthorizer.Purpose.RENEW : EnrollmentAuthorizer.Purpose.ENROLL,
                protocol)) {
            case EnrollmentAuthorizer.Allowed a -> new Issued(s.pipeline().issue(IssuanceRequest.fromCsr(csr, deviceId, profile.name(), protocol),
                    a.authorization()));
            case EnrollmentAuthorizer.NeedsApproval n -> new Pending(keep(cred, csr, csrHash, deviceId, profile, protocol));
        };
    }

    /** The authorizer's decision; a refusal is counted in the metrics (the authorizer audits it). */
    EnrollmentAuthorizer.Decision decide(EnrollmentCredential cred, String deviceId, String profile, EnrollmentAuthorizer.Purpose purpose,
                                         String protocol) {
        try {
            return s.authorizer().decide(cred, deviceId, profile, purpose, protocol);
        } catch (PkiException e) {
            s.metrics().refused(e.kind(), profile, protocol);
            throw e;
        }
    }

    /** An authorization to issue at once (bare keys, server key generation): nothing of these can wait for an operator. */
    Authorization authorizeNow(EnrollmentCredential cred, String deviceId, String profile, EnrollmentAuthorizer.Purpose purpose, String protocol) {
        return switch (decide(cred, deviceId, profile, purpose, protocol)) {
            case EnrollmentAuthorizer.Allowed a -> a.authorization();
            case EnrollmentAuthorizer.NeedsApproval n -> throw new PkiException(ErrorKind.NOT_AUTHORIZED, n.reason());
        };
    }

    String deviceId(EnrollmentCredential cred, UntrustedCsr csr, String requested) {
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

    /** Counts this request against the credential's rate; over it, a 429 (counted as reason rate-limited). */
    void rateLimit(EnrollmentCredential cred, String profile, String protocol) {
        EnrollmentPolicy p = s.config().enrollment();
        int limit = cred.deviceHeld() ? p.deviceRate() : p.stationRate();
        long wait = limiter.acquire(cred.actor().toString(), limit, s.clock().millis());
        if (wait > 0) {
            s.metrics().refused("rate-limited", profile, protocol);
            throw new HttpProblem(429, "rate-limited", "Too many requests", cred.actor() + " made more than " + limit + " enrollment requests in "
                    + Durations.format(p.ratePeriod()) + "; retry after " + ((wait + 999) / 1000) + " s",
                    Map.of("Retry-After", String.valueOf((wait + 999) / 1000)));
        }
    }

    private EnrollmentRequest keep(EnrollmentCredential cred, UntrustedCsr csr, String csrHash, String deviceId, Profile profile, String protocol) {
        Instant now = s.clock().instant();
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

    private static String credentialName(EnrollmentCredential cred) {
        return cred.kind() == null ? "operator" : cred.kind().configName();
    }

    Profile profile(String name) {
        return s.config().profile(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                "no profile named '" + name + "'; profiles: " + String.join(", ", new java.util.TreeSet<>(s.config().profiles().keySet()))));
    }

    /** A new one-time enrollment secret: its text (shown once) and when it expires. */
    public record NewSecret(String text, Instant expiresAt) {}

    /** Makes a device's one-time enrollment secret (replacing its unused one); only its hash is stored. */
    public static NewSecret newSecret(dev.fleetpki.store.JdbcStore store, String deviceId, java.time.Duration life, Actor by, Instant now) {
        if (life.isNegative() || life.isZero() || life.compareTo(EnrollmentPolicy.MAX_SECRET_VALIDITY) > 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "an enrollment secret lives from 1 s to " + Durations.format(EnrollmentPolicy.MAX_SECRET_VALIDITY)
                    + ", not " + Durations.format(life) + ": a one-time secret is for the next enrollment, not a standing credential");
        }
        Device d = store.deviceNow(deviceId).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "device '" + deviceId
                + "' is not registered; register it first: fleetpki device add " + deviceId));
        if (d.status() != Device.Status.ACTIVE) {
            throw new PkiException(ErrorKind.DEVICE_NOT_ACTIVE, "device '" + deviceId + "' is " + d.status().name().toLowerCase(java.util.Locale.ROOT)
                    + "; a secret for it could buy nothing" + (d.status() == Device.Status.DISABLED ? " (fleetpki device enable " + deviceId + ")" : ""));
        }
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
        return s.pipeline().issue(IssuanceRequest.fromCsr(csr, r.deviceId(), r.profile(), r.protocol()), s.authorizer().approval(approver, r));
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

        /** Like {@link #acquire} without counting: 0 while the key's window holds at most {@code limit}. */
        long peek(String key, int limit, long now) {
            long[] w = windows.get(key);
            if (w == null) {
                return 0;
            }
            synchronized (w) {
                return now - w[0] >= periodMillis || w[1] < limit ? 0 : w[0] + periodMillis - now;
            }
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
