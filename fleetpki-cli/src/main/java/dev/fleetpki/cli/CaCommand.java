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

@Command(name = "ca", mixinStandardHelpOptions = true, description = "List CAs; move issuing CAs to and from an offline root; revoke a sub-CA.",
        subcommands = {CaCommand.ListCas.class, CaCommand.Csr.class, CaCommand.Sign.class, CaCommand.Import.class, CaCommand.Revoke.class})
final class CaCommand {
    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the CAs in the store.")
    static final class ListCas implements Callable<Integer> {
        @Mixin HomeOption home;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                Certs.printCaTable(f.store().cas());
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

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                X509Certificate c = f.ceremony(home.actor()).signSubCa(Certs.read(csr, "certificate request"), name);
                Path file = out != null ? out : f.config().home().resolve("ca").resolve(name + ".pem");
                Pem.writePublicFile(file, Certs.pem(c).getBytes(StandardCharsets.US_ASCII));
                System.out.println("Signed CA '" + name + "' (serial " + c.getSerialNumber().toString(16) + ", until "
                        + c.getNotAfter().toInstant() + ") to " + file);
                System.out.println("Next: on the server, 'fleetpki ca import --name " + name + " --cert " + file.getFileName()
                        + " --root root.pem'.");
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
                f.store().revocation().revokeCa(name, r, now, new AuditEvent(now, home.actor(), AuditAction.CA_REVOKE, "ca:" + name,
                        Map.of("reason", r.configName(), "serial", ca.certificate().getSerialNumber().toString(16))));
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
