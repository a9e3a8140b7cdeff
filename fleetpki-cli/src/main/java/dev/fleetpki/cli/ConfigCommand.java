package dev.fleetpki.cli;

import dev.fleetpki.core.Durations;
import dev.fleetpki.core.config.ConfigLoader;
import dev.fleetpki.core.config.FleetConfig;
import java.util.Comparator;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "config", mixinStandardHelpOptions = true, description = "Check the configuration.",
        subcommands = ConfigCommand.Check.class)
final class ConfigCommand {
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Load fleetpki.yaml, apply defaults and report every error at once (exit 78 when there are any).")
    static final class Check implements Callable<Integer> {
        @Mixin HomeOption home;

        @Override
        public Integer call() {
            FleetConfig c = ConfigLoader.load(home.home().resolve(ConfigLoader.FILE_NAME));
            System.out.println("fleetpki.yaml is valid.");
            System.out.println("  store:   " + c.storeUrl());
            System.out.println("  CAs:     " + c.allCas().stream().map(s -> s.name() + " (" + s.role().configName() + ", "
                    + s.algorithm().configName() + ", " + s.key().uri().replaceAll("[?].*$", "") + ")").toList());
            System.out.println("  profiles:");
            c.profiles().values().stream().sorted(Comparator.comparing(p -> p.name())).forEach(p ->
                    System.out.printf("    %-20s %-18s validity %-6s max %d bytes%n", p.name(), p.kind().configName(),
                            Durations.format(p.validity()), p.maxDerSize()));
            c.warnings().forEach(w -> System.out.println("  warning: " + w));
            return 0;
        }
    }
}
