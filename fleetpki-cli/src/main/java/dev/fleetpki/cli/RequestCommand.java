package dev.fleetpki.cli;

import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.kms.KeyAlgorithm;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "request", mixinStandardHelpOptions = true,
        description = "Enrollment requests no automatic rule accepted, waiting for an operator (and what became of them).",
        subcommands = {RequestCommand.ListRequests.class, RequestCommand.Show.class, RequestCommand.Approve.class, RequestCommand.Reject.class})
final class RequestCommand {
    @Command(name = "list", mixinStandardHelpOptions = true, description = "List requests, oldest first (default: the pending ones).")
    static final class ListRequests implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--status", defaultValue = "pending", description = "pending, issued, rejected or all (default: ${DEFAULT-VALUE})") String status;
        @Option(names = "--limit", defaultValue = "100") int limit;
        @Option(names = "--json", description = "one JSON object: {\"requests\": [...]}, each the REST API's request object without its "
                + "links (id, device, profile, status, credential, requestedBy, protocol, createdAt, decidedAt, decidedBy, reason, csrPem, serial)")
        boolean json;

        @Override
        public Integer call() {
            EnrollmentRequest.Status st;
            try {
                st = "all".equals(status) ? null : EnrollmentRequest.Status.valueOf(status.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--status must be pending, issued, rejected or all, not '" + status + "'");
            }
            try (Fleet f = home.open()) {
                List<EnrollmentRequest> rs = f.store().requests().requests(st, limit);
                if (json) {
                    Certs.printJson(java.util.Map.of("requests", rs.stream().map(dev.fleetpki.core.RequestJson::of).toList()));
                    return 0;
                }
                System.out.printf("%-16s %-24s %-10s %-9s %-13s %-24s %s%n", "ID", "DEVICE", "PROFILE", "STATUS", "CREDENTIAL", "CREATED", "REQUESTED BY");
                for (EnrollmentRequest r : rs) {
                    System.out.printf("%-16s %-24s %-10s %-9s %-13s %-24s %s%n", r.id(), r.deviceId(), r.profile(), r.status().configName(),
                            r.credential(), r.createdAt(), r.requestedBy());
                }
                System.out.println(rs.size() + " request" + (rs.size() == 1 ? "" : "s"));
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show a request and the CSR it carries.")
    static final class Show implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "ID") String id;
        @Option(names = "--json", description = "the REST API's request object without its links") boolean json;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                EnrollmentRequest r = f.store().requests().request(id).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                        "no request " + id + "; list them with: fleetpki request list --status all"));
                if (json) {
                    Certs.printJson(dev.fleetpki.core.RequestJson.of(r));
                    return 0;
                }
                System.out.println("Request:      " + r.id());
                System.out.println("Device:       " + r.deviceId() + (f.store().devices().deviceNow(r.deviceId()).isPresent() ? "" : " (not registered; approving registers it)"));
                System.out.println("Profile:      " + r.profile());
                System.out.println("Status:       " + r.status().configName());
                System.out.println("Credential:   " + r.credential() + " (" + r.requestedBy() + " over " + r.protocol() + ")");
                System.out.println("Created:      " + r.createdAt());
                if (r.decidedAt() != null) {
                    System.out.println("Decided:      " + r.decidedAt() + " by " + r.decidedBy() + (r.reason() == null ? "" : ": " + r.reason()));
                }
                if (r.serial() != null) {
                    System.out.println("Certificate:  " + r.serial());
                }
                var csr = UntrustedCsr.stored(r.csrDer());
                System.out.println("CSR subject:  " + csr.subject());
                System.out.println("CSR key:      " + KeyAlgorithm.of(csr.publicKey()).configName());
            }
            return 0;
        }
    }

    @Command(name = "approve", mixinStandardHelpOptions = true, description = {"Approve a pending request: the certificate is issued now "
        + "(registering the device first if a manufacturer certificate named one not registered yet); the device gets it when it "
        + "sends the same CSR again (EST) or polls the request (REST)."})
    static final class Approve implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "ID") String id;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                EnrollmentRequest r = f.store().requests().request(id).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                        "no request " + id + "; list them with: fleetpki request list"));
                if (r.status() != EnrollmentRequest.Status.PENDING) {
                    throw new PkiException(ErrorKind.CONFLICT, "request " + id + " is " + r.status().configName() + ", not pending");
                }
                var dual = f.dualControl();
                var d = dual.check(dev.fleetpki.core.DualControl.Action.REQUEST_APPROVE, "request:" + id, "", home.actor());
                if (!Fleet.secondOperator(d)) {
                    return Fleet.AWAITING_SECOND;
                }
                IssuedCertificate c = f.enrollment().approve(id, home.actor());
                dual.done((dev.fleetpki.core.DualControl.Decision.Proceed) d, home.actor());
                System.out.println("Approved request " + id + ": issued certificate " + c.serialHex() + " to " + c.deviceId());
            }
            return 0;
        }
    }

    @Command(name = "reject", mixinStandardHelpOptions = true, description = "Reject a pending request; the device is told so when it asks again.")
    static final class Reject implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "ID") String id;
        @Option(names = "--reason", description = "why (shown to the device and in the audit log)") String reason;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                f.enrollment().reject(id, reason, home.actor());
                System.out.println("Rejected request " + id);
            }
            return 0;
        }
    }
}
