package dev.fleetpki.cli;

import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.RevocationReason;
import dev.fleetpki.kms.Pem;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "ca", mixinStandardHelpOptions = true,
        description = "List CAs; move issuing CAs to and from an offline root; roll a CA over to a new key; revoke a sub-CA.",
        subcommands = {CaCommand.ListCas.class, CaCommand.Csr.class, CaCommand.Sign.class, CaCommand.Import.class, CaCommand.Rollover.class,
            CaCommand.Revoke.class})
final class CaCommand {
    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the CAs in the store.")
    static final class ListCas implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--json", description = "one JSON object: {\"cas\": [the REST API's CA object: \"name\", \"role\", \"subject\", \"parent\", "
                + "\"notBefore\", \"notAfter\", \"serial\", \"certificatePem\"], \"rollovers\": [{\"old\", \"new\", \"step\", \"since\"}]}")
        boolean json;

        @Override
        public Integer call() throws Exception {
            try (Fleet f = home.open()) {
                if (json) {
                    Map<String, Object> out = new java.util.LinkedHashMap<>();
                    out.put("cas", f.store().cas().stream().map(dev.fleetpki.core.CaJson::of).toList());
                    out.put("rollovers", f.store().rollovers().stream().map(r -> {
                        Map<String, Object> m = new java.util.LinkedHashMap<>();
                        m.put("old", r.oldName());
                        m.put("new", r.newName());
                        m.put("step", r.step().wireName());
                        m.put("since", r.updatedAt().toString());
                        return m;
                    }).toList());
                    Certs.printJson(out);
                    return 0;
                }
                Certs.printCaTable(f.store().cas());
                var rollovers = f.store().rollovers();
                if (!rollovers.isEmpty()) {
                    System.out.println("Rollovers:");
                    for (var r : rollovers) {
                        System.out.printf("  %-16s -> %-16s %-10s since %s%n", r.oldName(), r.newName(), r.step().wireName(), r.updatedAt());
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "csr", mixinStandardHelpOptions = true,
            description = "On the server: create an issuing (or code-signing) CA's key and write its certificate request for the offline root.")
    static final class Csr implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--name", required = true, description = "CA name from fleetpki.yaml") String name;
        @Option(names = "--out", description = "where to write the request (default: ca/NAME.csr)") Path out;

        @Override
        public Integer call() throws Exception {
            try (Fleet f = home.open()) {
                var req = f.ceremony(home.actor()).subCaRequest(name);
                Path file = out != null ? out : f.config().home().resolve("ca").resolve(name + ".csr");
                Pem.writePublicFile(file, Pem.encode("CERTIFICATE REQUEST", req.getEncoded()).getBytes(StandardCharsets.US_ASCII));
                System.out.println("Wrote the request for CA '" + name + "' to " + file);
                System.out.println("Next: on the offline root machine, 'fleetpki ca sign --name " + name + " --csr " + file.getFileName() + "'.");
            }
            return 0;
        }
    }

    @Command(name = "sign", mixinStandardHelpOptions = true,
            description = "On the offline root machine: sign an issuing CA's request with the root key.")
    static final class Sign implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--name", required = true, description = "CA name from fleetpki.yaml (its subject and name constraints are used)") String name;
        @Option(names = "--csr", required = true, description = "the request from 'fleetpki ca csr'") Path csr;
        @Option(names = "--out", description = "where to write the certificate (default: ca/NAME.pem)") Path out;
        @Option(names = "--successor", description = "the request is for the successor of CA NAME in a rollover (fleetpki ca rollover on the "
                + "server wrote it): its own subject, NAME's validity and name constraints") boolean successor;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                X509Certificate c = f.ceremony(home.actor()).signSubCa(Certs.read(csr, "certificate request"), name, successor);
                Path file = out != null ? out : f.config().home().resolve("ca").resolve(name + ".pem");
                Pem.writePublicFile(file, Certs.pem(c).getBytes(StandardCharsets.US_ASCII));
                System.out.println("Signed CA '" + name + "' (serial " + c.getSerialNumber().toString(16) + ", until "
                        + c.getNotAfter().toInstant() + ") to " + file);
                System.out.println(successor ? "Next: on the server, 'fleetpki ca rollover --name " + name + " --signed " + file.getFileName() + "'."
                        : "Next: on the server, 'fleetpki ca import --name " + name + " --cert " + file.getFileName() + " --root root.pem'.");
            }
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "On the server: import an issuing CA certificate signed by the offline root, with the root certificate.")
    static final class Import implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--name", required = true) String name;
        @Option(names = "--cert", required = true, description = "the certificate from 'fleetpki ca sign'") Path cert;
        @Option(names = "--root", required = true, description = "the root CA certificate") Path root;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                List<CaRecord> added = f.ceremony(home.actor()).importSubCa(name, Certs.readCertificate(cert), Certs.readCertificate(root));
                Certs.writeCaFiles(f.config().home(), added);
                System.out.println("Imported:");
                Certs.printCaTable(added);
            }
            return 0;
        }
    }

    @Command(name = "rollover", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Replace a root, issuing or code-signing CA with a successor that has a new key, before the old one expires, "
                    + "in recorded steps: key, certified (a new root is cross-signed both ways), published, switched, retired.",
                "Each run performs the steps not done yet, up to --to; a run cut short is run again and continues. "
                    + "Publish first and switch later, once devices have fetched the new anchors (docs/rollover.md)."})
    static final class Rollover implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--name", required = true, description = "the CA to replace (fleetpki ca list)") String name;
        @Option(names = "--to", defaultValue = "published", paramLabel = "STEP",
                description = "the last step to perform: key, certified, published, switched, retired (default: ${DEFAULT-VALUE})") String to;
        @Option(names = "--dry-run", description = "show the plan and where the rollover stands; change nothing") boolean dryRun;
        @Option(names = "--new-name", description = "the successor's name (default: NAME-2, or the next number)") String newName;
        @Option(names = "--subject", description = "the successor's subject (default: the old one with G2, G3... after its CN)") String subject;
        @Option(names = "--algorithm", description = "the successor's key algorithm (default: the old CA's): ecdsa-p256, ecdsa-p384, ed25519, "
                + "rsa-2048, rsa-3072, rsa-4096, ml-dsa-65") String algorithm;
        @Option(names = "--signed", paramLabel = "FILE", description = "what the offline root's machine signed: for an issuing or "
                + "code-signing CA, its successor's certificate (fleetpki ca sign --successor, from the request this command wrote at step "
                + "key); for the root itself, the NEW-rollover.pem its rollover there wrote (the new root and both cross certificates)") Path signed;

        @Override
        public Integer call() {
            dev.fleetpki.core.Rollover.Step until = dev.fleetpki.core.Rollover.Step.parse(to);
            try (Fleet f = home.open()) {
                var rollover = new dev.fleetpki.core.CaRollover(f.config(), f.cas(), f.store(), f.store().certificates(), f.clock(), home.actor());
                var options = new dev.fleetpki.core.CaRollover.Options(newName, subject,
                        algorithm == null ? null : dev.fleetpki.kms.KeyAlgorithm.parse(algorithm), signed == null ? List.of() : Certs.readCertificates(signed));
                var plan = rollover.plan(name, options);
                boolean offline = rollover.parentOffline(name);
                boolean waitForParent = offline && signed == null && until.compareTo(dev.fleetpki.core.Rollover.Step.KEY) > 0
                        && plan.current().map(r -> r.step() == dev.fleetpki.core.Rollover.Step.KEY).orElse(true);
                if (waitForParent) {
                    until = dev.fleetpki.core.Rollover.Step.KEY; // the parent signs elsewhere: stop at the request
                }
                final dev.fleetpki.core.Rollover.Step stopAt = until;
                System.out.println("Rollover of " + plan.role().configName() + " CA '" + name + "' to '" + plan.newName() + "' (" + plan.newSubject() + "):");
                for (var st : plan.steps()) {
                    String mark = st.done() ? "done" : st.step().compareTo(stopAt) <= 0 ? (dryRun ? "would" : "to do") : "later";
                    System.out.printf("  %-6s %-9s %s%n", mark, st.step().wireName(), st.what());
                }
                if (dryRun) {
                    System.out.println("Dry run: nothing changed.");
                    return 0;
                }
                boolean nothing = plan.steps().stream().allMatch(st -> st.done() || st.step().compareTo(stopAt) > 0);
                if (nothing && !waitForParent) {
                    System.out.println("Nothing to do up to step " + until.wireName() + ".");
                    return 0;
                }
                dev.fleetpki.core.Rollover done;
                if (nothing) {
                    done = plan.current().orElseThrow();
                } else {
                    System.out.println("Performing:");
                    done = rollover.perform(name, options, until, line -> System.out.println("  " + line));
                    System.out.println("The rollover of '" + name + "' is at step " + done.step().wireName() + ".");
                }
                if (done.atLeast(dev.fleetpki.core.Rollover.Step.CERTIFIED)) {
                    writeCertificates(f, done);
                }
                if (waitForParent) {
                    Path req = f.config().home().resolve("ca").resolve(done.newName() + ".csr");
                    byte[] request;
                    try {
                        request = rollover.successorRequest(name).getEncoded();
                    } catch (java.io.IOException e) {
                        throw new dev.fleetpki.core.PkiException(dev.fleetpki.core.ErrorKind.INTERNAL, "cannot encode the request: " + e.getMessage(), e);
                    }
                    Pem.writePublicFile(req, Pem.encode("CERTIFICATE REQUEST", request).getBytes(StandardCharsets.US_ASCII));
                    System.out.println("The parent's key is offline: wrote the request for '" + done.newName() + "' to " + req);
                    System.out.println("Next: on the root's machine, 'fleetpki ca sign --name " + name + " --successor --csr " + req.getFileName()
                            + " --out " + done.newName() + ".pem'; then here, 'fleetpki ca rollover --name " + name + " --signed "
                            + done.newName() + ".pem'");
                    return 0;
                }
                switch (done.step()) {
                    case KEY, CERTIFIED -> System.out.println("Next: fleetpki ca rollover --name " + name + " --to published");
                    case PUBLISHED -> System.out.println("Next, once devices have fetched the new CA certificates (EST cacerts, "
                            + "fleetpki-device anchors): fleetpki ca rollover --name " + name + " --to switched");
                    case SWITCHED -> System.out.println(done.role() == dev.fleetpki.core.config.CaRole.ROOT
                            ? "Next: roll over each issuing CA under the new root (fleetpki ca rollover --name ISSUING --to switched); "
                                    + "retire '" + name + "' after its last certificate has expired (--to retired)"
                            : "Running servers switch within seconds. Retire '" + name + "' after its last certificate has expired (--to retired).");
                    case RETIRED -> { }
                }
            }
            return 0;
        }
    }

    /** The successor's certificate, and a root's cross certificates, beside the ceremony's in ca/ (public files, rewritten as they are). */
    static void writeCertificates(Fleet f, dev.fleetpki.core.Rollover r) {
        Path dir = f.config().home().resolve("ca");
        List<String> wrote = new java.util.ArrayList<>();
        java.util.Map<String, X509Certificate> files = new java.util.LinkedHashMap<>();
        files.put(r.newName() + ".pem", f.store().ca(r.newName()).orElseThrow().certificate());
        if (r.newWithOld() != null) {
            files.put(r.newName() + "-by-" + r.oldName() + ".pem", r.newWithOld());
            files.put(r.oldName() + "-by-" + r.newName() + ".pem", r.oldWithNew());
        }
        StringBuilder bundle = new StringBuilder();
        for (var e : files.entrySet()) {
            String pem = Certs.pem(e.getValue());
            Pem.writePublicFile(dir.resolve(e.getKey()), pem.getBytes(StandardCharsets.US_ASCII));
            wrote.add(e.getKey());
            bundle.append(pem);
        }
        System.out.println("Certificates in " + dir + ": " + String.join(", ", wrote)
                + (r.newWithOld() != null ? " (NEW-by-OLD: the new root certified by the old one; OLD-by-NEW: the other way)" : ""));
        boolean rootHere = r.role() == dev.fleetpki.core.config.CaRole.ROOT && f.store().ca(r.oldName()).map(c -> !c.keyElsewhere()).orElse(false);
        if (rootHere) {
            // the three together, for a server that holds only the old root's certificate (an offline root's)
            String name = r.newName() + "-rollover.pem";
            Pem.writePublicFile(dir.resolve(name), bundle.toString().getBytes(StandardCharsets.US_ASCII));
            System.out.println("For a server that holds only '" + r.oldName() + "''s certificate: carry ca/" + name + " there and run "
                    + "'fleetpki ca rollover --name " + r.oldName() + " --signed " + name + "'");
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = {"Revoke a subordinate CA (issuing, code-signing) or the OCSP signer: its parent's CRL lists it from now on "
                    + "(regenerated here when the parent's key is on this machine).",
                "Relying parties that check the whole chain (openssl verify -crl_check_all, nginx ssl_crl) then refuse everything under it."})
    static final class Revoke implements Callable<Integer> {
        @Mixin HomeOption home;
        @picocli.CommandLine.Parameters(paramLabel = "NAME", description = "the CA's name (fleetpki ca list)") String name;
        @Option(names = "--reason", defaultValue = "ca-compromise", description = "revocation reason (default: ${DEFAULT-VALUE})") String reason;

        @Override
        public Integer call() {
            var r = RevocationReason.parse(reason);
            try (Fleet f = home.open()) {
                Instant now = f.clock().instant();
                CaRecord ca = f.store().ca(name).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                        "no CA named '" + name + "'; list them with: fleetpki ca list"));
                var dual = f.dualControl();
                var d = dual.check(dev.fleetpki.core.DualControl.Action.CA_REVOKE, "ca:" + name, "reason=" + r.configName(), home.actor());
                if (!Fleet.secondOperator(d)) {
                    return Fleet.AWAITING_SECOND;
                }
                f.store().revocation().revokeCa(name, r, now, new AuditEvent(now, home.actor(), AuditAction.CA_REVOKE, "ca:" + name,
                        Map.of("reason", r.configName(), "serial", ca.certificate().getSerialNumber().toString(16))));
                dual.done((dev.fleetpki.core.DualControl.Decision.Proceed) d, home.actor());
                System.out.println("Revoked CA " + name + " at " + now + " (" + r.configName() + ")");
                try {
                    var run = f.revocation().generateCrl(ca.parent(), home.actor());
                    System.out.println("Published: CRL of " + run.ca() + " number " + run.number() + " with " + run.entries() + " entries");
                } catch (PkiException e) {
                    if (e.kind() != ErrorKind.CONFIG) {
                        throw e;
                    }
                    System.out.println("Not published here (" + e.detail() + "); generate the CRL of " + ca.parent() + " where its key is");
                }
            }
            return 0;
        }
    }
}
