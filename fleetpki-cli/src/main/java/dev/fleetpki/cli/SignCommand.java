package dev.fleetpki.cli;

import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.kms.Pem;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "sign", mixinStandardHelpOptions = true,
        description = {"Sign a device's CSR and print the PEM chain (leaf, then issuing CA).",
            "Refused, with nothing stored but the refusal's audit event, when: the CSR's signature does not verify; the device "
                + "is not registered or not active; the CN (or URI SAN) is not the device id; the key breaks key policy; or the "
                + "certificate would outlive its issuer. The profile decides the certificate's content; requested extensions are not copied."})
final class SignCommand implements Callable<Integer> {
    @Mixin HomeOption home;
    @Option(names = "--csr", required = true, paramLabel = "FILE", description = "PKCS#10 request, PEM or DER") Path csr;
    @Option(names = "--device", paramLabel = "ID", description = "the registered device id") String device;
    @Option(names = "--profile", defaultValue = "device", description = "certificate profile (default: ${DEFAULT-VALUE})") String profile;
    @Option(names = "--registration-code", paramLabel = "CODE",
            description = "cloud-verification profile: the code Azure DPS / AWS IoT asked for (the CSR's CN)") String registrationCode;
    @Option(names = "--ca", paramLabel = "NAME", description = "sign with this CA instead of the profile's") String ca;
    @Option(names = "--out", paramLabel = "FILE", description = "also write the chain here") Path out;

    @Option(names = "--json", description = "print the REST API's certificate object with \"chainPem\" instead of the PEM chain") boolean json;

    @Override
    public Integer call() {
        UntrustedCsr parsed = UntrustedCsr.parse(Certs.read(csr, "CSR"));
        try (Fleet f = home.open()) {
            IssuanceRequest base = IssuanceRequest.fromCsr(parsed, device, profile, "cli");
            IssuanceRequest req = new IssuanceRequest(base.deviceId(), base.profile(), base.publicKey(), base.requestedCn(),
                    base.requestedSans(), true, "cli", registrationCode, ca);
            IssuedCertificate issued = f.pipeline().issue(req, f.authorizer().operator(home.actor(), device, profile, "cli"));
            String chain = Certs.pemChain(issued.certificate(), f.chainAbove(issued));
            if (out != null) {
                Pem.writePublicFile(out, chain.getBytes(StandardCharsets.US_ASCII));
                System.err.println("Issued serial " + issued.serialHex() + " to " + out);
            }
            Certs.printIssued(f, issued, chain, json);
        }
        return 0;
    }
}
