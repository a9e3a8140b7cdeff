package dev.fleetpki.cli;

import dev.fleetpki.core.Actor;
import java.nio.file.Path;
import java.time.Clock;
import picocli.CommandLine.Option;

/** Options every command shares: where the CA home is and who the operator is. */
public final class HomeOption {
    @Option(names = "--home", paramLabel = "DIR", description = "CA home folder (default: $FLEETPKI_HOME, else the current folder)")
    Path home;

    @Option(names = "--operator", paramLabel = "NAME", description = "who is acting, for the audit log (default: $FLEETPKI_OPERATOR, else $USER)")
    String operator;

    public Path home() {
        if (home != null) {
            return home.toAbsolutePath();
        }
        String env = System.getenv("FLEETPKI_HOME");
        return Path.of(env != null && !env.isBlank() ? env : ".").toAbsolutePath().normalize();
    }

    public Actor actor() {
        String n = operator;
        if (n == null || n.isBlank()) {
            n = System.getenv("FLEETPKI_OPERATOR");
        }
        if (n == null || n.isBlank()) {
            n = System.getProperty("user.name", "local");
        }
        return Actor.operator(n);
    }

    public Fleet open() {
        return Fleet.open(home(), Clock.systemUTC());
    }
}
