package dev.fleetpki.core.revocation;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.RevocationReason;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What revocation publishing reads and writes: the revoked certificates and CAs a CRL lists, the
 * newest CRL of each CA and shard, and the pre-signed OCSP responses. Reads work on a read-only
 * store (a replica), so CRL and OCSP serving can run on nodes that cannot issue.
 */
public interface RevocationLedger {
    /** Receives CRL entries one at a time, so a million entries never sit in memory as objects; {@code invalidSince} is 0 when unknown. */
    interface RevokedSink {
        void accept(String serialHex, long revokedAt, RevocationReason reason, long invalidSince);
    }

    /** A stored CRL: the newest of its CA and shard. */
    record StoredCrl(String ca, int shard, int shards, long number, Instant thisUpdate, Instant nextUpdate, long entries, byte[] der) {}

    /** A pre-signed OCSP response (the whole DER OCSPResponse). */
    record OcspRow(String serialHex, String ca, String status, long thisUpdate, long nextUpdate, byte[] der) {}

    /** A certificate's status as OCSP reports it. */
    record CertStatus(String serialHex, String ca, long notAfter, long revokedAt, RevocationReason reason) {
        public boolean revoked() {
            return reason != null;
        }
    }

    /**
     * Streams the revocations a CA's CRL lists: its revoked certificates and its revoked
     * subordinate CAs (and OCSP signers), leaving out those whose notAfter is before {@code notAfterFrom}
     * (pass 0 to keep expired ones).
     *
     * @return how many were streamed
     */
    long forEachRevoked(String ca, long notAfterFrom, RevokedSink sink);

    /** Records a sub-CA's (or the OCSP signer's) revocation; its parent's CRL lists it from the next generation on. */
    void revokeCa(String name, RevocationReason reason, Instant at, AuditEvent event);

    /**
     * The revocation epoch: it moves whenever a revocation commits on any node, so a responder that
     * keeps answers in memory polls it and drops them when it changed.
     */
    long epoch();

    /** When a CA was revoked, if it was. */
    Optional<Instant> caRevokedAt(String name);

    /** A CA's CRL number for the next generation run: one more than any stored, 1 for the first. */
    long nextCrlNumber(String ca);

    /**
     * Runs {@code work} while this node holds the store-wide lease {@code name} (one holder among all
     * nodes of the store); waits up to {@code wait} for it, and returns empty when another node still
     * holds it.
     */
    <T> Optional<T> exclusively(String name, java.time.Duration wait, java.util.function.Supplier<T> work);

    /**
     * Stores one generation run of a CA's CRLs (all its shards) in one transaction, replacing the
     * ones before; refuses a number that is not above the stored one (another node published first),
     * so CRL numbers never go backwards.
     */
    void saveCrls(List<StoredCrl> crls, AuditEvent event);

    /** The newest CRL of a CA's shard, with its bytes. */
    Optional<StoredCrl> crl(String ca, int shard);

    /** The newest CRLs of every CA, without their bytes (der is empty): what {@code crl show} lists. */
    List<StoredCrl> crls();

    /** The number of the newest stored CRL of a CA's shard, or 0: a cheap check whether a served copy is current. */
    long crlNumber(String ca, int shard);

    Optional<OcspRow> ocspResponse(String serialHex);

    /** A certificate's status, or empty when this store never issued the serial. */
    Optional<CertStatus> certStatus(String serialHex);

    /**
     * Live certificates (notAfter at or after {@code now}) whose pre-signed response is missing or
     * ends before {@code staleBefore}, at most {@code limit}, in serial order after {@code after}
     * (keyset paging for a pass over a large store).
     */
    List<CertStatus> needingOcsp(long now, long staleBefore, String after, int limit);

    /**
     * Stores pre-signed responses (replacing older ones of the same serials) in one transaction. A
     * "good" response is stored only while the certificate is still unrevoked, checked in the same
     * transaction, so a response signed just before a revocation committed is never kept.
     */
    void saveOcspResponses(List<OcspRow> rows);

    long ocspResponseCount();
}
