package dev.fleetpki.core;

import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.store.CertificateStore;
import dev.fleetpki.core.store.DeviceStore;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;

/**
 * {@code fleetpki factory sync}: brings an offline station's journal into the central store
 * (docs/factory.md, "Offline stations").
 *
 * <p>The export must be signed by a station CA's key whose certificate this store's root signed
 * and that is not revoked here; its journal must hold what earlier syncs took from that CA
 * unchanged (same count at least, same hash at that count). Each new entry is then one of:
 * <ul>
 * <li><b>taken</b>: its certificate checked (signed by the station CA, its serial and device id
 *     those of the entry, the station's model, within the quota) and stored with an audit event
 *     ({@code certificate.issue}, protocol {@code factory-sync}), the device registered if missing;</li>
 * <li><b>already here</b>: the same certificate is in the store (synced through another route);</li>
 * <li><b>conflict</b>: not taken, reported: a different certificate with its serial, a device of
 *     another model or no longer active here, a key already certified for another device in the
 *     journal, an entry past the quota, or a certificate that does not check.</li>
 * </ul>
 * Everything taken, the station CA (when new here) and the new sync state are stored in one
 * transaction; rerunning a sync takes nothing twice.
 */
public final class StationSync {
    /** The outcome, each conflict as "entry N (device ID, serial S): why". */
    public record Result(String station, String ca, long entries, long previouslySynced, List<String> taken, int alreadyHere,
                         List<String> conflicts, Instant at) {
        public String summary() {
            return "Station '" + station + "' (CA '" + ca + "'): journal of " + entries + " entries, " + previouslySynced + " synced before; taken "
                    + taken.size() + ", already here " + alreadyHere + ", conflicts " + conflicts.size();
        }
    }

    private final CaRegistry cas;
    private final StationSyncStore syncs;
    private final CertificateStore certificates;
    private final DeviceStore devices;

    public StationSync(CaRegistry cas, StationSyncStore syncs, CertificateStore certificates, DeviceStore devices) {
        this.cas = cas;
        this.syncs = syncs;
        this.certificates = certificates;
        this.devices = devices;
    }

    public Result run(byte[] exportDer, Actor actor, Instant now) {
        StationJournal.Export ex = StationJournal.open(exportDer);
        X509Certificate caCert = ex.caCertificate();
        StationPolicy policy = StationPolicy.of(caCert).orElseThrow(() -> new PkiException(ErrorKind.NOT_AUTHORIZED,
                "the export is signed by '" + caCert.getSubjectX500Principal().getName() + "', which is not an offline station's CA "
                        + "(its certificate carries no station policy); only station CAs certified with 'fleetpki station certify' sync"));
        CaRecord root = rootOf(caCert);
        Optional<StoredCertificate> recorded = certificates.certificate(SerialNumbers.hex(caCert.getSerialNumber()));
        if (recorded.isPresent() && recorded.get().revoked() && Arrays.equals(recorded.get().issued().der(), der(caCert))) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "station CA '" + ex.ca() + "' (serial " + SerialNumbers.hex(caCert.getSerialNumber())
                    + ") is revoked here; nothing of its journal is taken");
        }
        String caSha = Fingerprints.sha256(der(caCert));
        // the CA as this store knows it: by its certificate, else by the export's name, which must be free
        String caName = null;
        CaRecord newCa = null;
        for (CaRecord c : cas.cas()) {
            if (c.certificate().equals(caCert)) {
                caName = c.name();
            }
        }
        if (caName == null) {
            Optional<CaRecord> named = cas.ca(ex.ca());
            if (named.isPresent()) {
                throw new PkiException(ErrorKind.CONFLICT, "this store has a CA named '" + ex.ca() + "' with another certificate; the station CA "
                        + "needs a name of its own: rename it in the station's fleetpki.yaml before its first sync");
            }
            caName = ex.ca();
            newCa = new CaRecord(caName, CaRole.STATION, caCert, null, root.name(), now);
        }
        Optional<StationSyncStore.SyncState> prev = syncs.syncState(caName);
        long before = prev.map(StationSyncStore.SyncState::entries).orElse(0L);
        List<StationJournal.Entry> entries = ex.entries();
        if (prev.isPresent()) {
            if (!prev.get().caCertSha256().equals(caSha)) {
                throw new PkiException(ErrorKind.CONFLICT, "CA '" + caName + "' was synced with another certificate before");
            }
            if (entries.size() < before) {
                throw new PkiException(ErrorKind.CONFLICT, "the journal holds " + entries.size() + " entries, fewer than the " + before
                        + " synced before: entries were removed on the station; nothing is taken");
            }
            if (!entries.get((int) before - 1).hash().equals(prev.get().headHash())) {
                throw new PkiException(ErrorKind.CONFLICT, "entry " + before + " of the journal differs from the one synced before: the station's "
                        + "journal was rewritten; nothing is taken");
            }
        }
        List<IssuedCertificate> take = new ArrayList<>();
        List<AuditEvent> events = new ArrayList<>();
        List<Device> newDevices = new ArrayList<>();
        Map<String, Device> seenDevices = new HashMap<>();
        Map<String, String> keys = new HashMap<>();
        List<String> taken = new ArrayList<>();
        List<String> conflicts = new ArrayList<>();
        int alreadyHere = 0;
        Actor stationActor = Actor.station(ex.station());
        for (StationJournal.Entry e : entries.subList((int) before, entries.size())) {
            String where = "entry " + e.seq() + " (device " + e.deviceId() + ", serial " + e.serial() + "): ";
            X509Certificate c;
            try {
                c = check(e, caCert, policy);
            } catch (PkiException bad) {
                conflicts.add(where + bad.detail());
                continue;
            }
            Optional<StoredCertificate> here = certificates.certificate(e.serial());
            if (here.isPresent()) {
                if (Arrays.equals(here.get().issued().der(), e.der())) {
                    alreadyHere++;
                } else {
                    conflicts.add(where + "another certificate with this serial is in the store (issued by CA '" + here.get().issued().caName() + "')");
                }
                continue;
            }
            if (c.getNotBefore().toInstant().isAfter(policy.issueUntil())) {
                conflicts.add(where + "signed after the station CA's production run ended (" + policy.issueUntil() + "); not taken: "
                        + "revoke the station CA (fleetpki revoke " + SerialNumbers.hex(caCert.getSerialNumber()) + ") and find out how it signed it");
                continue;
            }
            if (e.seq() > policy.quota()) {
                conflicts.add(where + "past the station CA's quota of " + policy.quota() + " certificates; not taken: revoke the station CA ("
                        + "fleetpki revoke " + SerialNumbers.hex(caCert.getSerialNumber()) + ") and find out how it signed more");
                continue;
            }
            String keyId = Fingerprints.sha256(c.getPublicKey().getEncoded());
            String other = keys.putIfAbsent(keyId, e.deviceId());
            if (other != null && !other.equals(e.deviceId())) {
                conflicts.add(where + "its key is also certified for device '" + other + "' in this journal: one key on two devices (a cloned part?)");
                continue;
            }
            Device d = seenDevices.computeIfAbsent(e.deviceId(), id -> devices.deviceNow(id).orElse(null));
            if (d == null) {
                d = new Device(e.deviceId(), e.model(), Map.of("station", ex.station()), Device.Status.ACTIVE, null, now);
                seenDevices.put(d.id(), d);
                newDevices.add(d);
                events.add(new AuditEvent(now, actor, AuditAction.DEVICE_ADD, "device:" + d.id(), Map.of("model", d.model(), "station", ex.station())));
            } else if (!d.model().equals(e.model())) {
                conflicts.add(where + "device '" + d.id() + "' is model '" + d.model() + "' here, '" + e.model() + "' on the station");
                continue;
            } else if (d.status() != Device.Status.ACTIVE) {
                conflicts.add(where + "device '" + d.id() + "' is " + d.status().name().toLowerCase(java.util.Locale.ROOT)
                        + " here; revoke this certificate if it is still in the field");
                continue;
            }
            Instant issuedAt = Instant.ofEpochMilli(e.issuedAt());
            take.add(new IssuedCertificate(e.serial(), caName, e.deviceId(), e.profile(), e.der(), c.getNotBefore().toInstant(),
                    c.getNotAfter().toInstant(), c.getSubjectX500Principal().getName(), e.proofOfPossession(), null, stationActor, issuedAt,
                    "factory-sync"));
            Map<String, String> detail = new LinkedHashMap<>();
            detail.put("serial", e.serial());
            detail.put("ca", caName);
            detail.put("profile", e.profile());
            detail.put("protocol", "factory-sync");
            detail.put("subject", c.getSubjectX500Principal().getName());
            detail.put("notAfter", c.getNotAfter().toInstant().toString());
            detail.put("proofOfPossession", String.valueOf(e.proofOfPossession()));
            detail.put("station", ex.station());
            detail.put("issuedAt", issuedAt.toString());
            events.add(new AuditEvent(now, stationActor, AuditAction.CERTIFICATE_ISSUE, "device:" + e.deviceId(), detail));
            taken.add(e.deviceId());
        }
        Result result = new Result(ex.station(), caName, entries.size(), before, taken, alreadyHere, conflicts, now);
        if (entries.size() == before && newCa == null) {
            return result; // nothing new: nothing to store
        }
        Map<String, String> detail = new LinkedHashMap<>();
        detail.put("station", ex.station());
        detail.put("ca", caName);
        detail.put("entries", String.valueOf(entries.size()));
        detail.put("taken", String.valueOf(taken.size()));
        detail.put("alreadyHere", String.valueOf(alreadyHere));
        detail.put("conflicts", String.valueOf(conflicts.size()));
        if (!conflicts.isEmpty()) {
            detail.put("firstConflict", conflicts.getFirst());
        }
        events.add(new AuditEvent(now, actor, AuditAction.FACTORY_SYNC, "ca:" + caName, detail));
        String head = entries.isEmpty() ? "0".repeat(64) : entries.getLast().hash();
        syncs.commitSync(newCa, newDevices, take, events, new StationSyncStore.SyncState(caName, ex.station(), caSha, entries.size(), head, now),
                before);
        return result;
    }

    /** The root of this store that signed the station CA's certificate. */
    private CaRecord rootOf(X509Certificate caCert) {
        for (CaRecord r : cas.cas()) {
            if (r.role() == CaRole.ROOT && r.certificate().getSubjectX500Principal().equals(caCert.getIssuerX500Principal())) {
                try {
                    caCert.verify(r.certificate().getPublicKey());
                    return r;
                } catch (java.security.GeneralSecurityException e) {
                    // another root with the same name: try the next
                }
            }
        }
        throw new PkiException(ErrorKind.NOT_AUTHORIZED, "station CA '" + caCert.getSubjectX500Principal().getName() + "' was not certified by "
                + "a root of this store; sync it into the fleet whose root certified it");
    }

    /** The entry's certificate, checked: signed by the station CA, the entry's serial and device, the station's model, in its name space. */
    private static X509Certificate check(StationJournal.Entry e, X509Certificate caCert, StationPolicy policy) {
        X509Certificate c;
        try {
            c = (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(new java.io.ByteArrayInputStream(e.der()));
            c.verify(caCert.getPublicKey());
        } catch (java.security.GeneralSecurityException bad) {
            throw new PkiException(ErrorKind.BAD_SIGNATURE, "its certificate is not one the station CA signed (" + bad.getMessage() + ")");
        }
        if (!SerialNumbers.hex(c.getSerialNumber()).equals(e.serial())) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "its certificate has serial " + SerialNumbers.hex(c.getSerialNumber()));
        }
        if (!policy.fleet().equals(e.model())) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "model '" + e.model() + "' is not the station CA's fleet '" + policy.fleet() + "'");
        }
        X500Name subject = X500Name.getInstance(c.getSubjectX500Principal().getEncoded());
        RDN[] cn = subject.getRDNs(BCStyle.CN);
        if (cn.length != 1 || !IETFUtils.valueToString(cn[0].getFirst().getValue()).equals(e.deviceId())) {
            throw new PkiException(ErrorKind.NAME_MISMATCH, "its certificate's CN is not the device id");
        }
        RDN[] ou = subject.getRDNs(BCStyle.OU);
        if (ou.length != 1 || !IETFUtils.valueToString(ou[0].getFirst().getValue()).equals(policy.fleet())) {
            throw new PkiException(ErrorKind.NAME_MISMATCH, "its certificate's subject is outside the station's name space (OU=" + policy.fleet() + ")");
        }
        return c;
    }

    private static byte[] der(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }
}
