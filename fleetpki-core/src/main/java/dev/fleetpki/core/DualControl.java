package dev.fleetpki.core;

import dev.fleetpki.core.store.OperatorStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Second-operator approval ("four eyes") for the actions fleetpki.yaml names under {@code
 * dualControl}: approving a request kept for an operator, revoking a CA, revoking a firmware
 * signer. The first operator's call is recorded (audited, nothing done); the same call by a
 * different operator within {@link #WAIT} does it. The same operator twice, or a second call that
 * asks for something else (another reason), is refused. Actions not named run at once.
 */
public final class DualControl {
    /** How long a first approval waits for its second. */
    public static final Duration WAIT = Duration.ofHours(24);

    /** What can require a second operator. */
    public enum Action {
        REQUEST_APPROVE, CA_REVOKE, SIGNER_REVOKE;

        /** As fleetpki.yaml and the audit log write it: {@code request-approve}. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static Action parse(String name) {
            for (Action a : values()) {
                if (a.configName().equals(name)) {
                    return a;
                }
            }
            throw new IllegalArgumentException("'" + name + "' is not one of request-approve, ca-revoke, signer-revoke");
        }
    }

    /** A first operator's approval, waiting for a second. */
    public record FirstApproval(Action action, String target, String params, Actor by, Instant at) {
        public Instant expiresAt() {
            return at.plus(WAIT);
        }
    }

    /** What the caller is to do. */
    public sealed interface Decision {
        /** Go ahead; {@code first} is the first operator's approval when one was required (then call {@link #done}). */
        record Proceed(FirstApproval first) implements Decision {}

        /** Recorded as the first approval: do nothing now. */
        record Recorded(FirstApproval first) implements Decision {
            /** What to tell the operator. */
            public String message() {
                return first.action().configName() + " of " + first.target() + " recorded for " + first.by()
                        + "; a second operator must make the same request before " + first.expiresAt() + " (dualControl in fleetpki.yaml)";
            }
        }
    }

    private final Set<Action> required;
    private final OperatorStore store;
    private final Clock clock;

    public DualControl(Set<Action> required, OperatorStore store, Clock clock) {
        this.required = required.isEmpty() ? EnumSet.noneOf(Action.class) : EnumSet.copyOf(required);
        this.store = store;
        this.clock = clock;
    }

    public boolean requires(Action a) {
        return required.contains(a);
    }

    /** The waiting first approval of this action on this target, if any (an expired one is none; none without a read when the action needs no second operator). */
    public Optional<FirstApproval> waiting(Action a, String target) {
        if (!required.contains(a)) {
            return Optional.empty();
        }
        return store.firstApproval(a, target).filter(f -> clock.instant().isBefore(f.expiresAt()));
    }

    /**
     * Decides a call of {@code who}: go ahead, or recorded as the first approval. CONFLICT when
     * {@code who} made the waiting first approval, or it asked for other {@code params}.
     */
    public Decision check(Action a, String target, String params, Actor who) {
        if (!required.contains(a)) {
            return new Decision.Proceed(null);
        }
        Instant now = clock.instant();
        Optional<FirstApproval> first = store.firstApproval(a, target);
        if (first.isPresent() && !now.isBefore(first.get().expiresAt())) {
            store.endFirstApproval(a, target, null);
            first = Optional.empty();
        }
        if (first.isEmpty()) {
            FirstApproval f = new FirstApproval(a, target, params, who, now);
            store.addFirstApproval(f, new AuditEvent(now, who, AuditAction.DUAL_CONTROL_FIRST, target,
                    Map.of("action", a.configName(), "params", params, "expires", f.expiresAt().toString())));
            return new Decision.Recorded(f);
        }
        FirstApproval f = first.get();
        if (f.by().equals(who)) {
            throw new PkiException(ErrorKind.CONFLICT, who + " made the first approval of " + a.configName() + " of " + target
                    + " at " + f.at() + "; a second, different operator must make the same request");
        }
        if (!f.params().equals(params)) {
            throw new PkiException(ErrorKind.CONFLICT, "the first approval of " + a.configName() + " of " + target + " (by " + f.by()
                    + ") asked for " + (f.params().isEmpty() ? "nothing more" : f.params()) + "; make the same request ("
                    + (params.isEmpty() ? "nothing more" : params) + " differs)");
        }
        return new Decision.Proceed(f);
    }

    /** After the action ran for the second operator: the first approval is used up (audited with both names). */
    public void done(Decision.Proceed p, Actor second) {
        if (p.first() == null) {
            return;
        }
        FirstApproval f = p.first();
        store.endFirstApproval(f.action(), f.target(), new AuditEvent(clock.instant(), second, AuditAction.DUAL_CONTROL_SECOND, f.target(),
                Map.of("action", f.action().configName(), "first", f.by().toString(), "firstAt", f.at().toString())));
    }
}
