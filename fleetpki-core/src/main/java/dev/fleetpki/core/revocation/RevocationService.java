package dev.fleetpki.core.revocation;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.Ceremony;
import dev.fleetpki.core.CertificateAuthority;
import dev.fleetpki.core.CrlWriter;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.IssuanceObserver;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.OcspSigner;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.StoredCaDirectory;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.core.config.RevocationSettings;
import dev.fleetpki.core.revocation.RevocationLedger.CertStatus;
import dev.fleetpki.core.revocation.RevocationLedger.OcspRow;
import dev.fleetpki.core.revocation.RevocationLedger.StoredCrl;
import dev.fleetpki.kms.Crypto;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.cert.CRLException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
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
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.bouncycastle.asn1.ASN1Integer;
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
 * Publishes revocation: CRLs per CA (and per shard) signed through the KeyManager, and OCSP
 * answers, pre-signed for every live certificate and signed live only for nonces, unusual hash
 * algorithms and misses. A revocation made through this service re-signs the certificate's OCSP
 * response at once and regenerates its CA's CRL within a second; revocations made elsewhere (the
 * CLI, another node) are seen by OCSP at once (the revoking transaction deletes the pre-signed
 * "good" answer) and by the CRL on the CLI's own regeneration or the schedule.
 *
 * <p>A read-only service (a replica of the store) only serves: it never writes, and signs OCSP
 * answers live where no fresh pre-signed one is stored.
 */
public final class RevocationService implements IssuanceObserver {
    private static final Logger LOG = LoggerFactory.getLogger(RevocationService.class);
    /** OCSP requests larger than this are refused; a normal one is about 100 bytes. */
    public static final int MAX_OCSP_REQUEST = 8 * 1024;
    private static final int PRESIGN_PAGE = 1000;
    /**
     * Certificates this process issued whose answers are not yet pre-signed, at most this many; one
     * issued while it is full is left to the next periodic pass (and answered live until then).
     */
    static final int ISSUED_QUEUE = 100_000;

    private final FleetConfig config;
    private final CaRegistry store;
    private final RevocationLedger rs;
    private final StoredCaDirectory cas;
    private final Clock clock;

    /** The clock this service answers by (injected; tests and the HTTP caching headers read the same one). */
    public Clock clock() {
        return clock;
    }
    private final boolean writable;
    private final Map<String, OcspSigner> signers = new ConcurrentHashMap<>();
    private final List<OcspSigner.Issuer> issuers = new ArrayList<>();
    private final ConcurrentLinkedQueue<OcspRow> toSave = new ConcurrentLinkedQueue<>();
    private final ArrayBlockingQueue<CertStatus> issued = new ArrayBlockingQueue<>(ISSUED_QUEUE);
    private final ConcurrentHashMap<String, Boolean> crlDue = new ConcurrentHashMap<>();
    private final AtomicBoolean presignRunning = new AtomicBoolean();
    private final OcspCache cache;
    /** Live signatures of answers for never-issued serials, per second (revocation.ocsp.unknownPerSecond). */
    private final RateBudget unknownBudget;
    /** The revocation thread of the scheduler running this service's periodic work (fleetpki-server), or null when none runs it. */
    private volatile ScheduledExecutorService worker;
    private long epochSeen;
    private boolean epochFailing;
    private volatile RevocationObserver metrics;

    /**
     * @param store the CA records (read for the issuers and their revocation)
     * @param rs the revocation ledger: CRLs, pre-signed answers, certificate statuses
     * @param writable false on a read-only store (a replica): only serves, never writes
     */
    public RevocationService(FleetConfig config, CaRegistry store, RevocationLedger rs, StoredCaDirectory cas, Clock clock, boolean writable) {
        this.config = config;
        this.store = store;
        this.rs = rs;
        this.cas = cas;
        this.clock = clock;
        this.writable = writable;
        this.cache = new OcspCache(config.revocation().ocspCacheEntries());
        this.unknownBudget = new RateBudget(config.revocation().ocspUnknownPerSecond());
        for (CaRecord ca : store.cas()) {
            if (ca.role() == CaRole.ISSUING || ca.role() == CaRole.CODE_SIGNING) {
                issuers.add(OcspSigner.Issuer.of(ca.name(), ca.certificate()));
            }
        }
    }

    /** Reports to {@code m} from now on (the server's metrics). */
    public void observe(RevocationObserver m) {
        this.metrics = m;
        m.watchPresignQueue(issued::size);
    }

    private void presignedBy(String trigger, long answers) {
        RevocationObserver m = metrics;
        if (m != null) {
            m.ocspPresigned(trigger, answers);
        }
    }

    public RevocationSettings settings() {
        return config.revocation();
    }

    public boolean writable() {
        return writable;
    }

    // ---- CRLs ----

    /** One CA's generation run: its CRL number and the CRLs written (one per shard). */
    public record CrlRun(String ca, long number, List<StoredCrl> crls, Duration took) {
        public long entries() {
            return crls.stream().mapToLong(StoredCrl::entries).sum();
        }
    }

    /** CAs that publish a CRL: the root (listing revoked sub-CAs), issuing and code-signing CAs. */
    public List<CaRecord> crlIssuers() {
        return store.cas().stream().filter(c -> c.role() == CaRole.ROOT || c.role() == CaRole.ISSUING || c.role() == CaRole.CODE_SIGNING).toList();
    }

    /** How many shards a CA's CRL has: the configured number for CAs that issue through profiles, one for the root. */
    public int shards(CaRecord ca) {
        return ca.role() == CaRole.ROOT ? 1 : config.revocation().crlShards();
    }

    /** Generates and stores a CA's CRLs (all shards), signed with the CA's key. */
    public CrlRun generateCrl(String caName, Actor actor) {
        return generateCrl(caName, actor, config.revocation().crlValidity());
    }

    /**
     * As {@link #generateCrl(String, Actor)} with nextUpdate {@code validity} after thisUpdate: an
     * offline root signs its CRL rarely, so it gives it a longer life than the online CAs' (for
     * example {@code crl generate --ca root --validity 90d}).
     */
    public CrlRun generateCrl(String caName, Actor actor, Duration validity) {
        if (validity.isZero() || validity.isNegative()) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "CRL validity must be positive, for example 7d or 90d");
        }
        if (!writable) {
            throw new PkiException(ErrorKind.CONFIG, "this node serves a read-only store; CRLs are generated on a node that can write it");
        }
        long t0 = System.nanoTime();
        CaRecord rec = store.ca(caName).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no CA named '" + caName + "'; list them with: fleetpki ca list"));
        if (rec.role() == CaRole.OCSP) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + caName + "' is the OCSP signer, which issues nothing and has no CRL");
        }
        CertificateAuthority ca = cas.get(caName);
        RevocationSettings s = config.revocation();
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        Instant next = now.plus(validity);
        long number = rs.nextCrlNumber(caName);
        int n = shards(rec);
        CrlWriter[] writers = new CrlWriter[n];
        for (int i = 0; i < n; i++) {
            writers[i] = new CrlWriter(rec.certificate(), now, next, number, n > 1 ? config.crlUrl(caName, i) : null,
                    s.keepExpired() ? rec.certificate().getNotBefore().toInstant() : null);
        }
        BigInteger shardCount = BigInteger.valueOf(n);
        rs.forEachRevoked(caName, s.keepExpired() ? 0 : expiredCutoff(now).toEpochMilli(), (serial, at, reason, invalid) -> {
            int shard = n == 1 ? 0 : new BigInteger(serial, 16).mod(shardCount).intValue();
            writers[shard].add(serial, at, reason, invalid);
        });
        List<StoredCrl> crls = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long entries = writers[i].entries();
            byte[] der = writers[i].sign(ca.key().contentSigner());
            writers[i] = null;
            crls.add(new StoredCrl(caName, i, n, number, now, next, entries, der));
            if (entries > s.crlMaxEntries()) {
                LOG.warn("CRL of CA '{}' shard {} lists {} entries, more than revocation.crl.maxEntries {}; partition it with more shards "
                        + "for a new issuing CA", caName, i, entries, s.crlMaxEntries());
            }
        }
        long total = crls.stream().mapToLong(StoredCrl::entries).sum();
        rs.saveCrls(crls, new AuditEvent(clock.instant(), actor, AuditAction.CRL_GENERATE, "ca:" + caName, Map.of("number", Long.toString(number),
                "entries", Long.toString(total), "shards", Integer.toString(n), "nextUpdate", next.toString())));
        crlDue.remove(caName);
        RevocationObserver m = metrics;
        if (m != null) {
            crls.forEach(c -> m.crlPublished(c.ca(), c.shard(), c.entries(), c.number()));
        }
        return new CrlRun(caName, number, List.copyOf(crls), Duration.ofNanos(System.nanoTime() - t0));
    }

    /**
     * Stores a CRL signed elsewhere (an offline root's, made with {@code crl generate} on that
     * machine) so this node serves it. Refused, with nothing stored: anything that is not a CRL, a
     * CRL no CA of this store signed (the signature is checked against each CA with the issuer's
     * name), one without a CRL number or not newer than the stored one, one already past its
     * nextUpdate or dated in the future, and a partitioned (IDP) CRL.
     */
    public StoredCrl importCrl(byte[] data, Actor actor) {
        if (!writable) {
            throw new PkiException(ErrorKind.CONFIG, "this node serves a read-only store; import CRLs on a node that can write it");
        }
        X509CRL crl;
        try {
            crl = (X509CRL) CertificateFactory.getInstance("X.509")
                    .generateCRL(new ByteArrayInputStream(data));
        } catch (CertificateException | CRLException | RuntimeException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "not a CRL (PEM or DER): " + e.getMessage());
        }
        CaRecord ca = null;
        for (CaRecord c : store.cas()) {
            if (c.role() != CaRole.OCSP && c.certificate().getSubjectX500Principal().equals(crl.getIssuerX500Principal()) && signed(crl, c)) {
                ca = c;
                break;
            }
        }
        if (ca == null) {
            throw new PkiException(ErrorKind.NOT_AUTHORIZED, "no CA in this store signed this CRL (issuer '" + crl.getIssuerX500Principal().getName()
                    + "'); import CRLs of this hierarchy's CAs only");
        }
        byte[] numberExt = crl.getExtensionValue(Extension.cRLNumber.getId());
        if (numberExt == null) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CRL has no CRL number (RFC 5280 5.2.3); make it with: fleetpki crl generate --ca " + ca.name());
        }
        if (crl.getExtensionValue(Extension.issuingDistributionPoint.getId()) != null || shards(ca) != 1) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "CA '" + ca.name() + "' has partitioned CRLs, which this server generates itself; "
                    + "import is for unpartitioned CRLs such as an offline root's");
        }
        long number = ASN1Integer.getInstance(ASN1OctetString.getInstance(numberExt).getOctets())
                .getValue().longValueExact();
        Instant now = clock.instant();
        Instant thisUpdate = crl.getThisUpdate().toInstant();
        if (crl.getNextUpdate() == null || !crl.getNextUpdate().toInstant().isAfter(now)) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CRL of CA '" + ca.name() + "' ended at " + crl.getNextUpdate()
                    + "; sign a new one on the machine with its key");
        }
        if (thisUpdate.isAfter(now.plus(Duration.ofMinutes(5)))) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the CRL's thisUpdate " + thisUpdate + " is in the future; check both machines' clocks");
        }
        long stored = rs.crlNumber(ca.name(), 0);
        if (number <= stored) {
            throw new PkiException(ErrorKind.CONFLICT, "CRL number " + number + " of CA '" + ca.name() + "' is not above the one this store has ("
                    + stored + "); sign a new one on the machine with its key");
        }
        long entries = crl.getRevokedCertificates() == null ? 0 : crl.getRevokedCertificates().size();
        byte[] der;
        try {
            der = crl.getEncoded();
        } catch (CRLException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "cannot encode the CRL: " + e.getMessage());
        }
        StoredCrl out = new StoredCrl(ca.name(), 0, 1, number, thisUpdate, crl.getNextUpdate().toInstant(), entries, der);
        rs.saveCrls(List.of(out), new AuditEvent(now, actor, AuditAction.CRL_IMPORT, "ca:" + ca.name(), Map.of("number", Long.toString(number),
                "entries", Long.toString(entries), "nextUpdate", out.nextUpdate().toString())));
        RevocationObserver m = metrics;
        if (m != null) {
            m.crlPublished(out.ca(), 0, entries, number);
        }
        return out;
    }

    private static boolean signed(X509CRL crl, CaRecord ca) {
        try {
            crl.verify(ca.certificate().getPublicKey());
            return true;
        } catch (GeneralSecurityException | RuntimeException e) {
            try { // algorithms the JDK lacks
                crl.verify(ca.certificate().getPublicKey(), Crypto.bc());
                return true;
            } catch (GeneralSecurityException | RuntimeException e2) {
                return false;
            }
        }
    }

    /**
     * Generates the CRLs of every CA whose key this node can open; a CA whose key is elsewhere (an
     * offline root) is skipped with a note in {@code skipped}.
     */
    public List<CrlRun> generateAll(Actor actor, Map<String, String> skipped) {
        List<CrlRun> runs = new ArrayList<>();
        for (CaRecord ca : crlIssuers()) {
            try {
                runs.add(generateCrl(ca.name(), actor));
            } catch (PkiException e) {
                if (e.kind() != ErrorKind.CONFIG) {
                    throw e;
                }
                skipped.put(ca.name(), e.detail());
            }
        }
        return runs;
    }

    /** The stored CRL of a CA's shard. */
    public Optional<StoredCrl> crl(String ca, int shard) {
        return rs.crl(ca, shard);
    }

    // ---- OCSP ----

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
        OCSPReq req;
        try {
            if (request.length == 0 || request.length > MAX_OCSP_REQUEST) {
                return error(OcspSigner.MALFORMED_REQUEST);
            }
            req = new OCSPReq(request);
            if (req.getEncoded().length != request.length) {
                return error(OcspSigner.MALFORMED_REQUEST); // trailing bytes after the request
            }
        } catch (IOException | RuntimeException e) {
            return error(OcspSigner.MALFORMED_REQUEST);
        }
        Req[] list = req.getRequestList();
        if (list.length == 0 || list.length > 16) {
            return error(OcspSigner.MALFORMED_REQUEST);
        }
        OcspSigner.Issuer issuer = null;
        for (Req r : list) {
            CertID id = r.getCertID().toASN1Primitive();
            OcspSigner.Issuer found = issuerOf(id);
            if (found == null || (issuer != null && found != issuer)) {
                count("unauthorized", false);
                return error(OcspSigner.UNAUTHORIZED);
            }
            issuer = found;
        }
        Extension nonce = req.getExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce);
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
        boolean sha1 = plain && OcspSigner.isSha1(list[0].getCertID().toASN1Primitive());
        if (sha1) {
            String serial = list[0].getCertID().getSerialNumber().toString(16);
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
        for (Req r : list) {
            CertificateID id = r.getCertID();
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

    /**
     * Revoked certificates that ended before this drop off the CRL. RFC 5280 3.3: an entry stays
     * until at least one regularly scheduled CRL issued after the certificate's validity ended has
     * listed it, so it is kept for one refresh period past its notAfter; plus the longest backdate
     * of any profile, since relying parties with slow clocks still accept a certificate that long.
     */
    Instant expiredCutoff(Instant now) {
        Duration backdate = config.profiles().values().stream().map(Profile::backdate).max(Duration::compareTo)
                .orElse(Duration.ZERO);
        return now.minus(config.revocation().crlRefresh()).minus(backdate);
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
        for (OcspSigner.Issuer i : issuers) {
            if (i.matches(id)) {
                return i;
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

    /**
     * A certificate this process just issued: once the service is started on a writable store, its
     * "good" answer is pre-signed and stored within {@link #ISSUED_PRESIGN_DELAY} (in batches, on the
     * revocation thread), so the first OCSP request for it is a lookup and the periodic pass does not
     * find it missing (those still queued when the service closes are signed as it closes). The cost
     * of pre-signing is paid while issuing, not minutes later in a burst.
     */
    @Override
    public void issued(IssuedCertificate c, String protocol, long nanos) {
        if (writable && worker != null) {
            issued.offer(new CertStatus(c.serialHex(), c.caName(), c.notAfter().toEpochMilli(), 0, null)); // full: left to the periodic pass
        }
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
     * Called after revocations this process committed: re-signs their OCSP answers at once and
     * regenerates their CAs' CRLs shortly (several revocations within the debounce share one run).
     */
    public void revoked(List<String> serials) {
        if (!writable) {
            return;
        }
        reSign(serials).forEach(ca -> crlDue.put(ca, Boolean.TRUE));
        ScheduledExecutorService w = worker;
        if (w != null) { // on the revocation thread, after any CRL run already there: one CA's CRLs are never generated twice at once
            w.schedule(this::generateDue, 200, TimeUnit.MILLISECONDS);
        } else { // not run by a scheduler (a caller that only answers and revokes): debounce on a thread of its own
            Thread.ofVirtual().name("fleetpki-crl-after-revocation").start(() -> {
                try {
                    Thread.sleep(200);
                    generateDue();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
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

    private void generateDue() {
        for (String ca : List.copyOf(crlDue.keySet())) {
            try {
                CrlRun run = generateCrl(ca, Actor.system());
                LOG.info("CRL of CA '{}' regenerated after a revocation: number {}, {} entries, {} ms", ca, run.number(), run.entries(), run.took().toMillis());
            } catch (RuntimeException e) {
                LOG.warn("CRL of CA '{}' could not be regenerated after a revocation (the schedule retries): {}", ca, e.getMessage());
            }
        }
    }

    /** How often a responder polls the store's revocation epoch; a revocation on another node reaches its kept answers within this. */
    public static final Duration EPOCH_POLL = Duration.ofMillis(100);

    /**
     * The scheduler that runs this service's periodic work (fleetpki-server's RevocationScheduler)
     * hands it its revocation thread: from now on the CRLs due after a revocation are generated
     * there, after any run already queued, and the certificates this process issues are queued for
     * pre-signing (see {@link #issued}). Null: neither.
     */
    public void attach(ScheduledExecutorService revocationThread) {
        this.worker = revocationThread;
    }

    /** Forgets the OCSP signers looked up so far (a read-only node does so hourly, to find the writer's newer ones). */
    public void forgetSigners() {
        signers.clear();
    }

    /** The first read of the revocation epoch: whatever it is, the kept answers go and may be served from now on. */
    public void beginEpochPolling() {
        epochSeen = Long.MIN_VALUE;
        pollEpoch();
    }

    /** Writes what waits in memory: OCSP answers signed on demand, and the answers of certificates issued in the last moments. */
    public void flush() {
        saveQueued();
        presignIssuedQuietly(); // what the last 200 ms issued (the periodic pass would sign it after a restart)
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

    public void refreshCrlsIfDue() {
        Instant now = clock.instant();
        List<StoredCrl> stored = rs.crls();
        for (CaRecord ca : crlIssuers()) {
            Optional<StoredCrl> c = stored.stream().filter(x -> x.ca().equals(ca.name())).findFirst();
            boolean due = c.isEmpty() || c.get().thisUpdate().plus(config.revocation().crlRefresh()).isBefore(now) || c.get().shards() != shards(ca);
            if (!due) {
                continue;
            }
            try {
                CrlRun run = generateCrl(ca.name(), Actor.system());
                LOG.info("CRL of CA '{}' generated: number {}, {} entries", ca.name(), run.number(), run.entries());
            } catch (PkiException e) {
                if (e.kind() == ErrorKind.CONFIG) {
                    LOG.debug("no CRL for CA '{}' from this node: {}", ca.name(), e.detail());
                    warnIfEnding(ca.name(), c.orElse(null), now);
                } else {
                    LOG.warn("CRL of CA '{}' not generated: {}", ca.name(), e.detail());
                }
            } catch (RuntimeException e) {
                LOG.warn("CRL of CA '{}' not generated", ca.name(), e);
            }
        }
    }

    private final Map<String, Instant> endingWarned = new ConcurrentHashMap<>();

    /**
     * A CRL this node cannot sign (an offline root's, imported) must be replaced by hand: from a
     * week before its nextUpdate (or after), the log says so, once an hour.
     */
    private void warnIfEnding(String ca, StoredCrl crl, Instant now) {
        if (crl != null && crl.nextUpdate().isAfter(now.plus(Duration.ofDays(7)))) {
            return;
        }
        Instant last = endingWarned.get(ca);
        if (last != null && last.plus(Duration.ofHours(1)).isAfter(now)) {
            return;
        }
        endingWarned.put(ca, now);
        LOG.warn(crl == null ? "CA '{}' has no CRL and its key is not on this node; sign one where the key is (fleetpki crl generate --ca {}) "
                + "and import it here (fleetpki crl import FILE)" : "the CRL of CA '{}' ends at " + crl.nextUpdate() + " and its key is not on this node; "
                + "sign a new one where the key is (fleetpki crl generate --ca {}) and import it here (fleetpki crl import FILE)", ca, ca);
    }

    public void maintainSignersQuietly() {
        try {
            maintainOcspSigners();
        } catch (RuntimeException e) {
            LOG.warn("OCSP signer check failed (retried hourly): {}", e.getMessage());
        }
    }

    public void presignQuietly() {
        try {
            long n = presign();
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
}
