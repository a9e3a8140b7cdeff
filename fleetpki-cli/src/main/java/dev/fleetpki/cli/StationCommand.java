package dev.fleetpki.cli;

import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.Station;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "station", mixinStandardHelpOptions = true,
        description = "Factory stations (the only callers that may issue from a bare public key).",
        subcommands = {StationCommand.Add.class, StationCommand.ListStations.class, StationCommand.Disable.class, StationCommand.Enable.class})
final class StationCommand {
    @Command(name = "add", mixinStandardHelpOptions = true, description = {"Register a factory station.",
        "With --certificate, the station enrolls over the network (EST, REST) by presenting that certificate as its TLS client "
            + "certificate, for the devices of --fleet: one device model, or '*' for every model (say it explicitly: a station "
            + "bound to no fleet enrolls nothing)."})
    static final class Add implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--certificate", paramLabel = "FILE", description = "the station's TLS client certificate (PEM or DER)") Path certificate;
        @Option(names = "--fleet", required = true, paramLabel = "MODEL", description = "the device model it may enroll, or '*' for every model") String fleet;

        @Override
        public Integer call() {
            Device.checkId(name);
            String fp = certificate == null ? null : Fingerprints.of(Certs.readCertificate(certificate));
            try (Fleet f = home.open()) {
                Map<String, String> detail = new LinkedHashMap<>();
                if (fp != null) {
                    detail.put("certificateSha256", fp);
                }
                detail.put("fleet", fleet);
                f.store().credentials().addStation(new Station(name, "ACTIVE", fp, fleet),
                        new AuditEvent(f.clock().instant(), home.actor(), AuditAction.STATION_ADD, "station:" + name, detail));
                System.out.println("Registered factory station " + name + " for " + ("*".equals(fleet) ? "every fleet" : "fleet " + fleet)
                        + (fp == null ? "" : " (client certificate SHA-256 " + fp + ")"));
            }
            return 0;
        }
    }

    @Command(name = "disable", mixinStandardHelpOptions = true, description = {"Disable a factory station: every node refuses its "
        + "certificate from the next request on, until it is enabled again.", "Disabling a disabled station is fine."})
    static final class Disable implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return setStatus(home, name, false);
        }
    }

    @Command(name = "enable", mixinStandardHelpOptions = true, description = {"Enable a disabled factory station again.",
        "Enabling an active station is fine."})
    static final class Enable implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return setStatus(home, name, true);
        }
    }

    private static int setStatus(HomeOption home, String name, boolean enable) {
        try (Fleet f = home.open()) {
            f.store().credentials().setStationStatus(name, enable ? "ACTIVE" : "DISABLED", new AuditEvent(f.clock().instant(), home.actor(),
                    enable ? AuditAction.STATION_ENABLE : AuditAction.STATION_DISABLE, "station:" + name, Map.of()));
            System.out.println((enable ? "Enabled" : "Disabled") + " factory station " + name);
        }
        return 0;
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List factory stations.")
    static final class ListStations implements Callable<Integer> {
        @Mixin HomeOption home;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                System.out.printf("%-20s %-8s %-16s %s%n", "NAME", "STATUS", "FLEET", "CLIENT CERTIFICATE SHA-256");
                for (Station st : f.store().credentials().stations()) {
                    System.out.printf("%-20s %-8s %-16s %s%n", st.name(), st.status().toLowerCase(Locale.ROOT),
                            st.fleet() == null ? "none" : st.fleet(), st.certSha256() == null ? "- (CLI only)" : st.certSha256());
                }
            }
            return 0;
        }
    }
}
