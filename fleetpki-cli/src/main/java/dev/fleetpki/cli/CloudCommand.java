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
        subcommands = {CloudCommand.VerificationCert.class, CloudCommand.Export.class})
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
                System.err.println("Verification certificate for code " + code + ", signed by CA '" + issued.caName() + "' (serial " + issued.serialHex()
                        + ", valid until " + issued.certificate().getNotAfter().toInstant() + ")" + (out == null ? "" : ", written to " + out)
                        + ". Upload it where the cloud asked for the verification certificate.");
                System.out.print(pem);
            }
            return 0;
        }
    }

    /** The clouds {@code cloud export} writes files for. */
    enum Cloud { azure, aws, golioth }

    @Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Write the files and thumbprints an IoT cloud wants when the fleet's CA is registered with it, and a "
                    + "README.txt with the steps (docs/cloud.md):",
                "  azure:   the root (or --ca) to upload to IoT Hub / DPS, the chain devices must present, SHA-1 and SHA-256 thumbprints",
                "  aws:     the CA that signs the devices (AWS IoT wants the direct issuer), a just-in-time provisioning template, the "
                    + "certificate id (SHA-256)",
                "  golioth: the root to upload to the project's certificates",
                "Writes only public certificates; nothing is issued (the proof of possession is 'fleetpki cloud verification-cert')."})
    static final class Export implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--for", required = true, paramLabel = "CLOUD", description = "azure, aws or golioth") Cloud cloud;
        @Option(names = "--ca", paramLabel = "NAME", description = "the CA to register (default: the root for azure and golioth, "
                + "the issuing CA that signs devices for aws)") String ca;
        @Option(names = "--policy", defaultValue = "fleet-device", paramLabel = "NAME",
                description = "aws: the IoT policy the provisioning template attaches (default: ${DEFAULT-VALUE})") String policy;
        @Option(names = "--out", paramLabel = "DIR", description = "where to write (default: cloud-CLOUD in the current folder)") Path out;

        @Override
        public Integer call() throws Exception {
            if (!policy.matches("[A-Za-z0-9_+=,.@-]{1,128}")) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--policy must be an AWS IoT policy name: 1 to 128 letters, digits or _+=,.@-");
            }
            try (Fleet f = home.open()) {
                String issuing = f.cas().current(f.config().defaultIssuer());
                String root = f.store().ca(issuing).map(c -> topOf(f, c)).orElseThrow();
                String caName = ca != null ? ca : cloud == Cloud.aws ? issuing : root;
                dev.fleetpki.core.CaRecord rec = f.store().ca(caName).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND,
                        "no CA named '" + caName + "'; 'fleetpki ca list' shows them"));
                if (rec.role() != dev.fleetpki.core.config.CaRole.ROOT && rec.role() != dev.fleetpki.core.config.CaRole.ISSUING) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + caName + "' is " + rec.role().configName()
                            + "; register the root or an issuing CA that signs devices");
                }
                java.security.cert.X509Certificate cert = rec.certificate();
                Path dir = out != null ? out : Path.of("cloud-" + cloud.name());
                java.nio.file.Files.createDirectories(dir);
                java.util.Map<String, String> files = new java.util.LinkedHashMap<>();
                String sha1 = dev.fleetpki.core.Fingerprints.thumbprint("SHA-1", cert.getEncoded());
                String sha256 = dev.fleetpki.core.Fingerprints.thumbprint("SHA-256", cert.getEncoded());
                // what devices send after their own certificate: the issuing CA and the CAs above it, up to (not including) the registered one
                List<java.security.cert.X509Certificate> deviceChain = new java.util.ArrayList<>();
                for (var c : f.cas().chainFrom(f.store().ca(issuing).orElseThrow())) {
                    if (c.equals(cert)) {
                        break;
                    }
                    deviceChain.add(c);
                }
                StringBuilder readme = new StringBuilder();
                switch (cloud) {
                    case azure -> {
                        files.put(caName + ".pem", Certs.pem(cert));
                        files.put(caName + ".cer", Certs.pem(cert));
                        readme.append(azureSteps(caName, sha1, sha256, deviceChain.isEmpty()));
                    }
                    case aws -> {
                        files.put(caName + ".pem", Certs.pem(cert));
                        files.put("jitp-template.json", jitpTemplate(policy));
                        readme.append(awsSteps(caName, sha256, rec.role() == dev.fleetpki.core.config.CaRole.ROOT && !deviceChain.isEmpty()));
                    }
                    case golioth -> {
                        files.put(caName + ".pem", Certs.pem(cert));
                        readme.append(goliothSteps(caName));
                    }
                }
                if (!deviceChain.isEmpty()) {
                    StringBuilder chain = new StringBuilder();
                    deviceChain.forEach(c -> chain.append(Certs.pem(c)));
                    files.put("device-chain.pem", chain.toString());
                }
                String thumbs = "CA:      " + caName + " (" + cert.getSubjectX500Principal().getName() + ")\n"
                        + "SHA-1:   " + sha1 + "\n"
                        + "SHA-256: " + sha256 + "\n"
                        + "valid:   " + cert.getNotBefore().toInstant() + " .. " + cert.getNotAfter().toInstant() + "\n";
                files.put("thumbprints.txt", thumbs);
                files.put("README.txt", readme.toString());
                for (var e : files.entrySet()) {
                    Pem.writePublicFile(dir.resolve(e.getKey()), e.getValue().getBytes(StandardCharsets.UTF_8));
                }
                System.out.println("Wrote " + String.join(", ", files.keySet()) + " to " + dir + " for " + cloud + ":");
                System.out.print(thumbs.indent(2));
                System.out.println("Next: " + dir.resolve("README.txt") + " lists the steps.");
            }
            return 0;
        }

        private static String topOf(Fleet f, dev.fleetpki.core.CaRecord c) {
            var chain = f.cas().chainFrom(c);
            java.security.cert.X509Certificate top = chain.getLast();
            return f.store().cas().stream().filter(r -> r.certificate().equals(top)).findFirst().orElseThrow().name();
        }

        private static String azureSteps(String ca, String sha1, String sha256, boolean direct) {
            return """
                    Azure IoT Hub / Device Provisioning Service: register CA '%1$s'
                    1. Upload %1$s.pem (or .cer) under Certificates (IoT Hub or DPS):
                         az iot hub certificate create --hub-name HUB --name %1$s --path %1$s.pem
                         az iot dps certificate create --dps-name DPS --resource-group RG --certificate-name %1$s --path %1$s.pem
                       The portal shows thumbprint %2$s (SHA-1) / %3$s (SHA-256): compare.
                    2. Prove possession: ask for a verification code, then
                         fleetpki cloud verification-cert --code CODE --ca %1$s --out verification.pem
                       and upload verification.pem (az iot hub certificate verify --etag ETAG --path verification.pem ...).
                       (Or choose "set certificate status to verified on upload".)
                    3. IoT Hub: devices are created with authentication "X.509 CA signed"; the device id must be the CN
                       of the device certificate, which fleetpki sets to the registered device id.
                       DPS: an enrollment group with attestation "certificate" and this CA; the device id becomes the CN.
                    4. Devices send their certificate %4$s in the TLS handshake.
                    """.formatted(ca, sha1, sha256, direct ? "(signed by this CA directly)" : "followed by device-chain.pem (the CAs between it and this one)");
        }

        private static String awsSteps(String ca, String sha256, boolean viaIntermediate) {
            return """
                    AWS IoT Core: register CA '%1$s' with just-in-time provisioning
                    1. aws iot get-registration-code
                    2. fleetpki cloud verification-cert --code CODE --ca %1$s --out verification.pem
                    3. Put the ARN of a role that lets AWS IoT register things (AWSIoTThingsRegistration) in jitp-template.json, then
                         aws iot register-ca-certificate --ca-certificate file://%1$s.pem --verification-cert file://verification.pem \\
                           --set-as-active --allow-auto-registration --registration-config file://jitp-template.json
                       The CA's certificate id is %2$s (lower case in the AWS console).
                    4. The policy named in jitp-template.json must exist (aws iot create-policy). On its first connection a device
                       is registered as thing CN (its fleetpki device id); that connection is closed, the next one works.
                    %3$s""".formatted(ca, sha256.toLowerCase(java.util.Locale.ROOT), viaIntermediate
                    ? "Note: AWS IoT looks for the CA that signed the device certificate; registering the root alone works only "
                            + "if devices send device-chain.pem too.\n" : "");
        }

        private static String goliothSteps(String ca) {
            return """
                    Golioth: certificate authentication for project PROJECT
                    1. In the console: Project settings -> Certificates -> Add CA certificate, type "Root", upload %1$s.pem
                       (golioth-cli: goliothctl certificate create --cert.type root --cert.file %1$s.pem).
                    2. Device certificates must name the project and the device: subject O=PROJECT (the profile's
                       'organization: PROJECT' in fleetpki.yaml) and CN=device id. Golioth creates the device on its first connection.
                    3. Devices send their certificate and device-chain.pem (if written) in the DTLS/TLS handshake.
                    """.formatted(ca);
        }

        /** AWS IoT's just-in-time provisioning template: a thing named by the certificate's CN, the certificate activated, the policy attached. */
        static String jitpTemplate(String policy) {
            String body = "{\"Parameters\":{\"AWS::IoT::Certificate::CommonName\":{\"Type\":\"String\"},"
                    + "\"AWS::IoT::Certificate::Id\":{\"Type\":\"String\"}},"
                    + "\"Resources\":{\"thing\":{\"Type\":\"AWS::IoT::Thing\",\"Properties\":{\"ThingName\":{\"Ref\":\"AWS::IoT::Certificate::CommonName\"}}},"
                    + "\"certificate\":{\"Type\":\"AWS::IoT::Certificate\",\"Properties\":{\"CertificateId\":{\"Ref\":\"AWS::IoT::Certificate::Id\"},"
                    + "\"Status\":\"ACTIVE\"}},"
                    + "\"policy\":{\"Type\":\"AWS::IoT::Policy\",\"Properties\":{\"PolicyName\":\"" + policy + "\"}}}}";
            return "{\n  \"templateBody\": \"" + body.replace("\\", "\\\\").replace("\"", "\\\"") + "\",\n  \"roleArn\": \"ROLE_ARN\"\n}\n";
        }
    }
}
