package dev.fleetpki.core.revocation;

/**
 * A token bucket: at most {@code perSecond} takes in any second on average, with bursts of up to
 * {@code perSecond}. Used where anyone may ask for work that costs a signature (OCSP answers for
 * serials never issued), so such requests cannot take the signer from everyone else.
 */
final class RateBudget {
    private final double perMilli;
    private final double capacity;
    private double tokens;
    private long last;

    RateBudget(int perSecond) {
        if (perSecond < 1) {
            throw new IllegalArgumentException("a budget of at least 1 per second");
        }
        this.perMilli = perSecond / 1000.0;
        this.capacity = perSecond;
        this.tokens = perSecond;
        this.last = Long.MIN_VALUE;
    }

    /** Takes one unit if there is one at {@code nowMillis}. */
    synchronized boolean take(long nowMillis) {
        if (last != Long.MIN_VALUE && nowMillis > last) {
            tokens = Math.min(capacity, tokens + (nowMillis - last) * perMilli);
        }
        if (last == Long.MIN_VALUE || nowMillis > last) {
            last = nowMillis;
        }
        if (tokens < 1) {
            return false;
        }
        tokens -= 1;
        return true;
    }
}
