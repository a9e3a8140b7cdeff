package dev.fleetpki.device;

import java.math.BigInteger;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * Keeps a device's certificate current: waits until the {@link RenewalPolicy} says, renews over
 * {@code simplereenroll} (optionally with a new key), backs off and retries after a failure
 * (network down, server refusing), and when the device was offline past its certificate's end
 * (the server would no longer accept it for renewal) enrolls again with the fallback credential
 * (a new one-time secret, a manufacturer IDevID). Every step keeps the installed certificate until
 * a checked new one replaces it.
 *
 * <p>{@link #step()} does one round and says when the next is due; {@link #start()} runs rounds on
 * a virtual thread until {@link #close()}.
 */
public final class Renewer implements AutoCloseable {
    /** A way to enroll from scratch when the certificate can no longer authenticate a renewal. */
    @FunctionalInterface
    public interface Fallback {
        DeviceIdentity.Result enroll(DeviceIdentity device, EstClient est, Clock clock);
    }

    public enum Outcome { WAITING, RENEWED, ENROLLED_BY_FALLBACK, PENDING, FAILED, EXPIRED_NO_FALLBACK }

    /** What a round did and when the next one is due. */
    public record Step(Outcome outcome, Instant next, String detail) {}

    private final DeviceIdentity device;
    private final EstClient est;
    private final RenewalPolicy policy;
    private final Clock clock;
    private final Fallback fallback;
    private final RandomGenerator rnd;
    private int failures;
    private BigInteger plannedFor;
    private Instant plannedAt;
    private Instant retryAt = Instant.MIN;
    private volatile Thread thread;
    private volatile Step last;

    public Renewer(DeviceIdentity device, EstClient est, RenewalPolicy policy, Clock clock, Fallback fallback, RandomGenerator rnd) {
        this.device = device;
        this.est = est;
        this.policy = policy;
        this.clock = clock;
        this.fallback = fallback;
        this.rnd = rnd;
    }

    /** One round: renews (or enrolls by the fallback) when due; never throws for a failed attempt. */
    public synchronized Step step() {
        Instant now = clock.instant();
        if (failures > 0 && now.isBefore(retryAt)) {
            return last = new Step(Outcome.WAITING, retryAt, "retries at " + retryAt + " after " + failures + " failed attempt(s)");
        }
        Optional<List<X509Certificate>> chain = device.chain();
        boolean expired = chain.isEmpty() || !now.isBefore(chain.get().getFirst().getNotAfter().toInstant());
        if (expired) {
            if (fallback == null) {
                return last = failed(Outcome.EXPIRED_NO_FALLBACK, now, "the certificate " + (chain.isEmpty() ? "is missing" : "ended at "
                        + chain.get().getFirst().getNotAfter().toInstant()) + " and no fallback credential is configured; enroll the device again");
            }
            return last = attempt(() -> fallback.enroll(device, est, clock), Outcome.ENROLLED_BY_FALLBACK, now);
        }
        X509Certificate leaf = chain.get().getFirst();
        Instant due = plan(leaf);
        if (now.isBefore(due) && failures == 0) {
            return last = new Step(Outcome.WAITING, due, "renews at " + due);
        }
        return last = attempt(() -> device.renew(est, clock, policy.rekey()), Outcome.RENEWED, now);
    }

    private Instant plan(X509Certificate leaf) {
        if (!leaf.getSerialNumber().equals(plannedFor)) { // drawn once per certificate, so the jitter does not move between rounds
            plannedFor = leaf.getSerialNumber();
            plannedAt = policy.renewAt(leaf, rnd);
        }
        return plannedAt;
    }

    private Step attempt(Supplier<DeviceIdentity.Result> call, Outcome success, Instant now) {
        try {
            DeviceIdentity.Result r = call.get();
            if (r.pending().isPresent()) {
                return new Step(Outcome.PENDING, now.plusSeconds(Math.max(1, r.pending().get().retryAfterSeconds())), r.pending().get().message());
            }
            failures = 0;
            X509Certificate leaf = r.chain().getFirst();
            return new Step(success, plan(leaf), "serial " + leaf.getSerialNumber().toString(16) + " until " + leaf.getNotAfter().toInstant());
        } catch (DeviceException e) {
            return failed(Outcome.FAILED, now, e.getMessage());
        }
    }

    private Step failed(Outcome o, Instant now, String why) {
        failures++;
        retryAt = now.plus(policy.retryDelay(failures, rnd));
        return new Step(o, retryAt, why);
    }

    /** The last round's result, or null before the first. */
    public Step last() {
        return last;
    }

    /** Runs rounds on a virtual thread, sleeping until each next one is due. */
    public synchronized void start() {
        if (thread != null) {
            return;
        }
        thread = Thread.ofVirtual().name("fleetpki-renewer-" + device.deviceId()).start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                Step s = step();
                long wait = Math.max(0, Duration.between(clock.instant(), s.next()).toMillis());
                try {
                    Thread.sleep(Math.max(10, wait));
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    @Override
    public void close() {
        Thread t = thread;
        if (t != null) {
            t.interrupt();
        }
    }
}
