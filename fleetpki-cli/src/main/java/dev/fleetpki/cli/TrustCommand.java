package dev.fleetpki.cli;

import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.ManufacturerCa;
import dev.fleetpki.core.PkiException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "trust", mixinStandardHelpOptions = true,
        description = "Manufacturer CAs whose device certificates (IDevIDs) may enroll: a device presenting a TLS client certificate "
                + "that chains to one, naming a registered device, gets its operational certificate.",
        subcommands = {TrustCommand.AddManufacturer.class, TrustCommand.ListTrust.class, TrustCommand.Remove.class})
final class TrustCommand {
    @Command(name = "add-manufacturer", mixinStandardHelpOptions = true, description = {"Trust a device manufacturer's CA (its root, or "
        + "the CA that signs its device certificates).",
        "--map says which field of a device certificate is the registered device id: cn (the subject CN) or serial-number "
            + "(the subject serialNumber attribute, as IEEE 802.1AR IDevIDs carry it)."})
    static final class AddManufacturer implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "FILE", description = "the manufacturer CA certificate (PEM or DER)") Path file;
        @Option(names = "--name", description = "a name for it (default: the file name without extension)") String name;
        @Option(names = "--map", defaultValue = "cn", description = "cn or serial-number (default: ${DEFAULT-VALUE})") String map;
        @Option(names = "--fleet", required = true, paramLabel = "MODEL",
                description = "the device model its device certificates may enroll, or '*' for every model") String fleet;

        @Override
        public Integer call() {
            X509Certificate c = Certs.readCertificate(file);
            if (c.getBasicConstraints() < 0) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, file + " is not a CA certificate (no basicConstraints cA=true); "
                        + "import the manufacturer's CA, not a device certificate");
            }
            ManufacturerCa.MapBy mapBy;
            try {
                mapBy = ManufacturerCa.MapBy.parse(map);
            } catch (IllegalArgumentException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--map: " + e.getMessage());
            }
            String n = name != null ? name : file.getFileName().toString().replaceFirst("\\.[^.]*$", "");
            Device.checkId(n);
            String fp = Fingerprints.of(c);
            try (Fleet f = home.open()) {
                Instant now = f.clock().instant();
                f.store().credentials().addManufacturer(new ManufacturerCa(n, c, fp, mapBy, now, home.actor(), fleet), new AuditEvent(now, home.actor(),
                        AuditAction.TRUST_ADD_MANUFACTURER, "manufacturer:" + n, Map.of("subject", c.getSubjectX500Principal().getName(),
                        "sha256", fp, "map", mapBy.configName(), "fleet", fleet)));
                System.out.println("Trusting manufacturer CA " + n + ": " + c.getSubjectX500Principal().getName() + " (SHA-256 " + fp
                        + "), device id from the " + (mapBy == ManufacturerCa.MapBy.CN ? "subject CN" : "subject serialNumber")
                        + ", for " + ("*".equals(fleet) ? "every fleet" : "fleet " + fleet));
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List trusted manufacturer CAs.")
    static final class ListTrust implements Callable<Integer> {
        @Mixin HomeOption home;
        @picocli.CommandLine.Option(names = "--json", description = "one JSON object: {\"manufacturers\": [{\"name\", \"fleet\", \"mapBy\", "
                + "\"subject\", \"notAfter\", \"certificateSha256\", \"createdAt\", \"createdBy\"}]}") boolean json;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                if (json) {
                    java.util.List<Map<String, Object>> out = new java.util.ArrayList<>();
                    for (ManufacturerCa m : f.store().credentials().manufacturers()) {
                        Map<String, Object> j = new java.util.LinkedHashMap<>();
                        j.put("name", m.name());
                        j.put("fleet", m.fleet());
                        j.put("mapBy", m.mapBy().configName());
                        j.put("subject", m.certificate().getSubjectX500Principal().getName());
                        j.put("notAfter", m.certificate().getNotAfter().toInstant().toString());
                        j.put("certificateSha256", m.fingerprint());
                        j.put("createdAt", m.createdAt().toString());
                        j.put("createdBy", m.createdBy().toString());
                        out.add(j);
                    }
                    Certs.printJson(Map.of("manufacturers", out));
                    return 0;
                }
                System.out.printf("%-20s %-14s %-22s %s%n", "NAME", "MAP", "EXPIRES", "SUBJECT");
                for (ManufacturerCa m : f.store().credentials().manufacturers()) {
                    System.out.printf("%-20s %-14s %-22s %s%n", m.name(), m.mapBy().configName(), m.certificate().getNotAfter().toInstant(),
                            m.certificate().getSubjectX500Principal().getName());
                }
            }
            return 0;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Stop trusting a manufacturer CA.")
    static final class Remove implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                Instant now = f.clock().instant();
                f.store().credentials().removeManufacturer(name, new AuditEvent(now, home.actor(), AuditAction.TRUST_REMOVE, "manufacturer:" + name, Map.of()));
                System.out.println("No longer trusting manufacturer CA " + name);
            }
            return 0;
        }
    }
}
