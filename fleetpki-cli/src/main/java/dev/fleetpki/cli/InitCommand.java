package dev.fleetpki.cli;

import dev.fleetpki.core.CaRecord;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "init", mixinStandardHelpOptions = true,
        description = {"Run the CA ceremony described in fleetpki.yaml.",
            "Creates a self-signed root, the issuing CA(s) signed by it (pathLen 0, optional name constraints), an OCSP signer and "
                + "an optional code-signing CA. Keys are created where the ceremony names them (file: or pkcs11:); certificates "
                + "go to ca/NAME.pem. Runs once per store."})
final class InitCommand implements Callable<Integer> {
    @Mixin HomeOption home;

    @Option(names = "--root-only", description = "create only the root (on an offline machine); sign issuing CAs later with 'ca sign'")
    boolean rootOnly;

    @Override
    public Integer call() {
        try (Fleet fleet = home.open()) {
            fleet.config().warnings().forEach(w -> System.err.println("fleetpki: warning: " + w));
            List<CaRecord> cas = fleet.ceremony(home.actor()).init(rootOnly);
            Certs.writeCaFiles(fleet.config().home(), cas);
            System.out.println("Ceremony complete in " + fleet.config().home() + ":");
            Certs.printCaTable(cas);
            System.out.println("Certificates written to " + fleet.config().home().resolve("ca") + "/");
            if (rootOnly) {
                System.out.println("Next: on the server, 'fleetpki ca csr --name " + fleet.config().defaultIssuer()
                        + "'; bring the request here and run 'fleetpki ca sign'.");
            }
        }
        return 0;
    }
}
