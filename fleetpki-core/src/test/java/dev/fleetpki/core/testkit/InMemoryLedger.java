package dev.fleetpki.core.testkit;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceLedger;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.SerialNumbers;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.store.CertificateStore;
import dev.fleetpki.core.store.DeviceStore;
import dev.fleetpki.core.store.RequestStore;
import dev.fleetpki.core.store.SignerStore;
import dev.fleetpki.core.firmware.Signer;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The store in memory, for tests of core: devices, requests, certificates, CA records and the
 * audit log, with the same refusals as the JDBC store where core relies on them (a used secret or
 * a request no longer pending buys nothing; one pending request per device and profile). Not
 * thread-safe beyond one lock; not durable.
 */
public final class InMemoryLedger implements IssuanceLedger, CaRegistry, DeviceStore, RequestStore, CertificateStore, SignerStore {
    private final Map<String, Device> devices = new LinkedHashMap<>();
    private final Map<String, StoredCertificate> certificates = new LinkedHashMap<>();
    private final Map<String, EnrollmentRequest> requests = new LinkedHashMap<>();
    private final Map<String, CaRecord> cas = new LinkedHashMap<>();
    private final Set<String> serials = new HashSet<>();
    private final Set<String> usedSecrets = new HashSet<>();
    private final List<AuditEvent> audit = new ArrayList<>();
    private final Map<String, Signer> signers = new LinkedHashMap<>();
    private final Map<String, List<String>> signerCertificates = new LinkedHashMap<>();

    /** The audit events in order. */
    public synchronized List<AuditEvent> auditLog() {
        return List.copyOf(audit);
    }

    /** The audit events of this action, in order. */
    public synchronized List<AuditEvent> audited(AuditAction action) {
        return audit.stream().filter(e -> e.action() == action).toList();
    }

    /** Registers an active device of this model (null: none). */
    public Device register(String id, String model) {
        Device d = new Device(id, model, Map.of(), Device.Status.ACTIVE, null, Instant.EPOCH);
        addDevice(d, new AuditEvent(Instant.EPOCH, Actor.operator("test"), AuditAction.DEVICE_ADD, "device:" + id, Map.of()));
        return d;
    }

    public synchronized boolean secretUsed(String id) {
        return usedSecrets.contains(id);
    }

    // ---- IssuanceLedger ----

    @Override
    public synchronized Optional<Device> device(String id) {
        return Optional.ofNullable(devices.get(id));
    }

    @Override
    public synchronized String reserveSerial() {
        String s;
        do {
            s = SerialNumbers.hex(SerialNumbers.next());
        } while (!serials.add(s));
        return s;
    }

    @Override
    public synchronized void commitIssued(IssuedCertificate certificate, AuditEvent event, Authorization.Consumes consumes) {
        if (!serials.contains(certificate.serialHex()) || certificates.containsKey(certificate.serialHex())) {
            throw new PkiException(ErrorKind.INTERNAL, "serial " + certificate.serialHex() + " was not reserved or is used");
        }
        Device d = devices.get(certificate.deviceId());
        if (certificate.deviceId() != null && (d == null || d.status() != Device.Status.ACTIVE)) {
            throw new PkiException(ErrorKind.DEVICE_NOT_ACTIVE, "device '" + certificate.deviceId() + "' is not active");
        }
        switch (consumes) {
            case null -> { }
            case Authorization.SecretUse u -> {
                if (!usedSecrets.add(u.secretId())) {
                    throw new PkiException(ErrorKind.NOT_AUTHORIZED, "secret " + u.secretId() + " is used up");
                }
            }
            case Authorization.SignerEnrollment e -> {
                Signer had = signers.get(e.signer());
                if (e.rotate() ? had == null || !had.active() : had != null) {
                    throw new PkiException(ErrorKind.CONFLICT, e.rotate() ? "signer '" + e.signer() + "' is not active" : "signer '" + e.signer() + "' exists");
                }
                signers.put(e.signer(), e.rotate()
                        ? new Signer(had.name(), had.models(), e.keyRef(), certificate.serialHex(), had.status(), had.createdAt(), had.createdBy(), null)
                        : new Signer(e.signer(), e.models(), e.keyRef(), certificate.serialHex(), Signer.Status.ACTIVE, event.at(), event.actor(), null));
                signerCertificates.computeIfAbsent(e.signer(), k -> new ArrayList<>()).addFirst(certificate.serialHex());
            }
            case Authorization.RequestApproval a -> {
                EnrollmentRequest r = requests.get(a.requestId());
                if (r == null || r.status() != EnrollmentRequest.Status.PENDING) {
                    throw new PkiException(ErrorKind.NOT_AUTHORIZED, "request " + a.requestId() + " is not pending");
                }
                requests.put(r.id(), new EnrollmentRequest(r.id(), r.deviceId(), r.profile(), r.csrDer(), r.csrSha256(), EnrollmentRequest.Status.ISSUED,
                        r.credential(), r.requestedBy(), r.protocol(), r.createdAt(), event.at(), a.approver(), null, certificate.serialHex()));
            }
        }
        certificates.put(certificate.serialHex(), new StoredCertificate(certificate, null, null));
        audit.add(event);
    }

    @Override
    public synchronized long issuedBy(String ca) {
        return certificates.values().stream().filter(c -> c.issued().caName().equals(ca)).count();
    }

    @Override
    public synchronized void audit(AuditEvent event) {
        audit.add(event);
    }

    // ---- SignerStore ----

    @Override
    public synchronized Optional<Signer> signer(String name) {
        return Optional.ofNullable(signers.get(name));
    }

    @Override
    public synchronized List<Signer> signers() {
        return signers.values().stream().sorted(Comparator.comparing(Signer::name)).toList();
    }

    @Override
    public synchronized List<StoredCertificate> signerCertificates(String signer) {
        return signerCertificates.getOrDefault(signer, List.of()).stream().map(certificates::get).toList();
    }

    @Override
    public synchronized List<String> revokeSigner(String name, RevocationReason reason, Instant at, Instant invalidSince, AuditEvent event) {
        Signer s = signers.get(name);
        if (s == null || !s.active()) {
            throw new PkiException(s == null ? ErrorKind.NOT_FOUND : ErrorKind.CONFLICT, "signer '" + name + "' is not active");
        }
        signers.put(name, new Signer(s.name(), s.models(), s.keyRef(), s.serial(), Signer.Status.REVOKED, s.createdAt(), s.createdBy(), at));
        List<String> revoked = new ArrayList<>();
        for (String serial : signerCertificates.getOrDefault(name, List.of())) {
            StoredCertificate c = certificates.get(serial);
            if (!c.revoked()) {
                certificates.put(serial, new StoredCertificate(c.issued(), at, reason));
                revoked.add(serial);
            }
        }
        audit.add(event);
        return revoked;
    }

    // ---- CaRegistry ----

    @Override
    public synchronized List<CaRecord> cas() {
        return List.copyOf(cas.values());
    }

    @Override
    public synchronized Optional<CaRecord> ca(String name) {
        return Optional.ofNullable(cas.get(name));
    }

    @Override
    public synchronized void saveCas(List<CaRecord> records, List<AuditEvent> events) {
        for (CaRecord r : records) {
            if (cas.containsKey(r.name())) {
                throw new PkiException(ErrorKind.CONFLICT, "a CA named '" + r.name() + "' exists");
            }
        }
        records.forEach(r -> cas.put(r.name(), r));
        audit.addAll(events);
    }

    @Override
    public synchronized void recordSubordinate(X509Certificate cert, String issuerName, AuditEvent event) {
        throw new UnsupportedOperationException("not kept in memory");
    }

    @Override
    public List<dev.fleetpki.core.Rollover> rollovers() {
        return List.of();
    }

    @Override
    public void saveRollover(dev.fleetpki.core.Rollover next, dev.fleetpki.core.Rollover.Step expected, List<CaRecord> newCas,
                             List<dev.fleetpki.core.Rollover.Signed> signed, AuditEvent event) {
        throw new UnsupportedOperationException("not kept in memory");
    }

    // ---- DeviceStore ----

    @Override
    public synchronized void addDevices(List<Device> list, List<dev.fleetpki.core.EnrollmentSecret> secrets, List<AuditEvent> events) {
        for (Device d : list) {
            if (devices.containsKey(d.id())) {
                throw new PkiException(ErrorKind.CONFLICT, "device '" + d.id() + "' exists");
            }
        }
        list.forEach(d -> devices.put(d.id(), d));
        audit.addAll(events);
    }

    @Override
    public Optional<Device> deviceNow(String id) {
        return device(id);
    }

    @Override
    public List<Device> devices(int limit) {
        return devices(null, null, null, limit);
    }

    @Override
    public synchronized List<Device> devices(String after, String prefix, Device.Status status, String model, int limit) {
        return devices.values().stream().sorted(Comparator.comparing(Device::id))
                .filter(d -> after == null || d.id().compareTo(after) > 0)
                .filter(d -> prefix == null || d.id().startsWith(prefix))
                .filter(d -> status == null || d.status() == status)
                .filter(d -> model == null || model.equals(d.model()))
                .limit(limit).toList();
    }

    @Override
    public synchronized void addDevice(Device d, AuditEvent event) {
        if (devices.putIfAbsent(d.id(), d) != null) {
            throw new PkiException(ErrorKind.CONFLICT, "device '" + d.id() + "' exists");
        }
        audit.add(event);
    }

    @Override
    public synchronized void setDeviceStatus(String id, Device.Status status, AuditEvent event) {
        Device d = devices.get(id);
        if (d == null) {
            throw new PkiException(ErrorKind.NOT_FOUND, "no device '" + id + "'");
        }
        if (d.status() == Device.Status.REVOKED) {
            throw new PkiException(ErrorKind.CONFLICT, "device '" + id + "' is revoked");
        }
        devices.put(id, new Device(d.id(), d.model(), d.tags(), status, d.keyLocation(), d.createdAt()));
        audit.add(event);
    }

    @Override
    public synchronized List<String> revokeDevice(String id, RevocationReason reason, Instant at, Actor actor) {
        setDeviceStatus(id, Device.Status.DISABLED, new AuditEvent(at, actor, AuditAction.DEVICE_REVOKE, "device:" + id, Map.of()));
        Device d = devices.get(id);
        devices.put(id, new Device(d.id(), d.model(), d.tags(), Device.Status.REVOKED, d.keyLocation(), d.createdAt()));
        List<String> out = new ArrayList<>();
        for (StoredCertificate c : List.copyOf(certificates.values())) {
            if (id.equals(c.issued().deviceId()) && c.revokedAt() == null) {
                certificates.put(c.issued().serialHex(), new StoredCertificate(c.issued(), at, reason));
                out.add(c.issued().serialHex());
            }
        }
        return out;
    }

    // ---- RequestStore ----

    @Override
    public synchronized void addRequest(EnrollmentRequest r, AuditEvent event) {
        if (pendingRequest(r.deviceId(), r.profile()).isPresent()) {
            throw new PkiException(ErrorKind.CONFLICT, "a request for device '" + r.deviceId() + "' and profile '" + r.profile() + "' is pending");
        }
        requests.put(r.id(), r);
        audit.add(event);
    }

    @Override
    public synchronized Optional<EnrollmentRequest> request(String id) {
        return Optional.ofNullable(requests.get(id));
    }

    @Override
    public synchronized List<EnrollmentRequest> requestsFor(String deviceId, String profile, String csrSha256) {
        return requests.values().stream().filter(r -> r.deviceId().equals(deviceId) && r.profile().equals(profile))
                .filter(r -> r.csrSha256().equals(csrSha256) || r.status() == EnrollmentRequest.Status.PENDING)
                .sorted(Comparator.comparing(EnrollmentRequest::createdAt).reversed()).toList();
    }

    @Override
    public synchronized Optional<EnrollmentRequest> pendingRequest(String deviceId, String profile) {
        return requests.values().stream().filter(r -> r.deviceId().equals(deviceId) && r.profile().equals(profile)
                && r.status() == EnrollmentRequest.Status.PENDING).findFirst();
    }

    @Override
    public synchronized List<EnrollmentRequest> requests(EnrollmentRequest.Status status, int limit) {
        return requests.values().stream().filter(r -> status == null || r.status() == status).limit(limit).toList();
    }

    @Override
    public synchronized long pendingCount() {
        return requests(EnrollmentRequest.Status.PENDING, Integer.MAX_VALUE).size();
    }

    @Override
    public synchronized void rejectRequest(String id, String reason, AuditEvent event) {
        EnrollmentRequest r = requests.get(id);
        if (r == null || r.status() != EnrollmentRequest.Status.PENDING) {
            throw new PkiException(ErrorKind.CONFLICT, "request " + id + " is not pending");
        }
        requests.put(id, new EnrollmentRequest(r.id(), r.deviceId(), r.profile(), r.csrDer(), r.csrSha256(), EnrollmentRequest.Status.REJECTED,
                r.credential(), r.requestedBy(), r.protocol(), r.createdAt(), event.at(), event.actor(), reason, null));
        audit.add(event);
    }

    // ---- CertificateStore ----

    @Override
    public synchronized Optional<StoredCertificate> certificate(String serialHex) {
        return Optional.ofNullable(certificates.get(serialHex));
    }

    @Override
    public synchronized List<StoredCertificate> certificates(String deviceId, Instant now, Instant notAfterBefore, int limit) {
        return certificates.values().stream().filter(c -> deviceId == null || deviceId.equals(c.issued().deviceId()))
                .filter(c -> notAfterBefore == null || c.issued().notAfter().isBefore(notAfterBefore) && !c.issued().notAfter().isBefore(now))
                .sorted(Comparator.comparing((StoredCertificate c) -> c.issued().notBefore()).reversed()).limit(limit).toList();
    }

    @Override
    public synchronized List<StoredCertificate> signedBy(String caName) {
        return certificates.values().stream().filter(c -> c.issued().caName().equals(caName))
                .sorted(Comparator.comparing((StoredCertificate c) -> c.issued().issuedAt()).thenComparing(c -> c.issued().serialHex())).toList();
    }

    @Override
    public synchronized List<Expiring> expiring(Instant now, List<java.time.Duration> windows) {
        Instant last = now.plus(windows.stream().max(java.time.Duration::compareTo).orElse(java.time.Duration.ZERO));
        var soon = certificates.values().stream().filter(c -> !c.revoked() && c.issued().notAfter().isAfter(now)
                && !c.issued().notAfter().isAfter(last)).toList();
        var out = new ArrayList<Expiring>();
        soon.stream().map(c -> List.of(c.issued().caName(), c.issued().profile())).distinct()
                .sorted(java.util.Comparator.comparing((List<String> k) -> k.get(0)).thenComparing(k -> k.get(1)))
                .forEach(k -> windows.forEach(w -> out.add(new Expiring(k.get(0), k.get(1), w, soon.stream()
                        .filter(c -> c.issued().caName().equals(k.get(0)) && c.issued().profile().equals(k.get(1))
                                && !c.issued().notAfter().isAfter(now.plus(w))).count()))));
        return out;
    }

    @Override
    public synchronized java.util.Map<Device.Status, Long> deviceCounts() {
        java.util.Map<Device.Status, Long> out = new java.util.EnumMap<>(Device.Status.class);
        devices.values().forEach(d -> out.merge(d.status(), 1L, Long::sum));
        return out;
    }

    @Override
    public synchronized long[] perDay(boolean issued, Instant from, int days) {
        long[] out = new long[days];
        for (var c : certificates.values()) {
            if (!issued && c.revokedAt() != null) {
                continue;
            }
            Instant t = issued ? c.issued().issuedAt() : c.issued().notAfter();
            long d = Math.floorDiv(t.toEpochMilli() - from.toEpochMilli(), 86_400_000L);
            if (d >= 0 && d < days) {
                out[(int) d]++;
            }
        }
        return out;
    }

    @Override
    public synchronized long certificateCount() {
        return certificates.size();
    }

    @Override
    public synchronized Optional<Instant> lastExpiry(String caName, String exceptSerialHex) {
        return certificates.values().stream().map(StoredCertificate::issued).filter(c -> c.caName().equals(caName))
                .filter(c -> !c.serialHex().equals(exceptSerialHex)).map(IssuedCertificate::notAfter)
                .max(Instant::compareTo);
    }

    @Override
    public void revoke(String serialHex, RevocationReason reason, Instant at, AuditEvent event) {
        revoke(serialHex, reason, at, null, event);
    }

    @Override
    public synchronized void revoke(String serialHex, RevocationReason reason, Instant at, Instant invalidSince, AuditEvent event) {
        StoredCertificate c = certificates.get(serialHex);
        if (c == null) {
            throw new PkiException(ErrorKind.NOT_FOUND, "no certificate " + serialHex);
        }
        if (c.revokedAt() != null) {
            throw new PkiException(ErrorKind.CONFLICT, "certificate " + serialHex + " is already revoked");
        }
        certificates.put(serialHex, new StoredCertificate(c.issued(), at, reason));
        audit.add(event);
    }
}
