package dev.fleetpki.store;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.SerialNumbers;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Random serials reserved in the store ahead of need, in batches: issuance takes one that is
 * already durable and unique instead of waiting for a reservation of its own. A batch is
 * refilled in the background when the pool runs low; serials left in the pool when the process
 * stops stay reserved and are never used, which is harmless.
 */
final class SerialPool {
    static final int BATCH = 1000;
    static final int LOW_WATER = 300;

    private final Consumer<List<String>> reserve;
    private final ConcurrentLinkedQueue<String> ready = new ConcurrentLinkedQueue<>();
    /** How many serials {@link #ready} holds (its own size() walks the whole queue). */
    private final AtomicInteger available = new AtomicInteger();
    private final AtomicBoolean refilling = new AtomicBoolean();
    private final Object refillLock = new Object();

    SerialPool(Consumer<List<String>> reserve) {
        this.reserve = reserve;
    }

    String take() {
        String s = poll();
        if (available.get() < LOW_WATER && refilling.compareAndSet(false, true)) {
            Thread.ofVirtual().name("fleetpki-serials").start(() -> {
                try {
                    refill();
                } catch (RuntimeException e) {
                    // the next take() that finds the pool empty refills in the foreground and reports
                } finally {
                    refilling.set(false);
                }
            });
        }
        while (s == null) {
            refill();
            s = poll();
        }
        return s;
    }

    private String poll() {
        String s = ready.poll();
        if (s != null) {
            available.decrementAndGet();
        }
        return s;
    }

    private void refill() {
        synchronized (refillLock) {
            if (available.get() >= LOW_WATER) {
                return;
            }
            for (int attempt = 0; ; attempt++) {
                List<String> batch = new ArrayList<>(BATCH);
                for (int i = 0; i < BATCH; i++) {
                    batch.add(SerialNumbers.hex(SerialNumbers.next()));
                }
                try {
                    reserve.accept(batch);
                    ready.addAll(batch);
                    available.addAndGet(batch.size());
                    return;
                } catch (PkiException e) {
                    // a collision with an earlier reservation (astronomically rare): draw a new batch
                    if (e.kind() != ErrorKind.CONFLICT || attempt >= 2) {
                        throw e;
                    }
                }
            }
        }
    }
}
