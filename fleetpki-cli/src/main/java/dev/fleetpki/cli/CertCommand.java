package dev.fleetpki.cli;

import dev.fleetpki.core.Durations;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.kms.KeyAlgorithm;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x509.AccessDescription;
import org.bouncycastle.asn1.x509.AuthorityInformationAccess;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.CRLDistPoint;
import org.bouncycastle.asn1.x509.DistributionPoint;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "cert", mixinStandardHelpOptions = true, description = "Issued certificates.",
        subcommands = {CertCommand.ListCerts.class, CertCommand.Show.class})
final class CertCommand {
    static void printTable(List<StoredCertificate> certs, Instant now) {
        if (certs.isEmpty()) {
            return;
        }
        Table t = new Table("SERIAL", "DEVICE", "PROFILE", "STATUS", "NOT AFTER", "ISSUED BY");
        for (StoredCertificate c : certs) {
            var i = c.issued();
            t.row(i.serialHex(), i.deviceId() == null ? "-" : i.deviceId(), i.profile(), c.status(now), i.notAfter().toString(), i.issuedBy().toString());
        }
        t.render().lines().forEach(l -> System.out.println("  " + l));
    }



    @Command(name = "list", mixinStandardHelpOptions = true, description = {"List certificates, newest first.",
            "For a cron job: 'fleetpki cert list --expiring-within 30d --json' lists the unrevoked ones that end within 30 days."})
    static final class ListCerts implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--device", paramLabel = "ID", description = "only this device's") String device;
        @Option(names = "--expiring-within", paramLabel = "DURATION", description = "only unrevoked certificates ending within this time, e.g. 30d")
        String expiring;
        @Option(names = "--limit", defaultValue = "1000", description = "at most this many, 1 to 100000 (default: ${DEFAULT-VALUE})") int limit;
        @Option(names = "--json", description = "one JSON object: {\"certificates\": [the REST API's certificate object: \"serial\", \"device\", "
                + "\"profile\", \"ca\", \"subject\", \"notBefore\", \"notAfter\", \"status\", \"revokedAt\", \"revocationReason\", ...], \"more\": true|false}")
        boolean json;

        @Override
        public Integer call() throws Exception {
            if (limit < 1 || limit > 100_000) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--limit must be 1 to 100000");
            }
            Instant before = null;
            try (Fleet f = home.open()) {
                Instant now = f.clock().instant();
                if (expiring != null) {
                    try {
                        before = now.plus(Durations.parse(expiring));
                    } catch (IllegalArgumentException e) {
                        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--expiring-within: " + e.getMessage());
                    }
                }
                List<StoredCertificate> page = f.store().certificates().certificates(device, now, before, limit + 1);
                boolean more = page.size() > limit;
                List<StoredCertificate> certs = more ? page.subList(0, limit) : page;
                if (json) {
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("certificates", certs.stream().map(c -> dev.fleetpki.core.CertificateJson.of(c, now)).toList());
                    out.put("more", more);
                    Certs.printJson(out);
                    return 0;
                }
                printTable(certs, now);
                System.out.println(more ? "the newest " + certs.size() + " certificates; there are more: raise --limit"
                        : certs.size() + " certificate" + (certs.size() == 1 ? "" : "s"));
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Decode one certificate for people.")
    static final class Show implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "SERIAL", description = "hex serial number") String serial;
        @Option(names = "--pem", description = "print the PEM instead") boolean pem;
        @Option(names = "--json", description = "the REST API's certificate object (docs/rest.md), without its href") boolean json;

        @Override
        public Integer call() throws Exception {
            try (Fleet f = home.open()) {
                StoredCertificate sc = f.store().certificates().certificate(serial.replace(":", "").toLowerCase(java.util.Locale.ROOT))
                        .orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no certificate with serial " + serial + "; list them with: fleetpki cert list"));
                if (json) {
                    Certs.printJson(dev.fleetpki.core.CertificateJson.of(sc, f.clock().instant()));
                    return 0;
                }
                if (pem) {
                    System.out.print(Certs.pem(sc.issued().certificate()));
                    return 0;
                }
                describe(sc, f.clock().instant());
            }
            return 0;
        }
    }

    static void describe(StoredCertificate sc, Instant now) {
        var i = sc.issued();
        X509Certificate c = i.certificate();
        line("Serial", i.serialHex());
        line("Status", sc.status(now) + (sc.revoked() ? " at " + sc.revokedAt() + " (" + sc.reason().configName() + ")" : ""));
        line("Device", i.deviceId() == null ? "-" : i.deviceId());
        line("Profile", i.profile());
        line("Subject", c.getSubjectX500Principal().getName());
        line("Issuer", c.getIssuerX500Principal().getName() + " (CA '" + i.caName() + "')");
        line("Not before", c.getNotBefore().toInstant().toString());
        line("Not after", c.getNotAfter().toInstant().toString());
        line("Public key", KeyAlgorithm.of(c.getPublicKey()).configName());
        line("Signature", c.getSigAlgName());
        try {
            line("Alt names", c.getSubjectAlternativeNames() == null ? "-" : c.getSubjectAlternativeNames().stream()
                    .map(l -> l.get(1).toString()).toList().toString());
            line("Ext. key usage", c.getExtendedKeyUsage() == null ? "-" : c.getExtendedKeyUsage().stream().map(CertCommand::ekuName).toList().toString());
        } catch (CertificateParsingException e) {
            line("Alt names", "(does not parse)");
        }
        line("Key usage", keyUsage(c.getKeyUsage()));
        line("CA", c.getBasicConstraints() >= 0 ? "yes, pathLen " + c.getBasicConstraints() : "no");
        byte[] ski = ext(c, Extension.subjectKeyIdentifier);
        if (ski != null) {
            line("Subject key id", HexFormat.ofDelimiter(":").formatHex(SubjectKeyIdentifier.getInstance(ski).getKeyIdentifier()));
        }
        byte[] aki = ext(c, Extension.authorityKeyIdentifier);
        if (aki != null) {
            line("Authority key id", HexFormat.ofDelimiter(":").formatHex(AuthorityKeyIdentifier.getInstance(aki).getKeyIdentifierOctets()));
        }
        byte[] crl = ext(c, Extension.cRLDistributionPoints);
        if (crl != null) {
            List<String> urls = new ArrayList<>();
            for (DistributionPoint dp : CRLDistPoint.getInstance(crl).getDistributionPoints()) {
                for (GeneralName g : GeneralNames.getInstance(dp.getDistributionPoint().getName()).getNames()) {
                    urls.add(g.getName().toString());
                }
            }
            line("CRL", String.join(", ", urls));
        }
        byte[] aia = ext(c, Extension.authorityInfoAccess);
        if (aia != null) {
            for (var ad : AuthorityInformationAccess.getInstance(aia).getAccessDescriptions()) {
                line(ad.getAccessMethod().equals(AccessDescription.id_ad_ocsp) ? "OCSP" : "CA issuers",
                        ad.getAccessLocation().getName().toString());
            }
        }
        line("Proof of possession", i.proofOfPossession() ? "yes (CSR signature verified)" : "no (issued from a bare public key)");
        line("Issued", i.issuedAt() + " by " + i.issuedBy() + " via " + i.protocol());
        try {
            line("DER size", c.getEncoded().length + " bytes");
        } catch (CertificateEncodingException e) {
            line("DER size", "?");
        }
    }

    private static byte[] ext(X509Certificate c, ASN1ObjectIdentifier oid) {
        byte[] v = c.getExtensionValue(oid.getId());
        return v == null ? null : ASN1OctetString.getInstance(v).getOctets();
    }

    private static String ekuName(String oid) {
        return switch (oid) {
            case "1.3.6.1.5.5.7.3.1" -> "serverAuth";
            case "1.3.6.1.5.5.7.3.2" -> "clientAuth";
            case "1.3.6.1.5.5.7.3.3" -> "codeSigning";
            case "1.3.6.1.5.5.7.3.9" -> "OCSPSigning";
            default -> oid;
        };
    }

    private static String keyUsage(boolean[] ku) {
        if (ku == null) {
            return "-";
        }
        String[] names = {"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign",
            "cRLSign", "encipherOnly", "decipherOnly"};
        List<String> out = new ArrayList<>();
        for (int i = 0; i < ku.length && i < names.length; i++) {
            if (ku[i]) {
                out.add(names[i]);
            }
        }
        return String.join(", ", out);
    }

    private static void line(String k, String v) {
        System.out.printf("%-20s %s%n", k + ":", v);
    }
}
