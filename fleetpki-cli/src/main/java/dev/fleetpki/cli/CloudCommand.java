package dev.fleetpki.cli;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.Pem;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Handing the fleet's CAs to IoT clouds (docs/cloud.md). */
@Command(name = "cloud", mixinStandardHelpOptions = true,
        description = "Hand the fleet's CAs to IoT clouds: Azure IoT Hub / DPS and AWS IoT (docs/cloud.md).",
        subcommands = {CloudCommand.VerificationCert.class})
final class CloudCommand {
    /** What a registration code may look like: Azure and AWS give hex or alphanumeric codes of up to 64 characters. */
    static final Pattern CODE = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    @Command(name = "verification-cert", mixinStandardHelpOptions = true,
            description = {"Prove possession of a CA's key to a cloud that registers the CA: a certificate whose CN is the registration "
                    + "(verification) code the cloud gave, signed by that CA, printed as PEM.",
                "Azure IoT Hub and DPS call it the verification certificate, AWS IoT the verification certificate of register-ca-certificate. "
                    + "Its key is made for it and not kept: the cloud checks only the CA's signature and the CN. Audited like any "
                    + "issuance; valid for the cloud-verification profile's validity (1 day by default)."})
    static final class VerificationCert implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--code", required = true, paramLabel = "CODE", description = "the registration (verification) code the cloud gave")
        String code;
        @Option(names = "--ca", paramLabel = "NAME", description = "the CA being registered (default: the first issuing CA, which signs devices)")
        String ca;
        @Option(names = "--profile", defaultValue = "cloud-verification", paramLabel = "NAME",
                description = "a profile of kind cloud-verification (default: ${DEFAULT-VALUE})")
        String profile;
        @Option(names = "--out", paramLabel = "FILE", description = "also write the certificate here (PEM)") Path out;

        @Override
        public Integer call() {
            if (!CODE.matcher(code).matches()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the registration code must be 1 to 64 letters, digits, '.', '_' or '-', "
                        + "as the cloud shows it; copy it from the portal or CLI output");
            }
            try (Fleet f = home.open()) {
                String caName = ca != null ? ca : f.config().issuing().getFirst().name();
                IssuanceRequest req = new IssuanceRequest(null, profile, KeyAlgorithm.EC_P256.generate().getPublic(), code, List.of(), true, "cli",
                        code, caName);
                IssuedCertificate issued = f.pipeline().issue(req, f.authorizer().operator(home.actor(), null, profile, "cli"));
                String pem = Pem.encode("CERTIFICATE", issued.der());
                if (out != null) {
                    Pem.writePublicFile(out, pem.getBytes(StandardCharsets.US_ASCII));
                }
                System.err.println("Verification certificate for code " + code + ", signed by CA '" + caName + "' (serial " + issued.serialHex()
                        + ", valid until " + issued.certificate().getNotAfter().toInstant() + ")" + (out == null ? "" : ", written to " + out)
                        + ". Upload it where the cloud asked for the verification certificate.");
                System.out.print(pem);
            }
            return 0;
        }
    }
}
