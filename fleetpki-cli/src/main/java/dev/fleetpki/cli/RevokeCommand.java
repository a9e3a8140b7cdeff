package dev.fleetpki.cli;

import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.RevocationReason;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "revoke", mixinStandardHelpOptions = true,
        description = {"Record a certificate's revocation, with time and reason (RFC 5280 5.3.1).",
            "Reasons: unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation, "
                + "certificate-hold, privilege-withdrawn, aa-compromise. Publishing CRLs and OCSP comes with 'fleetpki serve'."})
final class RevokeCommand implements Callable<Integer> {
    @Mixin HomeOption home;
    @Parameters(paramLabel = "SERIAL", description = "hex serial number") String serial;
    @Option(names = "--reason", defaultValue = "unspecified", description = "revocation reason (default: ${DEFAULT-VALUE})") String reason;

    @Override
    public Integer call() {
        RevocationReason r = RevocationReason.parse(reason);
        String s = serial.replace(":", "").toLowerCase(java.util.Locale.ROOT);
        try (Fleet f = home.open()) {
            var now = f.clock().instant();
            f.store().revoke(s, r, now, new AuditEvent(now, home.actor(), "certificate.revoke", "serial:" + s,
                    Map.of("reason", r.configName())));
            System.out.println("Revoked " + s + " at " + now + " (" + r.configName() + ")");
        }
        return 0;
    }
}
