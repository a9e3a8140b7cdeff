package dev.fleetpki.core.revocation;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.Ceremony;
import dev.fleetpki.core.CertificateAuthority;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.OcspSigner;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.StoredCaDirectory;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.core.revocation.RevocationLedger.CertStatus;
import dev.fleetpki.core.revocation.RevocationLedger.OcspRow;
import java.io.IOException;
import java.math.BigInteger;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.ocsp.CertID;
import org.bouncycastle.asn1.ocsp.OCSPObjectIdentifiers;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.ocsp.CertificateID;
import org.bouncycastle.cert.ocsp.OCSPReq;
import org.bouncycastle.cert.ocsp.Req;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * OCSP answers: pre-signed for every live certificate (periodically, for the certificates this
 * process issues within {@link #ISSUED_PRESIGN_DELAY}, and again at once after a revocation), kept in
 * memory while the store's revocation epoch says they still hold, and signed live only for nonces,
 * unusual hash algorithms and misses (never-issued serials within a budget). Delegated OCSP
 * signers are certified and replaced before they end. A read-only responder (a replica) never
 * writes and signs live where no fresh pre-signed answer is stored.
 */
public final class OcspResponder {
    private static final Logger LOG = LoggerFactory.getLogger(OcspResponder.class);

    private final FleetConfig config;
    private final CaRegistry store;
    private final RevocationLedger rs;
    private final StoredCaDirectory cas;
    private final Clock clock;
    private final boolean writable;
    private final Map<String, OcspSigner> signers = new ConcurrentHashMap<>();
    /** The CAs answered for; read again (at most every ISSUERS_RECHECK) when a request or a signer names one not in it. */
    private volatile List<OcspSigner.Issuer> issuers;
    private volatile long issuersReadAt;
    private static final long ISSUERS_RECHECK_NANOS = java.time.Duration.ofSeconds(5).toNanos();
    private final ConcurrentLinkedQueue<OcspRow> toSave = new ConcurrentLinkedQueue<>();
    private final ArrayBlockingQueue<CertStatus> issued = new ArrayBlockingQueue<>(ISSUED_QUEUE);
    private final AtomicBoolean presignRunning = new AtomicBoolean();
    private final OcspCache cache;
    /** Live signatures of answers for never-issued serials, per second (revocation.ocsp.unknownPerSecond). */
    private final RateBudget unknownBudget;
    private long epochSeen;
    private boolean epochFailing;
    private volatile RevocationObserver metrics;

    OcspResponder(FleetConfig config, CaRegistry store, RevocationLedger rs, StoredCaDirectory cas, Clock clock, boolean writable) {
        this.config = config;
        this.store = store;
        this.rs = rs;
        this.cas = cas;
        this.clock = clock;
        this.writable = writable;
        this.cache = new OcspCache(config.revocation().ocspCacheEntries());
        this.unknownBudget = new RateBudget(config.revocation().ocspUnknownPerSecond());
        this.issuers = readIssuers();
        this.issuersReadAt = System.nanoTime();
    }

    private List<OcspSigner.Issuer> readIssuers() {
        List<OcspSigner.Issuer> out = new ArrayList<>();
        for (CaRecord ca : store.cas()) {
            if (ca.role() == CaRole.ISSUING || ca.role() == CaRole.CODE_SIGNING) {
                out.add(OcspSigner.Issuer.of(ca.name(), ca.certificate()));
            }
        }
        return List.copyOf(out);
    }

    /**
     * Reads the CAs again unless that was done within the last few seconds: a CA certified while the
     * server runs (a rollover's successor, made by {@code fleetpki ca rollover}) is answered for
     * without a restart, and requests naming unknown issuers cost at most one read per interval.
     *
     * @return whether they were read
     */
    private boolean rereadIssuers() {
        long now = System.nanoTime();
        if (now - issuersReadAt < ISSUERS_RECHECK_NANOS) {
            return false;
        }
        issuersReadAt = now;
        issuers = readIssuers();
        return true;
    }

    void observe(RevocationObserver m) {
        this.metrics = m;
        m.watchPresignQueue(issued::size);
    }

    /** Queues a certificate this process issued for pre-signing (a full queue leaves it to the periodic pass). */
    void queueIssued(IssuedCertificate c) {
        issued.offer(new CertStatus(c.serialHex(), c.caName(), c.notAfter().toEpochMilli(), 0, null));
    }

    /** OCSP requests larger than this are refused; a normal one is about 100 bytes. */
    public static final int MAX_OCSP_REQUEST = 8 * 1024;

    private static final int PRESIGN_PAGE = 1000;

    /**
     * Certificates this process issued whose answers are not yet pre-signed, at most this many; one
     * issued while it is full is left to the next periodic pass (and answered live until then).
     */
    static final int ISSUED_QUEUE = 100_000;

    /**
     * The result of one OCSP request: the DER response, and whether it came pre-signed (for caching
     * headers and metrics). A pre-signed one carries its HTTP entity tag (the first 8 bytes of its
     * SHA-256, in hex), computed once here so that serving it from memory costs no hashing.
     */
    public record OcspAnswer(byte[] der, boolean presigned, Instant thisUpdate, Instant nextUpdate, String etag) {
        public OcspAnswer(byte[] der, boolean presigned, Instant thisUpdate, Instant nextUpdate) {
            this(der, presigned, thisUpdate, nextUpdate, presigned ? Fingerprints.sha256(der).substring(0, 16) : null);
        }
    }

    /**
     * Answers one DER OCSP request. Never throws for bad input: garbage is malformedRequest, a CA
     * this responder does not serve is unauthorized, a serial it never issued is "unknown".
     */
    public OcspAnswer answer(byte[] request) {
        long nowMillis = clock.millis();
        OcspCache.Entry hit = cache.get(request, nowMillis);
        if (hit != null) {
            count(hit.status(), true);
            return hit.answer();
        }
        long generation = cache.generation(); // before the store is read: see OcspCache
        CertificateID[] list;
        Extension nonce;
        try {
            if (request.length == 0 || request.length > MAX_OCSP_REQUEST) {
                return error(OcspSigner.MALFORMED_REQUEST);
            }
            OCSPReq req = new OCSPReq(request);
            if (req.getEncoded().length != request.length) {
                return error(OcspSigner.MALFORMED_REQUEST); // trailing bytes after the request
            }
            // BouncyCastle parses the request list, each CertID and the extensions when asked: all of it here, so that a
            // malformed part is a malformedRequest answer (found by fuzzing: a CertID whose hashAlgorithm is a tagged object
            // threw IllegalArgumentException out of getRequestList)
            Req[] reqs = req.getRequestList();
            list = new CertificateID[reqs.length];
            for (int i = 0; i < reqs.length; i++) {
                list[i] = reqs[i].getCertID();
                list[i].getSerialNumber();
            }
            nonce = req.getExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce);
        } catch (IOException | RuntimeException e) {
            return error(OcspSigner.MALFORMED_REQUEST);
        }
        if (list.length == 0 || list.length > 16) {
            return error(OcspSigner.MALFORMED_REQUEST);
        }
        OcspSigner.Issuer issuer = null;
        for (CertificateID r : list) {
            CertID id = r.toASN1Primitive();
            OcspSigner.Issuer found = issuerOf(id);
            if (found == null || (issuer != null && found != issuer)) {
                count("unauthorized", false);
                return error(OcspSigner.UNAUTHORIZED);
            }
            issuer = found;
        }
        if (nonce != null) {
            int length = nonceLength(nonce);
            if (length < 1) {
                return error(OcspSigner.MALFORMED_REQUEST); // RFC 9654 2.1: a nonce of at least one octet, as an OCTET STRING
            }
            if (length > MAX_NONCE) {
                nonce = null; // answered without the nonce, as RFC 8954 2.1 allows (a pre-signed answer: no live signature)
            }
        }
        Instant now = Instant.ofEpochMilli(nowMillis);
        // the RFC 5019 question: one certificate, no nonce; with a SHA-1 CertID it is what pre-signed answers answer
        boolean plain = list.length == 1 && nonce == null;
        boolean sha1 = plain && OcspSigner.isSha1(list[0].toASN1Primitive());
        if (sha1) {
            String serial = list[0].getSerialNumber().toString(16);
            Optional<OcspRow> row = rs.ocspResponse(serial);
            if (row.isPresent() && row.get().ca().equals(issuer.name()) && row.get().nextUpdate() > nowMillis) {
                OcspRow r = row.get();
                OcspAnswer a = new OcspAnswer(r.der(), true, Instant.ofEpochMilli(r.thisUpdate()), Instant.ofEpochMilli(r.nextUpdate()));
                cache.put(request, new OcspCache.Entry(a, r.status(), useUntil(r.nextUpdate())), generation, nowMillis);
                count(r.status(), true);
                return a;
            }
        }
        OcspSigner signer = signer(issuer.name());
        if (signer == null) {
            count("unauthorized", false);
            return error(OcspSigner.UNAUTHORIZED);
        }
        Instant thisUpdate = now.truncatedTo(ChronoUnit.SECONDS);
        Instant next = thisUpdate.plus(config.revocation().ocspValidity());
        List<OcspSigner.Answer> answers = new ArrayList<>();
        CertStatus single = null;
        String label = "good";
        boolean anyUnknown = false;
        for (CertificateID id : list) {
            CertStatus st = rs.certStatus(id.getSerialNumber().toString(16)).filter(c -> c.ca().equals(signer.issuer().name())).orElse(null);
            OcspSigner.Status status = status(st);
            label = st == null ? "unknown" : st.revoked() ? "revoked" : "good";
            anyUnknown |= st == null;
            answers.add(new OcspSigner.Answer(id, status, thisUpdate, next)); // RFC 5019 2.2.4: every answer has a nextUpdate, unknown ones too
            single = st;
        }
        if (anyUnknown && !unknownBudget.take(nowMillis)) {
            count("try-later", false);
            return error(OcspSigner.TRY_LATER);
        }
        byte[] der;
        try {
            der = signer.sign(answers, OcspSigner.isNonce(nonce) ? nonce : null, now);
        } catch (RuntimeException e) {
            LOG.error("OCSP signing failed", e);
            return error(OcspSigner.INTERNAL_ERROR);
        }
        count(label, false);
        if (plain && single != null && single.notAfter() >= nowMillis) { // a live certificate's answer any later asker may reuse
            if (writable && sha1) { // keep it in the store for the next request on any node
                toSave.add(new OcspRow(single.serialHex(), single.ca(), label, thisUpdate.toEpochMilli(), next.toEpochMilli(), der));
            }
            cache.put(request, new OcspCache.Entry(new OcspAnswer(der, true, thisUpdate, next), label, useUntil(next.toEpochMilli())), generation, nowMillis);
        }
        return new OcspAnswer(der, false, thisUpdate, plain && single != null ? next : null);
    }

    /** RFC 8954 2.1: the longest nonce echoed in a signed answer; a longer one is answered without it. */
    static final int MAX_NONCE = 32;

    /**
     * The length of the nonce: of the OCTET STRING extnValue holds (RFC 9654 2.1), or of extnValue's
     * raw contents for the older clients that put the nonce there without that wrapping (the
     * answer echoes the extension as it came either way).
     */
    static int nonceLength(Extension nonce) {
        byte[] raw = nonce.getExtnValue().getOctets();
        try {
            if (ASN1Primitive.fromByteArray(raw) instanceof ASN1OctetString inner) {
                return inner.getOctets().length;
            }
        } catch (IOException | RuntimeException e) {
            // not DER: raw nonce bytes
        }
        return raw.length;
    }

    /** How many OCSP answers this responder keeps in memory now. */
    public int keptAnswers() {
        return cache.size();
    }

    /** A kept answer is served until half of refreshAhead is left of it; by then the pre-signing pass has stored a newer one. */
    private long useUntil(long nextUpdate) {
        return nextUpdate - config.revocation().ocspRefreshAhead().toMillis() / 2;
    }

    private OcspSigner.Issuer issuerOf(CertID id) {
        for (int pass = 0; pass < 2; pass++) {
            for (OcspSigner.Issuer i : issuers) {
                if (i.matches(id)) {
                    return i;
                }
            }
            if (pass == 0 && !rereadIssuers()) {
                break;
            }
        }
        return null;
    }

    private static OcspSigner.Status status(CertStatus st) {
        if (st == null) {
            return OcspSigner.UNKNOWN;
        }
        return st.revoked() ? new OcspSigner.Status.Revoked(Instant.ofEpochMilli(st.revokedAt()), st.reason()) : OcspSigner.GOOD;
    }

    private static OcspAnswer error(int status) {
        return new OcspAnswer(OcspSigner.error(status), false, null, null);
    }

    /**
     * The signer for a CA's certificates: the delegated OCSP signer that CA certified (ceremony.ocsp),
     * else the CA's own key; null when neither key can be opened here.
     */
    OcspSigner signer(String caName) {
        OcspSigner s = signers.get(caName);
        if (s != null) {
            return s;
        }
        OcspSigner.Issuer issuer = issuers.stream().filter(i -> i.name().equals(caName)).findFirst().orElse(null);
        if (issuer == null && rereadIssuers()) {
            issuer = issuers.stream().filter(i -> i.name().equals(caName)).findFirst().orElse(null);
        }
        if (issuer == null) {
            return null;
        }
        for (CaRecord d : delegatedSigners(caName, clock.instant())) { // newest first; one whose key this node cannot open is passed over
            try {
                CertificateAuthority signer = cas.get(d.name());
                s = new OcspSigner(issuer, signer.certificate(), signer.key());
                break;
            } catch (PkiException e) {
                LOG.warn("cannot sign OCSP answers with signer '{}' of CA '{}': {}", d.name(), caName, e.detail());
            }
        }
        if (s == null) {
            try {
                CertificateAuthority ca = cas.get(caName);
                s = new OcspSigner(issuer, ca.certificate(), ca.key());
            } catch (PkiException e) {
                LOG.warn("cannot sign OCSP answers for CA '{}': {}", caName, e.detail());
                return null;
            }
        }
        signers.put(caName, s);
        return s;
    }

    /** A CA's unrevoked delegated OCSP signers that are valid now, the one that ends last first. */
    private List<CaRecord> delegatedSigners(String caName, Instant now) {
        return store.cas().stream()
                .filter(c -> c.role() == CaRole.OCSP && caName.equals(c.parent()))
                .filter(c -> !c.certificate().getNotBefore().toInstant().isAfter(now) && c.certificate().getNotAfter().toInstant().isAfter(now))
                .filter(c -> rs.caRevokedAt(c.name()).isEmpty())
                .sorted(Comparator.comparing((CaRecord c) -> c.certificate().getNotAfter()).reversed())
                .toList();
    }

    /**
     * A signer is replaced when less than this is left of it: a third of its validity, and never
     * less than two answer lifetimes, so no answer it signed outlives it.
     */
    Duration signerRenewAhead(CaRecord signer) {
        Duration life = Duration.between(signer.certificate().getNotBefore().toInstant(), signer.certificate().getNotAfter().toInstant());
        Duration twoAnswers = config.revocation().ocspValidity().multipliedBy(2);
        Duration third = life.dividedBy(3);
        return third.compareTo(twoAnswers) > 0 ? third : twoAnswers;
    }

    /**
     * Keeps every CA this node holds the key of supplied with a delegated OCSP signer (when
     * fleetpki.yaml has ceremony.ocsp): certifies one for a CA without a valid signer and a new one
     * when the newest is within {@link #signerRenewAhead} of its end. Every node then looks up its
     * signers again, so a read-only node picks up the writer's new signer (if it has the key).
     *
     * @return the signers certified by this call
     */
    public List<CaRecord> maintainOcspSigners() {
        List<CaRecord> made = new ArrayList<>();
        if (writable && config.ocsp() != null) {
            Instant now = clock.instant();
            for (OcspSigner.Issuer i : issuers) {
                if (rs.caRevokedAt(i.name()).isPresent()) {
                    continue;
                }
                List<CaRecord> current = delegatedSigners(i.name(), now);
                boolean due = current.isEmpty() || Duration.between(now, current.getFirst().certificate().getNotAfter().toInstant())
                        .compareTo(signerRenewAhead(current.getFirst())) < 0;
                if (!due) {
                    continue;
                }
                try {
                    cas.get(i.name()); // the CA key is here (else an offline or other node's CA: nothing to do on this node)
                } catch (PkiException notHere) {
                    LOG.debug("no OCSP signer certified for CA '{}' here: {}", i.name(), notHere.detail());
                    continue;
                }
                try {
                    CaRecord rec = new Ceremony(config, cas.keys(), store, clock, Actor.system()).certifyOcspSigner(i.name());
                    made.add(rec);
                    LOG.info("OCSP signer '{}' certified by CA '{}', valid until {}{}", rec.name(), i.name(), rec.certificate().getNotAfter().toInstant(),
                            current.isEmpty() ? "" : " (replaces '" + current.getFirst().name() + "')");
                } catch (PkiException e) {
                    LOG.warn("could not certify an OCSP signer for CA '{}' (answers stay signed as before; retried hourly): {}", i.name(), e.detail());
                }
            }
        }
        signers.clear();
        return made;
    }

    /**
     * One pass of pre-signing: every live certificate whose stored response is missing or ends
     * within {@code revocation.ocsp.refreshAhead} gets a fresh one (SHA-1 CertID, no nonce).
     *
     * @return how many responses were signed
     */
    public long presign() {
        if (!writable || !presignRunning.compareAndSet(false, true)) {
            return 0;
        }
        try {
            long signed = 0;
            String after = null;
            while (true) {
                Instant now = clock.instant();
                List<CertStatus> page = rs.needingOcsp(now.toEpochMilli(), now.plus(config.revocation().ocspRefreshAhead()).toEpochMilli(), after, PRESIGN_PAGE);
                if (page.isEmpty()) {
                    return signed;
                }
                int n = signAndSave(page, now);
                presignedBy("pass", n);
                signed += n;
                after = page.getLast().serialHex();
            }
        } finally {
            presignRunning.set(false);
        }
    }

    private OcspRow presigned(CertStatus c, Instant now) {
        OcspSigner signer = signer(c.ca());
        if (signer == null) {
            return null;
        }
        Instant thisUpdate = now.truncatedTo(ChronoUnit.SECONDS);
        Instant next = thisUpdate.plus(config.revocation().ocspValidity());
        CertificateID id = signer.issuer().sha1Id(new BigInteger(c.serialHex(), 16));
        byte[] der = signer.sign(List.of(new OcspSigner.Answer(id, status(c), thisUpdate, next)), null, now);
        return new OcspRow(c.serialHex(), c.ca(), c.revoked() ? "revoked" : "good", thisUpdate.toEpochMilli(), next.toEpochMilli(), der);
    }

    /** How long after issuance a certificate's pre-signed answer is stored, at most (unless the revocation thread is busy with a CRL or a pass). */
    public static final Duration ISSUED_PRESIGN_DELAY = Duration.ofMillis(200);

    /**
     * Pre-signs the answers of the certificates queued by {@link #issued}, a page per transaction.
     * A certificate revoked meanwhile is not stored as "good" (checked in the saving transaction).
     *
     * @return how many answers were stored
     */
    long presignIssued() {
        long signed = 0;
        List<CertStatus> page = new ArrayList<>(PRESIGN_PAGE);
        while (issued.drainTo(page, PRESIGN_PAGE) > 0) {
            int n = signAndSave(page, clock.instant());
            presignedBy("issuance", n);
            signed += n;
            page.clear();
        }
        return signed;
    }

    /** Signs an answer for each certificate (those of CAs without a signer here are skipped) and stores them in one transaction; returns how many. */
    private int signAndSave(List<CertStatus> certificates, Instant now) {
        List<OcspRow> rows = new ArrayList<>(certificates.size());
        for (CertStatus c : certificates) {
            OcspRow row = presigned(c, now);
            if (row != null) {
                rows.add(row);
            }
        }
        rs.saveOcspResponses(rows);
        return rows.size();
    }

    public void presignIssuedQuietly() {
        try {
            presignIssued();
        } catch (RuntimeException e) {
            LOG.warn("could not pre-sign the OCSP answers of newly issued certificates (the periodic pass signs them): {}", e.getMessage());
        }
    }

    /**
     * Re-signs and stores the OCSP answers of just-revoked certificates, so the next request is a
     * lookup again.
     *
     * @return the CAs whose CRLs now need regenerating
     */
    public Set<String> reSign(List<String> serials) {
        List<CertStatus> revoked = new ArrayList<>();
        Set<String> cas = new LinkedHashSet<>();
        for (String serial : serials) {
            rs.certStatus(serial).ifPresent(c -> {
                revoked.add(c);
                cas.add(c.ca());
            });
        }
        presignedBy("revocation", signAndSave(revoked, clock.instant()));
        cache.clear(); // this process's revocations reach its kept answers at once, without waiting for the epoch poll
        return cas;
    }

    /** How often a responder polls the store's revocation epoch; a revocation on another node reaches its kept answers within this. */
    public static final Duration EPOCH_POLL = Duration.ofMillis(100);

    /** Forgets the OCSP signers looked up so far (a read-only node does so hourly, to find the writer's newer ones). */
    public void forgetSigners() {
        signers.clear();
    }

    /** The first read of the revocation epoch: whatever it is, the kept answers go and may be served from now on. */
    public void beginEpochPolling() {
        epochSeen = Long.MIN_VALUE;
        pollEpoch();
    }

    /**
     * Reads the revocation epoch: changed, the kept answers go; read, they may be served for two
     * more poll intervals; unreadable, they are not served until a read succeeds again.
     */
    public void pollEpoch() {
        long before = clock.millis();
        long epoch;
        try {
            epoch = rs.epoch();
        } catch (RuntimeException e) {
            cache.trustUntil(Long.MIN_VALUE);
            cache.clear();
            if (!epochFailing) { // once per outage, not every poll
                LOG.warn("cannot read the revocation epoch ({}); OCSP answers are read from the store until it can", e.getMessage());
                epochFailing = true;
            }
            return;
        }
        if (epochFailing) {
            LOG.info("revocation epoch readable again; OCSP answers are kept in memory again");
            epochFailing = false;
        }
        if (epoch != epochSeen) {
            if (epochSeen != Long.MIN_VALUE) {
                LOG.debug("revocation epoch {} -> {}: dropping {} kept OCSP answers", epochSeen, epoch, cache.size());
            }
            cache.clear();
            epochSeen = epoch;
        }
        cache.trustUntil(before + 2 * EPOCH_POLL.toMillis());
    }

    /** How often a pre-signing pass looks for missing or ageing responses: a quarter of refreshAhead, at most 5 minutes. */
    public Duration presignInterval() {
        Duration q = config.revocation().ocspRefreshAhead().dividedBy(4);
        return q.compareTo(Duration.ofMinutes(5)) > 0 ? Duration.ofMinutes(5) : q.isZero() ? Duration.ofSeconds(1) : q;
    }

    /**
     * The periodic signer check: under the store-wide lease {@code ocsp:signers}, so two nodes never
     * both certify a replacement (the second finds the first's new signer when its turn comes).
     */
    public void maintainSignersQuietly() {
        try {
            rs.exclusively("ocsp:signers", Duration.ofSeconds(60), this::maintainOcspSigners);
        } catch (RuntimeException e) {
            LOG.warn("OCSP signer check failed (retried hourly): {}", e.getMessage());
        }
    }

    /** The periodic pre-signing pass: one node at a time (lease {@code ocsp:presign}); a node that finds it taken passes this turn. */
    public void presignQuietly() {
        try {
            long n = rs.exclusively("ocsp:presign", Duration.ZERO, this::presign).orElse(0L);
            if (n > 0) {
                LOG.info("pre-signed {} OCSP responses", n);
            }
        } catch (RuntimeException e) {
            LOG.warn("OCSP pre-signing pass failed (the next pass retries): {}", e.getMessage());
        }
    }

    public void saveQueued() {
        Map<String, OcspRow> batch = new LinkedHashMap<>();
        for (OcspRow r; batch.size() < PRESIGN_PAGE && (r = toSave.poll()) != null; ) {
            batch.put(r.serialHex(), r);
        }
        if (batch.isEmpty()) {
            return;
        }
        try {
            rs.saveOcspResponses(List.copyOf(batch.values()));
        } catch (RuntimeException e) {
            LOG.warn("could not keep {} OCSP responses signed on demand (they are signed again when asked): {}", batch.size(), e.getMessage());
        }
    }

    private void count(String status, boolean presigned) {
        RevocationObserver m = metrics;
        if (m != null) {
            m.ocspAnswered(status, presigned);
        }
    }

    private void presignedBy(String trigger, long answers) {
        RevocationObserver m = metrics;
        if (m != null) {
            m.ocspPresigned(trigger, answers);
        }
    }
}
