package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.AuthorizationMatrixTest;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The fleetpki program's whole command tree is classified: the operator commands in
 * AuthorizationMatrixTest's map (whose issuing ones have rows there), and the two this module adds,
 * which issue as an operator through the authorizer (quickstart: the demo device; serve: the
 * server's own TLS certificate). A command added here and not classified fails this test.
 */
class CommandClassificationTest {
    @Test
    void everyCommandOfTheProgramIsClassified() {
        Set<String> commands = new TreeSet<>();
        AuthorizationMatrixTest.collect(dev.fleetpki.cli.Main.commandLine(Main.SUBCOMMANDS, null), "", commands);
        Set<String> classified = new TreeSet<>(AuthorizationMatrixTest.CLI_COMMANDS.keySet());
        classified.add("quickstart");
        classified.add("serve");
        assertThat(commands).isEqualTo(classified);
    }
}
