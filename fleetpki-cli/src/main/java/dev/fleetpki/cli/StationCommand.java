package dev.fleetpki.cli;

import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.Station;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "station", mixinStandardHelpOptions = true,
        description = "Factory stations (the only callers that may issue from a bare public key).",
        subcommands = {StationCommand.Add.class, StationCommand.ListStations.class, StationCommand.Disable.class, StationCommand.Enable.class,
            StationCommand.Certify.class})
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

    @Command(name = "certify", mixinStandardHelpOptions = true, sortOptions = false, description = {
        "Where the root key is: certify an offline factory station's own CA from its request (docs/factory.md, \"Offline stations\").",
        "The certificate is a CA certificate (pathLen 0) whose critical name constraints permit only subjects under the device "
            + "profile's organization and OU=MODEL, carrying the station policy (the model, the quota of certificates and the end "
            + "of the production run). The station signs devices of that model with it while air-gapped; 'fleetpki factory sync' "
            + "brings what it signed into this store."})
    static final class Certify implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME", description = "the station's name (as in its journal and the central store)") String name;
        @Option(names = "--csr", required = true, paramLabel = "FILE", description = "the request the station made: fleetpki ca csr --name CA") Path csr;
        @Option(names = "--fleet", required = true, paramLabel = "MODEL", description = "the one device model it signs for") String fleet;
        @Option(names = "--quota", required = true, paramLabel = "N", description = "the most certificates it may sign") long quota;
        @Option(names = "--issue-for", defaultValue = "30d", paramLabel = "DURATION", description = "how long it may sign: the production run "
                + "(default: ${DEFAULT-VALUE})") String issueFor;
        @Option(names = "--validity", defaultValue = "2y", paramLabel = "DURATION", description = "how long the station CA lives: at least the run and the device "
                + "profile's validity after it (default: ${DEFAULT-VALUE}; at most 30y)") String validity;
        @Option(names = "--out", paramLabel = "FILE", description = "where to write the certificate (default: ca/station-NAME.pem)") Path out;

        @Override
        public Integer call() {
            Device.checkId(name);
            java.time.Duration v = dev.fleetpki.core.Durations.parse(validity);
            java.time.Duration run = dev.fleetpki.core.Durations.parse(issueFor);
            byte[] request = Certs.read(csr, "certificate request");
            try (Fleet f = home.open()) {
                var policy = new dev.fleetpki.core.StationPolicy(fleet, quota, f.clock().instant().plus(run));
                java.security.cert.X509Certificate c = f.ceremony(home.actor()).signStation(request, name, policy, v);
                Path file = out != null ? out : f.config().home().resolve("ca").resolve("station-" + name + ".pem");
                dev.fleetpki.kms.Pem.writePublicFile(file, Certs.pem(c).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                System.out.println("Certified station '" + name + "': CA '" + c.getSubjectX500Principal().getName() + "' (serial "
                        + c.getSerialNumber().toString(16) + ", until " + c.getNotAfter().toInstant() + ") for model " + fleet + ", at most "
                        + quota + " certificates, signing until " + policy.issueUntil() + ", to " + file);
                System.out.println("Next: on the station, 'fleetpki ca import --name CA --cert " + file.getFileName() + " --root root.pem'.");
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List factory stations.")
    static final class ListStations implements Callable<Integer> {
        @Mixin HomeOption home;
        @picocli.CommandLine.Option(names = "--json", description = "one JSON object: {\"stations\": [{\"name\", \"status\", \"fleet\", "
                + "\"clientCertificateSha256\"}]} (fleet \"*\": every fleet; null: none; the certificate null: CLI only)") boolean json;

        @Override
        public Integer call() throws Exception {
            try (Fleet f = home.open()) {
                if (json) {
                    List<Map<String, Object>> out = new java.util.ArrayList<>();
                    for (Station st : f.store().credentials().stations()) {
                        Map<String, Object> m = new java.util.LinkedHashMap<>();
                        m.put("name", st.name());
                        m.put("status", st.status().toLowerCase(Locale.ROOT));
                        m.put("fleet", st.fleet());
                        m.put("clientCertificateSha256", st.certSha256());
                        out.add(m);
                    }
                    Certs.printJson(Map.of("stations", out));
                    return 0;
                }
                Table t = new Table("NAME", "STATUS", "FLEET", "CLIENT CERTIFICATE SHA-256");
                for (Station st : f.store().credentials().stations()) {
                    t.row(st.name(), st.status().toLowerCase(Locale.ROOT), st.fleet() == null ? "none" : st.fleet(),
                            st.certSha256() == null ? "- (CLI only)" : st.certSha256());
                }
                System.out.print(t.render());
            }
            return 0;
        }
    }
}
