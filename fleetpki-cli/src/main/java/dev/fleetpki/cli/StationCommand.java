package dev.fleetpki.cli;

import dev.fleetpki.core.AuditEvent;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "station", mixinStandardHelpOptions = true,
        description = "Factory stations (the only callers that may issue from a bare public key).",
        subcommands = StationCommand.Add.class)
final class StationCommand {
    @Command(name = "add", mixinStandardHelpOptions = true, description = "Register a factory station.")
    static final class Add implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            dev.fleetpki.core.Device.checkId(name);
            try (Fleet f = home.open()) {
                f.store().addStation(name, new AuditEvent(f.clock().instant(), home.actor(), "station.add", "station:" + name, Map.of()));
                System.out.println("Registered factory station " + name);
            }
            return 0;
        }
    }
}
