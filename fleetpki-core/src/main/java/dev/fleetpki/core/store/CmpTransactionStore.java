package dev.fleetpki.core.store;

import dev.fleetpki.core.CmpTransaction;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** CMP transactions between their messages (docs/cmp.md). */
public interface CmpTransactionStore {
    /** Records a new transaction; CONFLICT when its id was seen before. */
    void beginCmpTransaction(CmpTransaction t);

    Optional<CmpTransaction> cmpTransaction(String id);

    /** Moves a transaction on (state, nonce, request, serial, confirmBy), if it is still in the state it was read in; false otherwise. */
    boolean updateCmpTransaction(CmpTransaction read, CmpTransaction next);

    /** Issued certificates whose confirmation is overdue (confirmBy before {@code now}), oldest first. */
    List<CmpTransaction> unconfirmedCmpTransactions(Instant now, int limit);
}
