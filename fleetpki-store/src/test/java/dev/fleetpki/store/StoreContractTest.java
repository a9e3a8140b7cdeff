package dev.fleetpki.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.CmpTransaction;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.SerialNumbers;
import dev.fleetpki.core.firmware.Signer;
import dev.fleetpki.kms.KeyAlgorithm;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The same contract on SQLite and PostgreSQL. */
class StoreContractTest {
    static final KeyPair KEY = KeyAlgorithm.EC_P256.generate();
    static final Actor OP = Actor.operator("test");

    @TempDir Path dir;
    String url;
    JdbcStore store;

    JdbcStore open(String kind) throws Exception {
        url = TestDatabases.create(kind, dir);
        store = new JdbcStore(Database.open(url, null, null, dir));
        return store;
    }

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
        }
        if (url != null) {
            TestDatabases.drop(url);
        }
    }

    static AuditEvent event(String action, String target) {
        return new AuditEvent(Instant.now(), OP, AuditAction.parse(action), target, Map.of("k", "v"));
    }

    static IssuedCertificate cert(String serialHex, String device) throws Exception {
        X500Name n = new X500Name("CN=" + device);
        X509Certificate c = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(n, new BigInteger(serialHex, 16),
                new Date(), new Date(System.currentTimeMillis() + 86_400_000L), n, KEY.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(KEY.getPrivate())));
        return new IssuedCertificate(serialHex, "issuing", device, "device", c, true, null, OP, Instant.now(), "test");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void devicesAreUniqueAndAFailedWriteLeavesNothing(String kind) throws Exception {
        JdbcStore s = open(kind);
        s.devices().addDevice(new Device("d1", "m", Map.of("site", "berlin"), Device.Status.ACTIVE, "software", Instant.now()), event("device.add", "device:d1"));
        assertThatThrownBy(() -> s.devices().addDevice(new Device("d1", null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:d1")))
                .isInstanceOf(PkiException.class).hasMessageContaining("already registered")
                .extracting(e -> ((PkiException) e).kind()).isEqualTo(ErrorKind.CONFLICT);
        assertThat(s.devices().devices(10)).hasSize(1);
        assertThat(s.device("d1").orElseThrow().tags()).containsEntry("site", "berlin");
        var v = s.auditLog().verifyAudit();
        assertThat(v.events()).as("the failed add wrote no audit row either").isEqualTo(1);
        assertThat(v.intact()).isTrue();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void serialsAreReservedOnceAndIssuedWithTheirAuditEvent(String kind) throws Exception {
        JdbcStore s = open(kind);
        s.devices().addDevice(new Device("d1", null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:d1"));
        String serial = s.reserveSerial();
        assertThat(s.reserveSerial()).isNotEqualTo(serial);
        assertThatThrownBy(() -> s.reserveSerials(List.of(SerialNumbers.hex(SerialNumbers.next()), serial)))
                .extracting(e -> ((PkiException) e).kind()).isEqualTo(ErrorKind.CONFLICT);
        assertThat(new BigInteger(serial, 16).bitLength()).as("127 random bits, top bit fixed").isEqualTo(127);
        s.commitIssued(cert(serial, "d1"), event("certificate.issue", "device:d1"));
        assertThat(s.certificates().certificate(serial).orElseThrow().issued().deviceId()).isEqualTo("d1");
        assertThatThrownBy(() -> s.commitIssued(cert(serial, "d1"), event("certificate.issue", "device:d1")))
                .extracting(e -> ((PkiException) e).kind()).isEqualTo(ErrorKind.CONFLICT);
        s.certificates().revoke(serial, RevocationReason.KEY_COMPROMISE, Instant.now(), event("certificate.revoke", "serial:" + serial));
        assertThat(s.certificates().certificate(serial).orElseThrow().reason()).isEqualTo(RevocationReason.KEY_COMPROMISE);
        assertThatThrownBy(() -> s.certificates().revoke(serial, RevocationReason.UNSPECIFIED, Instant.now(), event("certificate.revoke", "y")))
                .hasMessageContaining("already revoked");
        var v = s.auditLog().verifyAudit();
        assertThat(v.intact()).as(v.problems().toString()).isTrue();
        assertThat(v.events()).isEqualTo(3);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void concurrentIssuanceIsGroupCommittedAndOneBadWriteFailsAlone(String kind) throws Exception {
        JdbcStore s = open(kind);
        String taken = s.reserveSerial();
        int threads = 32;
        int each = 20;
        for (int t = 0; t < threads; t++) {
            s.devices().addDevice(new Device("d" + t, null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:d" + t));
        }
        AtomicInteger conflicts = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int tt = t;
            fs.add(pool.submit(() -> {
                for (int i = 0; i < each; i++) {
                    String serial = s.reserveSerial();
                    if (i == 7) {
                        try {
                            s.reserveSerials(List.of(taken)); // collides: must fail alone, in whatever group it lands
                        } catch (PkiException e) {
                            conflicts.incrementAndGet();
                        }
                    }
                    s.commitIssued(cert(serial, "d" + tt), event("certificate.issue", "device:d" + tt));
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();
        assertThat(conflicts.get()).isEqualTo(threads);
        assertThat(s.certificates().certificateCount()).isEqualTo(threads * each);
        assertThat(s.reservationCount()).isGreaterThanOrEqualTo(threads * each + 1);
        var v = s.auditLog().verifyAudit();
        assertThat(v.intact()).as(v.problems().toString()).isTrue();
        assertThat(v.events()).isEqualTo(threads * each + threads);
    }

    /**
     * The writer checks every device of a group in one query (SQLite: an IN list padded to a power
     * of two by repeating the last id; PostgreSQL: an array in the group's one round trip): 32
     * devices issuing at once form groups of several devices, and the one revoked by another node
     * must fail alone, whatever group it lands in. Fails on either dialect without its check.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aRevokedDeviceFailsAloneInAGroupOfManyDevices(String kind) throws Exception {
        JdbcStore s = open(kind);
        int threads = 32;
        int each = 10;
        for (int t = 0; t < threads; t++) {
            s.devices().addDevice(new Device("d" + t, null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:d" + t));
        }
        try (JdbcStore otherNode = new JdbcStore(Database.open(url, null, null, dir))) {
            otherNode.devices().revokeDevice("d5", RevocationReason.KEY_COMPROMISE, Instant.now(), OP);
        }
        AtomicInteger refused = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String device = "d" + t;
            fs.add(pool.submit(() -> {
                for (int i = 0; i < each; i++) {
                    try {
                        s.commitIssued(cert(s.reserveSerial(), device), event("certificate.issue", "device:" + device));
                    } catch (PkiException e) {
                        assertThat(e.kind()).isEqualTo(ErrorKind.DEVICE_NOT_ACTIVE);
                        assertThat(e.getMessage()).contains("device '" + device + "'");
                        refused.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();
        assertThat(refused.get()).as("every write for the revoked device, and only those").isEqualTo(each);
        assertThat(s.certificates().certificates("d5", Instant.now(), null, 100)).isEmpty();
        assertThat(s.certificates().certificateCount()).isEqualTo((threads - 1) * each);
        var v = s.auditLog().verifyAudit();
        assertThat(v.intact()).as(v.problems().toString()).isTrue();
        assertThat(v.events()).as("device adds, the revocation, the issues").isEqualTo(threads + 1 + (threads - 1) * each);
    }

    /**
     * A one-time secret buys one certificate when many secrets are used up in the same writer
     * groups: every device's secret is presented twice at once, one secret has expired and one
     * is presented for another device. Exactly one certificate per usable secret is stored, the
     * secret names it, and the refusals are the credential's.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aSecretBuysOneCertificateWhenManyAreUsedAtOnce(String kind) throws Exception {
        JdbcStore s = open(kind);
        int devices = 32;
        Instant now = Instant.now();
        for (int t = 0; t < devices; t++) {
            s.devices().addDevice(new Device("d" + t, null, Map.of(), Device.Status.ACTIVE, null, now), event("device.add", "device:d" + t));
            Instant expires = t == 3 ? now.minusSeconds(1) : now.plusSeconds(3600);
            s.credentials().addEnrollmentSecret(new dev.fleetpki.core.EnrollmentSecret("s" + t, "d" + t, "hash", now.minusSeconds(60), OP, expires, null, null),
                    event("device.secret", "device:d" + t));
        }
        record Use(String device, String secret) {}
        List<Use> uses = new ArrayList<>();
        for (int t = 0; t < devices; t++) {
            uses.add(new Use("d" + t, "s" + t));
            uses.add(new Use("d" + t, "s" + t));
        }
        uses.add(new Use("d8", "s9")); // device 9's secret for device 8
        AtomicInteger refused = new AtomicInteger();
        java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(uses.size());
        List<Future<?>> fs = new ArrayList<>();
        for (Use u : uses) {
            fs.add(pool.submit(() -> {
                IssuedCertificate c = cert(s.reserveSerial(), u.device());
                start.await();
                try {
                    s.commitIssued(c, event("certificate.issue", "device:" + u.device()), new dev.fleetpki.core.Authorization.SecretUse(u.secret()));
                } catch (PkiException e) {
                    assertThat(e.kind()).isEqualTo(ErrorKind.NOT_AUTHORIZED);
                    assertThat(e.getMessage()).contains("already used or has expired").contains("fleetpki device secret " + u.device());
                    refused.incrementAndGet();
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> f : fs) {
            f.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();
        assertThat(refused.get()).as("the second use of each secret, both uses of the expired one, the other device's").isEqualTo((devices - 1) + 2 + 1);
        assertThat(s.certificates().certificateCount()).isEqualTo(devices - 1);
        for (int t = 0; t < devices; t++) {
            var secret = s.credentials().enrollmentSecret("s" + t).orElseThrow();
            var issued = s.certificates().certificates("d" + t, Instant.now(), null, 10);
            if (t == 3) {
                assertThat(secret.usedAt()).isNull();
                assertThat(issued).isEmpty();
            } else {
                assertThat(issued).hasSize(1);
                assertThat(secret.usedSerial()).as("secret s" + t).isEqualTo(issued.getFirst().issued().serialHex());
            }
        }
        var v = s.auditLog().verifyAudit();
        assertThat(v.intact()).as(v.problems().toString()).isTrue();
        assertThat(v.events()).as("device adds, secrets, the issues").isEqualTo(2 * devices + devices - 1);
    }

    /**
     * Each store's writer chains audit events from the head it last wrote, without reading it
     * back. A second process on the same database (the CLI beside a server, a second node) moves
     * the head under it: the stale head must be noticed at commit and the write redone on the
     * stored head, never forking the chain or failing the caller.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void twoProcessesAppendToOneAuditChain(String kind) throws Exception {
        JdbcStore a = open(kind);
        try (JdbcStore b = new JdbcStore(Database.open(url, null, null, dir))) {
            // strictly interleaved: every write of each store finds its cached head stale
            for (int i = 0; i < 10; i++) {
                JdbcStore s = i % 2 == 0 ? a : b;
                s.devices().addDevice(new Device("i" + i, null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:i" + i));
            }
            // and concurrently, issuance on both at once
            for (int t = 0; t < 8; t++) {
                a.devices().addDevice(new Device("c" + t, null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:c" + t));
            }
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                JdbcStore s = t % 2 == 0 ? a : b;
                String device = "c" + t;
                fs.add(pool.submit(() -> {
                    for (int i = 0; i < 25; i++) {
                        s.commitIssued(cert(s.reserveSerial(), device), event("certificate.issue", "device:" + device));
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(120, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertThat(a.certificates().certificateCount()).isEqualTo(200);
            var v = b.auditLog().verifyAudit();
            assertThat(v.intact()).as(v.problems().toString()).isTrue();
            assertThat(v.events()).isEqualTo(10 + 8 + 200);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void auditVerifyFindsEditsDeletionsAndATruncatedTail(String kind) throws Exception {
        JdbcStore s = open(kind);
        for (int i = 1; i <= 5; i++) {
            s.devices().addDevice(new Device("d" + i, null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:d" + i));
        }
        assertThat(s.auditLog().verifyAudit().intact()).isTrue();
        exec(s, "UPDATE audit_event SET actor = 'operator:mallory' WHERE seq = 2");
        assertThat(s.auditLog().verifyAudit().problems()).containsExactly("event 2 was edited: its contents no longer match its hash");
        exec(s, "UPDATE audit_event SET actor = 'operator:test' WHERE seq = 2");
        exec(s, "DELETE FROM audit_event WHERE seq = 3");
        assertThat(s.auditLog().verifyAudit().problems()).contains("events 3 are missing (deleted)", "event 4 does not link to the event before it");
        exec(s, "DELETE FROM audit_event WHERE seq >= 4");
        assertThat(s.auditLog().verifyAudit().problems()).anyMatch(p -> p.startsWith("the newest events are missing"));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void revokingADeviceRevokesItsCertificatesInOneTransaction(String kind) throws Exception {
        JdbcStore s = open(kind);
        s.devices().addDevice(new Device("d1", null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:d1"));
        for (int i = 0; i < 3; i++) {
            String serial = s.reserveSerial();
            s.commitIssued(cert(serial, "d1"), event("certificate.issue", "device:d1"));
        }
        assertThat(s.devices().revokeDevice("d1", RevocationReason.CESSATION_OF_OPERATION, Instant.now(), OP)).hasSize(3);
        assertThat(s.device("d1").orElseThrow().status()).isEqualTo(Device.Status.REVOKED);
        assertThat(s.certificates().certificates("d1", Instant.now(), null, 10)).allMatch(c -> c.revoked());
        assertThatThrownBy(() -> s.devices().revokeDevice("nope", RevocationReason.UNSPECIFIED, Instant.now(), OP)).hasMessageContaining("not registered");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aDeviceRevokedElsewhereGetsNothingEvenIfCachedHereAsActive(String kind) throws Exception {
        JdbcStore s = open(kind);
        s.devices().addDevice(new Device("d1", null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:d1"));
        assertThat(s.device("d1").orElseThrow().status()).isEqualTo(Device.Status.ACTIVE); // now cached
        try (JdbcStore otherNode = new JdbcStore(Database.open(url, null, null, dir))) {
            otherNode.devices().revokeDevice("d1", RevocationReason.KEY_COMPROMISE, Instant.now(), OP);
        }
        assertThat(s.device("d1").orElseThrow().status()).as("the early check may still see the cached row").isEqualTo(Device.Status.ACTIVE);
        String serial = s.reserveSerial();
        assertThatThrownBy(() -> s.commitIssued(cert(serial, "d1"), event("certificate.issue", "device:d1")))
                .isInstanceOf(PkiException.class).hasMessageContaining("device 'd1' was disabled, revoked or removed");
        assertThat(s.certificates().certificateCount()).isZero();
        assertThat(s.auditLog().verifyAudit().events()).as("no issue event either").isEqualTo(2);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void devicesImportedTogetherAreReadByIssuanceAsStoredWithoutAQueryEach(String kind) throws Exception {
        JdbcStore s = open(kind);
        Instant created = Instant.parse("2026-12-06T10:15:30.123456789Z"); // finer than the store keeps
        List<Device> devices = List.of(new Device("b1", "esp32", Map.of("station", "line-1"), Device.Status.ACTIVE, null, created),
                new Device("b2", "esp32", Map.of(), Device.Status.ACTIVE, "software", created));
        s.devices().addDevices(devices, List.of(), List.of(event("device.add", "device:b1"), event("device.add", "device:b2")));
        Device stored = s.devices().deviceNow("b1").orElseThrow();
        exec(s, "DELETE FROM device");
        assertThat(s.device("b1")).as("kept from the import: the first issuance after a bulk import reads no row").contains(stored);
        assertThat(s.device("b2").orElseThrow().createdAt()).isEqualTo(Instant.parse("2026-12-06T10:15:30.123Z"));
        assertThat(s.devices().deviceNow("b2")).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void anEnrollmentSecretIsReadWithItsDevice(String kind) throws Exception {
        JdbcStore s = open(kind);
        Instant created = Instant.ofEpochMilli(System.currentTimeMillis());
        Device d1 = new Device("d1", "sensor-v2", Map.of("site", "berlin"), Device.Status.ACTIVE, "pkcs11", created);
        s.devices().addDevice(d1, event("device.add", "device:d1"));
        s.credentials().addEnrollmentSecret(new dev.fleetpki.core.EnrollmentSecret("s1", "d1", "hash", created, OP, created.plusSeconds(3600), null, null),
                event("device.secret", "device:d1"));
        var secret = s.credentials().enrollmentSecret("s1").orElseThrow();
        assertThat(secret.deviceId()).isEqualTo("d1");
        assertThat(secret.secretHash()).isEqualTo("hash");
        assertThat(secret.expiresAt()).isEqualTo(created.plusSeconds(3600));
        assertThat(secret.usedAt()).isNull();
        // the device came with the secret: another node's change is not read again within the cache's life
        try (JdbcStore otherNode = new JdbcStore(Database.open(url, null, null, dir))) {
            otherNode.devices().revokeDevice("d1", RevocationReason.KEY_COMPROMISE, Instant.now(), OP);
        }
        assertThat(s.device("d1")).as("every column of the device as read with the secret").contains(d1);
        assertThat(s.devices().deviceNow("d1").orElseThrow().status()).isEqualTo(Device.Status.REVOKED);
        assertThat(s.credentials().enrollmentSecret("nope")).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aSignerIsStoredWithItsCertificateOrNotAtAllAndRevokedWithAllItHeld(String kind) throws Exception {
        JdbcStore s = open(kind);
        String first = s.reserveSerial();
        s.commitIssued(cert(first, null), event("certificate.issue", "signer:release"),
                new Authorization.SignerEnrollment("release", Set.of("sensor-v2", "gw"), "file:signers/release.p8", false));
        Signer signer = s.signers().signer("release").orElseThrow();
        assertThat(signer.models()).containsExactlyInAnyOrder("sensor-v2", "gw");
        assertThat(signer.serial()).isEqualTo(first);
        assertThat(signer.active()).isTrue();
        // the same name again: refused, and its certificate is not stored either
        String dup = s.reserveSerial();
        assertThatThrownBy(() -> s.commitIssued(cert(dup, null), event("certificate.issue", "signer:release"),
                new Authorization.SignerEnrollment("release", Set.of("x"), "file:other.p8", false))).isInstanceOf(PkiException.class)
                .hasMessageContaining("already exists");
        assertThat(s.certificates().certificate(dup)).isEmpty();
        String second = s.reserveSerial();
        s.commitIssued(cert(second, null), event("certificate.issue", "signer:release"),
                new Authorization.SignerEnrollment("release", Set.of("sensor-v2", "gw"), "file:signers/release-2.p8", true));
        assertThat(s.signers().signer("release").orElseThrow().keyRef()).isEqualTo("file:signers/release-2.p8");
        assertThat(s.signers().signerCertificates("release")).extracting(c -> c.issued().serialHex()).containsExactlyInAnyOrder(first, second);
        long events = s.auditLog().verifyAudit().events();
        assertThat(s.signers().revokeSigner("release", RevocationReason.KEY_COMPROMISE, Instant.now(), null, event("signer.revoke", "signer:release")))
                .containsExactlyInAnyOrder(first, second);
        assertThat(s.signers().signer("release").orElseThrow().active()).isFalse();
        assertThat(s.certificates().certificate(first).orElseThrow().revoked()).isTrue();
        assertThat(s.auditLog().verifyAudit().events()).isEqualTo(events + 1);
        assertThatThrownBy(() -> s.signers().revokeSigner("release", RevocationReason.KEY_COMPROMISE, Instant.now(), null,
                event("signer.revoke", "signer:release"))).hasMessageContaining("already revoked");
        assertThatThrownBy(() -> s.signers().revokeSigner("nobody", RevocationReason.KEY_COMPROMISE, Instant.now(), null,
                event("signer.revoke", "signer:nobody"))).hasMessageContaining("no signer named 'nobody'");
        // a revoked signer is not rotated
        String third = s.reserveSerial();
        assertThatThrownBy(() -> s.commitIssued(cert(third, null), event("certificate.issue", "signer:release"),
                new Authorization.SignerEnrollment("release", Set.of("gw"), "file:x.p8", true))).hasMessageContaining("is not active");
        assertThat(s.certificates().certificate(third)).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void cmpTransactionsAreNeverReusedAndMoveOnOnlyFromTheStateTheyWereReadIn(String kind) throws Exception {
        JdbcStore s = open(kind);
        Instant t0 = Instant.parse("2026-12-06T10:00:00Z");
        CmpTransaction open = new CmpTransaction("0a0b", "d1", "secret:abc", 1, CmpTransaction.State.OPEN, "n1", null, null, t0, null);
        s.cmp().beginCmpTransaction(open);
        assertThatThrownBy(() -> s.cmp().beginCmpTransaction(open)).isInstanceOf(PkiException.class).hasMessageContaining("was seen before")
                .extracting(e -> ((PkiException) e).kind()).isEqualTo(ErrorKind.CONFLICT);
        CmpTransaction issued = open.with(CmpTransaction.State.ISSUED, "n2", null, "01ab", t0.plusSeconds(300));
        assertThat(s.cmp().updateCmpTransaction(open, issued)).isTrue();
        assertThat(s.cmp().updateCmpTransaction(open, issued)).as("a second move from OPEN finds it ISSUED").isFalse();
        assertThat(s.cmp().cmpTransaction("0a0b")).contains(issued);
        assertThat(s.cmp().unconfirmedCmpTransactions(t0.plusSeconds(299), 10)).isEmpty();
        assertThat(s.cmp().unconfirmedCmpTransactions(t0.plusSeconds(301), 10)).containsExactly(issued);
        assertThat(s.cmp().updateCmpTransaction(issued, issued.with(CmpTransaction.State.CONFIRMED, "n3", null, "01ab", null))).isTrue();
        assertThat(s.cmp().unconfirmedCmpTransactions(t0.plusSeconds(301), 10)).isEmpty();
        assertThat(s.cmp().cmpTransaction("ffff")).isEmpty();

        // nonces: seen once per scope, forgotten after a while
        assertThat(s.nonces().firstSeen("scep", "aa", t0)).isTrue();
        assertThat(s.nonces().firstSeen("scep", "aa", t0.plusSeconds(1))).as("a replay").isFalse();
        assertThat(s.nonces().firstSeen("other", "aa", t0)).as("another scope").isTrue();
        assertThat(s.nonces().forgetNonces(t0.plusSeconds(1))).isEqualTo(2);
        assertThat(s.nonces().firstSeen("scep", "aa", t0.plusSeconds(2))).as("forgotten").isTrue();
    }

    private static void exec(JdbcStore s, String sql) throws Exception {
        try (Connection c = s.database().read(); Statement st = c.createStatement()) {
            st.executeUpdate(sql);
            if (!c.getAutoCommit()) {
                c.commit();
            }
        }
    }

    /**
     * Every PostgreSQL write transaction takes the audit head's row lock before it writes anything
     * else, so two nodes cannot deadlock. Another node's transaction holds the head (a raw session
     * here); this node revokes a certificate, which bumps the revocation epoch: the revocation must
     * wait for the head before it touches the epoch row, so the other node can still update the
     * epoch at once. Before the fix the revocation wrote the epoch first and then waited for the head,
     * and the other node's update waited for it: a deadlock (seen here as the lock timeout, shorter
     * than PostgreSQL's deadlock_timeout).
     */
    @org.junit.jupiter.api.Test
    void aWriteTakesTheAuditHeadBeforeAnyOtherRowSoNodesCannotDeadlock() throws Exception {
        JdbcStore s = open("postgresql");
        s.devices().addDevice(new Device("d1", null, Map.of(), Device.Status.ACTIVE, null, Instant.now()), event("device.add", "device:d1"));
        String serial = s.reserveSerial();
        s.commitIssued(cert(serial, "d1"), event("certificate.issue", "device:d1")); // this node now chains from the head it remembers
        try (java.sql.Connection other = java.sql.DriverManager.getConnection(url)) {
            other.setAutoCommit(false);
            try (var st = other.createStatement()) {
                st.execute("SET lock_timeout = '500ms'");
                st.executeQuery("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE").close(); // the other node holds the head
            }
            Thread revoking = Thread.ofPlatform().start(() ->
                    s.certificates().revoke(serial, RevocationReason.SUPERSEDED, Instant.now(), event("certificate.revoke", "serial:" + serial)));
            Thread.sleep(1_000); // the revocation now waits for the head
            try (var st = other.createStatement()) {
                st.executeUpdate("UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1"); // a lock timeout if the revocation holds the row
            }
            other.commit();
            revoking.join(30_000);
            assertThat(revoking.isAlive()).isFalse();
        }
        assertThat(s.certificates().certificate(serial).orElseThrow().reason()).isEqualTo(RevocationReason.SUPERSEDED);
        assertThat(s.auditLog().verifyAudit().intact()).isTrue();
    }
}
