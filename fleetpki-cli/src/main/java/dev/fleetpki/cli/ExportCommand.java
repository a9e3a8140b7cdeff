package dev.fleetpki.cli;

import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRollover;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.kms.Pem;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "export", mixinStandardHelpOptions = true, description = "Export what relying parties need.",
        subcommands = ExportCommand.TrustBundle.class)
final class ExportCommand {
    @Command(name = "trust-bundle", mixinStandardHelpOptions = true,
            description = {"Write the PEM bundle relying parties trust: the root, then the issuing and code-signing CAs.",
                "During a CA rollover the successor is in it once published, and a retired CA no longer is (docs/rollover.md)."})
    static final class TrustBundle implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--out", paramLabel = "FILE", description = "write here instead of standard output") Path out;
        @Option(names = "--root-only", description = "only the root certificate") boolean rootOnly;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                StringBuilder sb = new StringBuilder();
                for (CaRecord c : f.store().cas().stream().sorted(Comparator.comparing(CaRecord::role)).toList()) {
                    boolean wanted = c.role() == CaRole.ROOT || (!rootOnly && (c.role() == CaRole.ISSUING || c.role() == CaRole.CODE_SIGNING));
                    if (wanted && CaRollover.published(f.store(), c.name())) {
                        sb.append("# ").append(c.name()).append(" (").append(c.role().configName()).append("): ")
                                .append(c.certificate().getSubjectX500Principal().getName()).append('\n');
                        sb.append(Certs.pem(c.certificate()));
                    }
                }
                if (out != null) {
                    Pem.writePublicFile(out, sb.toString().getBytes(StandardCharsets.US_ASCII));
                    System.err.println("Wrote trust bundle to " + out);
                } else {
                    System.out.print(sb);
                }
            }
            return 0;
        }
    }
}
