package dev.fleetpki.cli;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.core.revocation.CrlPublisher;
import dev.fleetpki.core.revocation.RevocationService;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "revoke", mixinStandardHelpOptions = true,
        description = {"Revoke a certificate, with time and reason (RFC 5280 5.3.1), and publish it at once: its OCSP answer is re-signed "
                + "and its CA's CRL regenerated (when the CA key is on this machine; else a running 'fleetpki serve' or the schedule does it).",
            "Reasons: unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation, "
                + "certificate-hold, privilege-withdrawn, aa-compromise."})
final class RevokeCommand implements Callable<Integer> {
    @Mixin HomeOption home;
    @Parameters(paramLabel = "SERIAL", description = "hex serial number") String serial;
    @Option(names = "--reason", defaultValue = "unspecified", description = "revocation reason (default: ${DEFAULT-VALUE})") String reason;
    @Option(names = "--invalid-since", paramLabel = "TIME",
            description = "when the key is known or suspected to have been compromised (RFC 3339 UTC, e.g. 2026-11-29T18:00:00Z): the CRL entry's invalidity date")
    String invalidSince;
    @Option(names = "--no-publish", description = "only record the revocation; leave CRL and OCSP to the server's schedule") boolean noPublish;
    @Option(names = "--json", description = "one JSON object: {\"certificate\": the REST API's certificate object, now revoked, "
            + "\"published\": {\"crls\": [{\"ca\", \"number\", \"entries\", \"ms\"}], \"notHere\": [{\"ca\", \"why\"}], "
            + "\"failed\": [{\"ca\", \"why\"}]} (null with --no-publish)}; exit 78 when something failed, as without it") boolean json;

    @Override
    public Integer call() {
        RevocationReason r = RevocationReason.parse(reason);
        Instant invalid = parseTime(invalidSince);
        String s = serial.replace(":", "").toLowerCase(Locale.ROOT);
        try (Fleet f = home.open()) {
            var now = f.clock().instant();
            Map<String, String> detail = new LinkedHashMap<>();
            detail.put("reason", r.configName());
            if (invalid != null) {
                detail.put("invalidSince", invalid.toString());
            }
            f.store().certificates().revoke(s, r, now, invalid, new AuditEvent(now, home.actor(), AuditAction.CERTIFICATE_REVOKE, "serial:" + s, detail));
            if (!json) {
                System.out.println("Revoked " + s + " at " + now + " (" + r.configName() + ")");
            }
            Published p = noPublish ? null : publish(f, List.of(s), home.actor(), !json);
            if (json) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("certificate", dev.fleetpki.core.CertificateJson.of(f.store().certificates().certificate(s).orElseThrow(), now));
                out.put("published", p == null ? null : p.json());
                Certs.printJson(out);
            }
            if (p != null) {
                p.failIfAny();
            }
        }
        return 0;
    }

    static Instant parseTime(String text) {
        if (text == null) {
            return null;
        }
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + text + "' is not an RFC 3339 UTC time like 2026-11-29T18:00:00Z");
        }
    }

    /**
     * Re-signs the OCSP answers of revoked certificates and regenerates their CAs' CRLs, saying what
     * it did. A CA whose key is elsewhere (an offline root, a station CA) is noted and left; a CA
     * whose key is configured here but cannot be opened fails the command (exit 78) once the others
     * are done: the revocation is recorded, and a cron job must be able to tell it was not published.
     */
    static void publish(Fleet f, List<String> serials, Actor actor) {
        publish(f, serials, actor, true).failIfAny();
    }

    /** What publishing did: the CRLs made, the CAs whose keys are elsewhere, and what failed ({@link #failIfAny} exits 78). */
    record Published(List<CrlPublisher.CrlRun> crls, List<String[]> notHere, List<String[]> failed) {
        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("crls", crls.stream().map(r -> Map.<String, Object>of("ca", r.ca(), "number", r.number(), "entries", r.entries(),
                    "ms", r.took().toMillis())).toList());
            m.put("notHere", notHere.stream().map(x -> Map.of("ca", x[0], "why", x[1])).toList());
            m.put("failed", failed.stream().map(x -> Map.of("ca", x[0], "why", x[1])).toList());
            return m;
        }

        void failIfAny() {
            if (!failed.isEmpty()) {
                throw new PkiException(ErrorKind.CONFIG, "the revocation is recorded, but " + String.join(" and ", failed.stream()
                        .map(x -> "the CRL of '" + x[0] + "' (" + x[1] + ")").toList()) + " was not published; fix the key or its passphrase "
                        + "and run 'fleetpki crl generate' (a running 'fleetpki serve' that can open the key also publishes it)");
            }
        }
    }

    /** As {@link #publish(Fleet, List, Actor)}, saying what it did when {@code print}; the caller decides what a failure does. */
    static Published publish(Fleet f, List<String> serials, Actor actor, boolean print) {
        List<CrlPublisher.CrlRun> runs = new java.util.ArrayList<>();
        List<String[]> notHere = new java.util.ArrayList<>();
        List<String[]> failed = new java.util.ArrayList<>();
        if (serials.isEmpty()) {
            return new Published(runs, notHere, failed);
        }
        RevocationService rev = f.revocation();
        for (String ca : rev.reSign(serials)) { // then the CRLs here, before exiting (no debounced run in a CLI)
            try {
                CrlPublisher.CrlRun run = rev.generateCrl(ca, actor);
                runs.add(run);
                if (print) {
                    System.out.println("Published: OCSP answer re-signed; CRL of " + ca + " number " + run.number() + " with " + run.entries()
                            + " entr" + (run.entries() == 1 ? "y" : "ies") + " (" + run.took().toMillis() + " ms)");
                }
            } catch (PkiException e) {
                if (e.kind() != ErrorKind.CONFIG) {
                    throw e;
                }
                var rec = f.store().ca(ca);
                boolean station = rec.map(c -> c.role() == dev.fleetpki.core.config.CaRole.STATION).orElse(false);
                if (station || rec.map(dev.fleetpki.core.CaRecord::keyElsewhere).orElse(false)) {
                    notHere.add(new String[] {ca, e.detail()});
                    if (print) {
                        System.out.println("Not published here (" + e.detail() + ")" + (station ? "" : "; a running 'fleetpki serve' with the CA key publishes it"));
                    }
                } else {
                    failed.add(new String[] {ca, e.detail()});
                }
            }
        }
        return new Published(runs, notHere, failed);
    }
}
