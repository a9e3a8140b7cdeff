package dev.fleetpki.cli;

import dev.fleetpki.core.AuditVerification;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "audit", mixinStandardHelpOptions = true, description = "The hash-chained audit log.",
        subcommands = {AuditCommand.Verify.class, AuditCommand.ListEvents.class})
final class AuditCommand {
    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Recompute the hash chain; report any edited, deleted or missing event (exit 65 when broken).")
    static final class Verify implements Callable<Integer> {
        @Mixin HomeOption home;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                AuditVerification v = f.store().verifyAudit();
                if (v.intact()) {
                    System.out.println("Audit log intact: " + v.events() + " events, head " + v.headHash());
                    return 0;
                }
                System.err.println("Audit log BROKEN (" + v.events() + " events checked):");
                v.problems().forEach(p -> System.err.println("  - " + p));
                return 65;
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show the newest audit events.")
    static final class ListEvents implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--last", defaultValue = "20") int last;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                for (var e : f.store().auditTail(last)) {
                    System.out.printf("%5d %s %-22s %-20s %-40s %s%n", e.get("seq"), e.get("at"), e.get("actor"), e.get("action"), e.get("target"), e.get("detail"));
                }
            }
            return 0;
        }
    }
}
