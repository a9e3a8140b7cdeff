package dev.fleetpki.core;

import java.time.Instant;
import java.util.Locale;

/**
 * A CMP transaction (RFC 9810 5.1.1, one transactionID) as the server remembers it between
 * messages: whom it was for and by which credential, the nonce the next message must echo, and
 * what became of it. Its id is never reused: a second request with a known transactionID is a
 * replay (or a client bug) and is refused with transactionIdInUse.
 *
 * @param credential what protected the request: {@code secret:<id>} (a one-time secret's MAC) or
 *                   {@code certificate:<sha256>} (a signature by that certificate)
 * @param answerType the PKIBody type that carries the certificate (ip, cp or kup; rp, genp: none)
 * @param serverNonce the senderNonce of the server's last answer, hex: the client's next message
 *                    carries it as recipNonce (RFC 9810 5.1.1)
 * @param requestId the enrollment request kept for an operator, when pending
 * @param serial the certificate issued in this transaction
 * @param confirmBy when an issued certificate not confirmed by certConf is revoked (RFC 9810 5.3.18)
 */
public record CmpTransaction(String id, String deviceId, String credential, int answerType, State state, String serverNonce, String requestId, String serial,
                             Instant createdAt, Instant confirmBy) {
    public enum State {
        /** Received; nothing decided yet (or the decision failed). */
        OPEN,
        /** Kept for an operator; the client polls. */
        PENDING,
        /** Issued and waiting for the client's certConf. */
        ISSUED,
        /** Issued and confirmed (or implicitly confirmed). */
        CONFIRMED,
        /** Issued, then revoked: rejected in certConf or not confirmed in time. */
        REVOKED,
        /** Refused; the transaction is over. */
        FAILED;

        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public CmpTransaction with(State newState, String newNonce, String newRequest, String newSerial, Instant newConfirmBy) {
        return new CmpTransaction(id, deviceId, credential, answerType, newState, newNonce, newRequest, newSerial, createdAt, newConfirmBy);
    }
}
