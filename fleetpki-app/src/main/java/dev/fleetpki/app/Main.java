package dev.fleetpki.app;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@code fleetpki} program: the operator commands of fleetpki-cli, and the two that run the
 * server of fleetpki-server ({@code quickstart}, whose {@code --serve} starts it, and
 * {@code serve}). This module is where the CLI and the server meet; neither depends on the other.
 */
public final class Main {
    /** Every subcommand, in the order --help lists them: set up, run, then the operator commands. */
    static final List<Class<?>> SUBCOMMANDS;

    static {
        List<Class<?>> all = new ArrayList<>();
        all.add(QuickstartCommand.class);
        all.add(dev.fleetpki.cli.Main.SUBCOMMANDS.getFirst()); // init
        all.add(ServeCommand.class);
        all.addAll(dev.fleetpki.cli.Main.SUBCOMMANDS.subList(1, dev.fleetpki.cli.Main.SUBCOMMANDS.size()));
        SUBCOMMANDS = List.copyOf(all);
    }

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        return dev.fleetpki.cli.Main.run(SUBCOMMANDS, args);
    }
}
