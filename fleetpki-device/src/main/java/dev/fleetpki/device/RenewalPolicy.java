package dev.fleetpki.device;

import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.random.RandomGenerator;

/**
 * When a device renews: at {@code fraction} of its certificate's lifetime (default two thirds),
 * spread by {@code jitter} (a share of the lifetime, default 10%, centred on that point) so a fleet
 * enrolled in one morning does not renew in one minute; after a failed attempt, again after an
 * exponential backoff from {@code firstRetry} up to {@code maxRetry}, each delay drawn between half
 * and all of its step ("equal jitter"); {@code rekey}: a new key with each renewal.
 */
public record RenewalPolicy(double fraction, double jitter, Duration firstRetry, Duration maxRetry, boolean rekey) {
    public static final RenewalPolicy DEFAULT = new RenewalPolicy(2.0 / 3, 0.10, Duration.ofSeconds(30), Duration.ofHours(1), true);

    public RenewalPolicy {
        if (!(fraction > 0 && fraction < 1)) {
            throw new IllegalArgumentException("renewal fraction " + fraction + " must be between 0 and 1 (two thirds: 0.667)");
        }
        if (!(jitter >= 0 && fraction - jitter / 2 > 0 && fraction + jitter / 2 < 1)) {
            throw new IllegalArgumentException("renewal jitter " + jitter + " must keep fraction +/- jitter/2 inside the lifetime");
        }
        if (firstRetry.isNegative() || firstRetry.isZero() || maxRetry.compareTo(firstRetry) < 0) {
            throw new IllegalArgumentException("retry delays must be positive, the longest at least the first");
        }
    }

    /** The moment to renew this certificate: notBefore + lifetime x (fraction +/- jitter/2), uniform. */
    public Instant renewAt(X509Certificate leaf, RandomGenerator rnd) {
        Instant from = leaf.getNotBefore().toInstant();
        long life = Duration.between(from, leaf.getNotAfter().toInstant()).toMillis();
        double share = fraction + (rnd.nextDouble() - 0.5) * jitter;
        return from.plusMillis((long) (life * share));
    }

    /** How long to wait after {@code failures} failed attempts in a row (1 or more). */
    public Duration retryDelay(int failures, RandomGenerator rnd) {
        long step = firstRetry.toMillis();
        for (int i = 1; i < failures && step < maxRetry.toMillis(); i++) {
            step *= 2;
        }
        step = Math.min(step, maxRetry.toMillis());
        return Duration.ofMillis(step / 2 + (long) (rnd.nextDouble() * (step - step / 2)));
    }
}
