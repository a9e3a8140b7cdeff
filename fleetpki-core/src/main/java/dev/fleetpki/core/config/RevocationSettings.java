package dev.fleetpki.core.config;

import java.math.BigInteger;
import java.time.Duration;

/**
 * How revocation is published ({@code revocation:} in fleetpki.yaml; docs/revocation.md).
 *
 * @param crlValidity nextUpdate minus thisUpdate of every CRL
 * @param crlRefresh how often CRLs are generated on a schedule (they are also generated at once after a revocation)
 * @param crlShards how many partitions each issuing CA's CRL is split into by serial; fixed for the CA's life, since
 *     every certificate names its shard's URL
 * @param crlMaxEntries a shard with more entries than this is reported (log, metric, {@code crl show})
 * @param keepExpired true: revoked certificates stay on the CRL after their notAfter, and the CRL carries
 *     ExpiredCertsOnCRL (RFC 5280 5.2.7); false (default): they drop off after notAfter
 * @param ocspValidity nextUpdate minus thisUpdate of an OCSP response
 * @param ocspRefreshAhead a pre-signed response is signed again when less than this is left of it
 * @param ocspCacheEntries how many OCSP answers a responder keeps in memory (0: none, every request reads the store)
 * @param ocspUnknownPerSecond how many answers for serials this CA never issued a responder signs per second; past it
 *     it answers tryLater (RFC 6960 2.3), so requests for made-up serials cannot tie up the signer
 */
public record RevocationSettings(Duration crlValidity, Duration crlRefresh, int crlShards, long crlMaxEntries, boolean keepExpired,
                                 Duration ocspValidity, Duration ocspRefreshAhead, int ocspCacheEntries, int ocspUnknownPerSecond) {
    public static final RevocationSettings DEFAULT = new RevocationSettings(Duration.ofDays(7), Duration.ofHours(24), 1, 1_000_000, false,
            Duration.ofDays(1), Duration.ofHours(12), 100_000, 100);

    /** The shard a serial's revocation is listed on. */
    public int shardOf(BigInteger serial) {
        return crlShards <= 1 ? 0 : serial.mod(BigInteger.valueOf(crlShards)).intValue();
    }
}
