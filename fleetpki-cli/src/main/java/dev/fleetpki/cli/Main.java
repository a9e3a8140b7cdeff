package dev.fleetpki.cli;

import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.KeyStoreFailure;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code fleetpki} command tree of the operator commands. The {@code fleetpki} program
 * (fleetpki-app) adds {@code quickstart} and {@code serve}, which need the server module; this
 * module does not depend on it.
 */
@Command(name = "fleetpki", mixinStandardHelpOptions = true, version = "fleetpki 0.1.0",
        description = "A private certificate authority for IoT device fleets.%n",
        footer = {"%nThe CA home folder holds fleetpki.yaml, the store and the key files; set it with --home or FLEETPKI_HOME.",
            "Exit codes: 0 ok, 64 usage, 65 refused request, 66 not found or unreadable file, 70 internal, 73 file not writable, 74 I/O error, "
                + "75 recorded for a second operator (four eyes), 77 not allowed, 78 configuration or a key that cannot be opened."})
public final class Main implements Runnable {
    /** The operator subcommands, in the order --help lists them. */
    public static final List<Class<?>> SUBCOMMANDS = List.of(InitCommand.class, ConfigCommand.class, CaCommand.class,
            DeviceCommand.class, StationCommand.class, TrustCommand.class, RequestCommand.class, SignCommand.class, IssueCommand.class,
            CertCommand.class, RevokeCommand.class, CrlCommand.class, SignerCommand.class, FirmwareCommand.class, CloudCommand.class, WebhookCommand.class, FactoryCommand.class, TokenCommand.class, OperatorCommand.class,
            ExportCommand.class,
            AuditCommand.class, BackupCommand.Backup.class, BackupCommand.Restore.class, CommandLine.HelpCommand.class);

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        return run(SUBCOMMANDS, args);
    }

    /** Runs {@code args} against a tree of these subcommands; PkiException and key store failures become their exit codes. */
    public static int run(List<Class<?>> subcommands, String... args) {
        CommandLine cl = commandLine(subcommands, args.length > 0 ? args[0] : null);
        cl.setUsageHelpAutoWidth(true);
        usageErrorsExit64(cl);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof PkiException pe) {
                cmd.getErr().println("fleetpki: " + pe.getMessage());
                return pe.kind().exitCode();
            }
            if (ex instanceof dev.fleetpki.kms.FileFailure ff) {
                cmd.getErr().println("fleetpki: " + ff.getMessage());
                return ff.write() ? 73 : 66;
            }
            if (ex instanceof java.nio.file.FileSystemException fse) { // a file a command opened itself
                cmd.getErr().println("fleetpki: cannot use " + fse.getFile() + ": " + dev.fleetpki.kms.FileFailure.reason(fse));
                return 74;
            }
            if (ex instanceof KeyStoreFailure kf) {
                cmd.getErr().println("fleetpki: " + kf.getMessage());
                return 78;
            }
            cmd.getErr().println("fleetpki: internal error: " + ex);
            return 70;
        });
        return cl.execute(args);
    }

    /** Usage errors (an unknown option, a missing one, a bad value) exit 64, EX_USAGE, in every command of the tree. */
    private static void usageErrorsExit64(CommandLine cl) {
        cl.getCommandSpec().exitCodeOnInvalidInput(64);
        for (CommandLine sub : cl.getSubcommands().values()) {
            usageErrorsExit64(sub);
        }
    }

    /**
     * The command tree. Picocli reads every option of every command by reflection when it builds
     * one (about a third of a second at start-up), so when the first argument names a subcommand only
     * that one is added; anything else (no argument, --help, help, a typo) gets the whole tree.
     */
    static CommandLine commandLine(String first) {
        return commandLine(SUBCOMMANDS, first);
    }

    /** As {@link #commandLine(String)}, with these subcommands. */
    public static CommandLine commandLine(List<Class<?>> subcommands, String first) {
        CommandLine cl = new CommandLine(new Main());
        Class<?> only = null;
        for (Class<?> c : subcommands) {
            if (c != CommandLine.HelpCommand.class && c.getAnnotation(Command.class).name().equals(first)) {
                only = c;
            }
        }
        for (Class<?> c : subcommands) {
            if (only == null || c == only) {
                cl.addSubcommand(c);
            }
        }
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
