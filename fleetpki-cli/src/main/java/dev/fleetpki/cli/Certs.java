package dev.fleetpki.cli;

import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.Pem;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;

/** PEM in and out for the CLI. */
public final class Certs {
    private Certs() {}

    static String pem(X509Certificate c) {
        try {
            return Pem.encode("CERTIFICATE", c.getEncoded());
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode certificate", e);
        }
    }

    public static String pemChain(X509Certificate leaf, List<X509Certificate> above) {
        StringBuilder sb = new StringBuilder(pem(leaf));
        sent(above).forEach(c -> sb.append(pem(c)));
        return sb.toString();
    }

    /** The CAs of a chain that are sent with a certificate: all but the self-signed root, the trust anchor. */
    static List<X509Certificate> sent(List<X509Certificate> above) {
        return above.stream().filter(c -> !c.getSubjectX500Principal().equals(c.getIssuerX500Principal())).toList();
    }

    static byte[] read(Path file, String what) {
        // opened once, its size taken from the open file (a factory batch reads one such file per device); a pipe
        // (size 0) is read to its end, up to the limit
        int limit = 1024 * 1024;
        try (var ch = java.nio.channels.FileChannel.open(file)) {
            long size = ch.size();
            byte[] b = size == 0 ? java.nio.channels.Channels.newInputStream(ch).readNBytes(limit + 1) : null;
            if (size > limit || b != null && b.length > limit) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, what + " " + file + " is larger than 1 MiB; that is not a " + what);
            }
            if (b != null) {
                return b;
            }
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) size);
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // until full or the end
            }
            return buf.hasRemaining() ? Arrays.copyOf(buf.array(), buf.position()) : buf.array();
        } catch (IOException e) {
            throw dev.fleetpki.kms.FileFailure.read(what, file, e);
        }
    }

    /**
     * What an issuing command prints on standard output: the chain as PEM, or with {@code json} the
     * REST API's certificate object with {@code chainPem} (the certificate and the CAs above it but the root).
     */
    static void printIssued(Fleet f, dev.fleetpki.core.IssuedCertificate issued, String chain, boolean json) {
        if (!json) {
            System.out.print(chain);
            return;
        }
        java.util.Map<String, Object> m = dev.fleetpki.core.CertificateJson.of(new dev.fleetpki.core.StoredCertificate(issued, null, null),
                f.clock().instant());
        m.put("chainPem", chain);
        printJson(m);
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /** What a command's {@code --json} prints: one JSON value on one line of standard output. */
    static void printJson(Object value) {
        try {
            System.out.println(JSON.writeValueAsString(value));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot write the answer as JSON", e);
        }
    }

    /** Every certificate in a PEM (or one DER) file; none: refused. */
    static List<X509Certificate> readCertificates(Path file) {
        return parseCertificates(read(file, "certificate"), file.toString());
    }

    static X509Certificate readCertificate(Path file) {
        return readCertificates(file).getFirst();
    }

    /**
     * Every certificate in PEM text (one or more blocks) or one DER certificate; anything else, or
     * nothing, is refused with what {@code source} (a file name) held.
     */
    static List<X509Certificate> parseCertificates(byte[] b, String source) {
        try {
            var all = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(b));
            if (all.isEmpty()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, source + " holds no certificate");
            }
            return all.stream().map(c -> (X509Certificate) c).toList();
        } catch (CertificateException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, source + " is not a PEM or DER certificate: " + e.getMessage());
        }
    }

    public static void writeCaFiles(Path home, List<CaRecord> cas) {
        for (CaRecord c : cas) {
            Pem.writePublicFile(home.resolve("ca").resolve(c.name() + ".pem"), pem(c.certificate()).getBytes(StandardCharsets.US_ASCII));
        }
    }

    /** The CAs as a table: name, role, parent, notAfter, subject. */
    public static void printCaTable(List<CaRecord> cas) {
        Table t = new Table("NAME", "ROLE", "PARENT", "NOT AFTER", "SUBJECT");
        for (CaRecord c : cas) {
            t.row(c.name(), c.role().configName(), c.parent() == null ? "-" : c.parent(), c.certificate().getNotAfter().toInstant().toString(),
                    c.certificate().getSubjectX500Principal().getName());
        }
        t.render().lines().forEach(l -> System.out.println("  " + l));
    }
}
