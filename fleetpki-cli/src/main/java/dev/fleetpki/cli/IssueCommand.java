package dev.fleetpki.cli;

import dev.fleetpki.core.EnrollmentAuthorizer;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.Station;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.Crypto;
import dev.fleetpki.kms.Pem;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.concurrent.Callable;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "issue", mixinStandardHelpOptions = true,
        description = {"Issue a certificate from a bare public key (factory stations only).",
            "For a device that can export its public key but cannot build a CSR. Only a registered factory station may do this; "
                + "the certificate is recorded as issued without proof of possession."})
final class IssueCommand implements Callable<Integer> {
    @Mixin HomeOption home;
    @Option(names = "--public-key", required = true, paramLabel = "FILE", description = "SubjectPublicKeyInfo, PEM (PUBLIC KEY) or DER") Path publicKey;
    @Option(names = "--device", required = true, paramLabel = "ID") String device;
    @Option(names = "--station", required = true, paramLabel = "NAME", description = "the factory station doing this") String station;
    @Option(names = "--profile", defaultValue = "device") String profile;
    @Option(names = "--out", paramLabel = "FILE") Path out;

    @Option(names = "--json", description = "print the REST API's certificate object with \"chainPem\" instead of the PEM chain") boolean json;

    @Override
    public Integer call() {
        PublicKey key;
        try {
            key = parse(Certs.read(publicKey, "public key"));
        } catch (PkiException e) {
            if (e.kind() != ErrorKind.MALFORMED_REQUEST) {
                throw e;
            }
            throw new PkiException(e.kind(), publicKey + ": " + e.detail());
        }
        try (Fleet f = home.open()) {
            Station st = f.store().credentials().station(station).orElse(null);
            if (st == null || !st.active()) {
                PkiException e = new PkiException(ErrorKind.NOT_AUTHORIZED, "'" + station + "' is not an active factory station; only a "
                        + "factory station may issue from a bare public key (register one with: fleetpki station add NAME --fleet MODEL)");
                f.store().audit(AuditEvent.refusal(f.clock().instant(), home.actor(), "device:" + device, e, profile, "cli", "station"));
                throw e;
            }
            Authorization auth = switch (f.authorizer().decide(new EnrollmentCredential.FactoryStation(st), device, profile,
                    EnrollmentAuthorizer.Purpose.BARE_KEY, "cli")) {
                case EnrollmentAuthorizer.Allowed a -> a.authorization();
                case EnrollmentAuthorizer.NeedsApproval n -> throw new PkiException(ErrorKind.NOT_AUTHORIZED, n.reason());
            };
            IssuedCertificate issued = f.pipeline().issue(IssuanceRequest.fromBareKey(key, device, profile, "cli"), auth);
            String chain = Certs.pemChain(issued.certificate(), f.chainAbove(issued));
            if (out != null) {
                Pem.writePublicFile(out, chain.getBytes(StandardCharsets.US_ASCII));
            }
            Certs.printIssued(f, issued, chain, json);
        }
        return 0;
    }

    static PublicKey parse(byte[] b) {
        Crypto.init();
        try {
            SubjectPublicKeyInfo spki;
            String text = new String(b, StandardCharsets.ISO_8859_1);
            if (text.contains("-----BEGIN")) {
                try (PEMParser p = new PEMParser(new StringReader(text))) {
                    Object o = p.readObject();
                    if (!(o instanceof SubjectPublicKeyInfo s)) {
                        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the file holds " + dev.fleetpki.core.PemKind.of(o) + ", not a PUBLIC KEY; "
                                + (o instanceof org.bouncycastle.cert.X509CertificateHolder ? "take its key with: openssl x509 -pubkey -noout -in FILE"
                                : "export the public key with: openssl pkey -pubout"));
                    }
                    spki = s;
                }
            } else {
                spki = SubjectPublicKeyInfo.getInstance(b);
            }
            return new JcaPEMKeyConverter().setProvider(Crypto.bc()).getPublicKey(spki);
        } catch (PkiException e) {
            throw e;
        } catch (Exception e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the file is not a PEM or DER public key (SubjectPublicKeyInfo); "
                    + "export one with: openssl pkey -pubout");
        }
    }
}
