package dev.fleetpki.core;

/** Told of every issuance and refusal, after the fact (metrics). Must be cheap and must not throw. */
public interface IssuanceObserver {
    IssuanceObserver NONE = new IssuanceObserver() {
        @Override
        public void issued(String profile, String protocol, long nanos) {
            // nothing
        }

        @Override
        public void refused(ErrorKind kind, String profile, String protocol) {
            // nothing
        }
    };

    /** A certificate was committed; {@code nanos} from the call to its return. */
    void issued(String profile, String protocol, long nanos);

    void refused(ErrorKind kind, String profile, String protocol);
}
