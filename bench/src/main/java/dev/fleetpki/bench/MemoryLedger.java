package dev.fleetpki.bench;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.IssuanceLedger;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.SerialNumbers;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * A ledger that keeps nothing durable: the benchmark's control, showing what the pipeline costs
 * without a database. Never used outside bench/.
 */
final class MemoryLedger implements IssuanceLedger {
    private final Map<String, Device> devices = new ConcurrentHashMap<>();
    final LongAdder issued = new LongAdder();

    void add(Device d) {
        devices.put(d.id(), d);
    }

    @Override
    public Optional<Device> device(String id) {
        return Optional.ofNullable(devices.get(id));
    }

    @Override
    public String reserveSerial() {
        return SerialNumbers.hex(SerialNumbers.next());
    }

    @Override
    public void commitIssued(IssuedCertificate certificate, AuditEvent event, Authorization.Consumes consumes) {
        issued.increment();
    }

    @Override
    public long issuedBy(String ca) {
        return 0; // the benchmark issues from no station CA
    }

    @Override
    public void audit(AuditEvent event) {
        // not kept
    }
}
