package dev.fleetpki.core;

import java.util.List;

/** Told of every issuance and refusal, after the fact (metrics, OCSP pre-signing). Must be cheap and must not throw. */
public interface IssuanceObserver {
    IssuanceObserver NONE = new IssuanceObserver() {};

    /** A certificate was committed; {@code nanos} from the call to its return. */
    default void issued(IssuedCertificate certificate, String protocol, long nanos) {
        // nothing
    }

    default void refused(ErrorKind kind, String profile, String protocol) {
        // nothing
    }

    /** A refusal whose reason is not an {@link ErrorKind} ({@code rate-limited}, {@code malformed-rate-limited}). */
    default void refused(String reason, String profile, String protocol) {
        // nothing
    }

    /** Tells each of {@code observers}, in order. */
    static IssuanceObserver all(IssuanceObserver... observers) {
        List<IssuanceObserver> list = List.of(observers);
        return new IssuanceObserver() {
            @Override
            public void issued(IssuedCertificate certificate, String protocol, long nanos) {
                for (IssuanceObserver o : list) {
                    o.issued(certificate, protocol, nanos);
                }
            }

            @Override
            public void refused(ErrorKind kind, String profile, String protocol) {
                for (IssuanceObserver o : list) {
                    o.refused(kind, profile, protocol);
                }
            }

            @Override
            public void refused(String reason, String profile, String protocol) {
                for (IssuanceObserver o : list) {
                    o.refused(reason, profile, protocol);
                }
            }
        };
    }
}
