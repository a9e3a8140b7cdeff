package dev.fleetpki.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cms.CMSException;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;

/**
 * An offline station's record of what its CA signed (docs/factory.md, "Offline stations"): a file
 * of JSON lines that only grows. Each entry carries the hash of the one before it
 * ({@code hash = SHA-256(previous hash, seq, serial, device, model, profile, issued at, proof of possession, DER)}, the first
 * following 32 zero bytes), so an entry changed, removed or put in another order breaks every hash
 * after it. The central store remembers the count and last hash it synced; a later journal must
 * hold those entries unchanged.
 *
 * <p>What leaves the station is an {@link #export export}: the whole journal in a CMS SignedData
 * ({@code openssl cms -verify} reads it) signed by the station CA's key, with its certificate and
 * the root.
 */
public final class StationJournal {
    public static final String FORMAT = "fleetpki-station-journal/1";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ZERO = "0".repeat(64);

    /** One certificate the station CA signed. */
    public record Entry(long seq, String serial, String deviceId, String model, String profile, long issuedAt, boolean proofOfPossession, byte[] der,
                        String hash) {}

    /** What an export holds, its signature checked against its signer certificate (not yet against a root: {@link StationSync} does). */
    public record Export(String station, String ca, X509Certificate caCertificate, List<X509Certificate> certificates, List<Entry> entries) {}

    private StationJournal() {}

    /** The journal's entries, every hash checked; none if the file does not exist. */
    public static List<Entry> read(Path file) {
        if (!Files.exists(file)) {
            return List.of();
        }
        try {
            List<Entry> out = new ArrayList<>();
            int n = 0;
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                out.add(entry(JSON.readTree(line), file + " line " + n));
            }
            check(out, file.toString());
            return out;
        } catch (IOException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "cannot read the station journal " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Appends the certificates not yet in the journal, each with the next seq and hash, and makes
     * the file durable (forced to the disk) before returning the whole journal.
     */
    public static List<Entry> append(Path file, List<Entry> current, List<Entry> unhashed) {
        if (unhashed.isEmpty()) {
            return current;
        }
        List<Entry> all = new ArrayList<>(current);
        StringBuilder lines = new StringBuilder();
        for (Entry e : unhashed) {
            long seq = all.size() + 1;
            String prev = all.isEmpty() ? ZERO : all.getLast().hash();
            Entry h = new Entry(seq, e.serial(), e.deviceId(), e.model(), e.profile(), e.issuedAt(), e.proofOfPossession(), e.der(), hash(prev, seq, e));
            all.add(h);
            lines.append(json(h)).append('\n');
        }
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(lines.toString().getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot append to the station journal " + file + ": " + e.getMessage(), e);
        }
        return all;
    }

    /**
     * Brings the journal up to date with the store: appends every certificate of {@code signed}
     * (what the station CA signed, oldest first) that it does not hold yet, with its device's
     * model, and returns the whole journal. Run after each batch and before each export, so a
     * batch cut short is journaled by the next run.
     */
    public static List<Entry> update(Path file, List<StoredCertificate> signed, java.util.function.Function<String, String> modelOf) {
        List<Entry> current = read(file);
        java.util.Set<String> have = new java.util.HashSet<>();
        current.forEach(e -> have.add(e.serial()));
        List<Entry> add = new ArrayList<>();
        for (StoredCertificate c : signed) {
            IssuedCertificate ic = c.issued();
            if (ic.deviceId() != null && have.add(ic.serialHex())) {
                add.add(new Entry(0, ic.serialHex(), ic.deviceId(), modelOf.apply(ic.deviceId()), ic.profile(), ic.issuedAt().toEpochMilli(),
                        ic.proofOfPossession(), ic.der(), null));
            }
        }
        return append(file, current, add);
    }

    /** The journal as it leaves the station: signed by the station CA's key, with its certificate and the CAs above it. */
    public static byte[] export(String station, String ca, List<Entry> entries, SigningKey key, X509Certificate caCertificate,
                                List<X509Certificate> above) {
        ObjectNode o = JSON.createObjectNode();
        o.put("format", FORMAT);
        o.put("station", station);
        o.put("ca", ca);
        ArrayNode arr = o.putArray("entries");
        entries.forEach(e -> arr.add(json(e)));
        try {
            CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
            gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(new JcaDigestCalculatorProviderBuilder().build())
                    .build(key.contentSigner(), caCertificate));
            List<X509Certificate> certs = new ArrayList<>();
            certs.add(caCertificate);
            certs.addAll(above);
            gen.addCertificates(new JcaCertStore(certs));
            return gen.generate(new CMSProcessableByteArray(JSON.writeValueAsBytes(o)), true).getEncoded();
        } catch (OperatorCreationException | CertificateEncodingException | CMSException | IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot sign the station export: " + e.getMessage(), e);
        }
    }

    /** Opens an export: one signer, whose certificate is in it and whose signature verifies; the journal's hashes checked. */
    public static Export open(byte[] der) {
        try {
            CMSSignedData sd = new CMSSignedData(der);
            Collection<SignerInformation> signers = sd.getSignerInfos().getSigners();
            if (signers.size() != 1 || sd.getSignedContent() == null) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a station export has one signer and its content; this file has "
                        + signers.size() + " signer(s)" + (sd.getSignedContent() == null ? " and no content" : ""));
            }
            SignerInformation si = signers.iterator().next();
            @SuppressWarnings("unchecked")
            Collection<X509CertificateHolder> match = sd.getCertificates().getMatches(si.getSID());
            if (match.isEmpty()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the export does not carry its signer's certificate");
            }
            X509CertificateHolder signerCert = match.iterator().next();
            boolean verified;
            try {
                verified = si.verify(new JcaSimpleSignerInfoVerifierBuilder().build(signerCert));
            } catch (org.bouncycastle.cms.CMSSignerDigestMismatchException changed) {
                verified = false;
            }
            if (!verified) {
                throw new PkiException(ErrorKind.BAD_SIGNATURE, "the export's signature does not verify: it was changed after the station signed it");
            }
            List<X509Certificate> certs = new ArrayList<>();
            @SuppressWarnings("unchecked")
            Collection<X509CertificateHolder> all = sd.getCertificates().getMatches(null);
            for (X509CertificateHolder h : all) {
                certs.add(IssuancePipeline.toX509(h));
            }
            JsonNode o = JSON.readTree((byte[]) sd.getSignedContent().getContent());
            if (!FORMAT.equals(o.path("format").asText())) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "not a station export (format '" + o.path("format").asText() + "', expected "
                        + FORMAT + ")");
            }
            List<Entry> entries = new ArrayList<>();
            int i = 0;
            for (JsonNode e : o.path("entries")) {
                entries.add(entry(e, "entry " + (++i)));
            }
            check(entries, "the export");
            return new Export(o.path("station").asText(), o.path("ca").asText(), IssuancePipeline.toX509(signerCert), certs, entries);
        } catch (CMSException | IOException | OperatorCreationException | java.security.cert.CertificateException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "not a signed station export (" + e.getMessage()
                    + "); make one on the station with 'fleetpki factory export'", e);
        }
    }

    /** The hash of entry {@code e} at {@code seq} after {@code prev}. */
    static String hash(String prev, long seq, Entry e) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(HexFormat.of().parseHex(prev));
            md.update(ByteBuffer.allocate(8).putLong(seq).array());
            for (String s : new String[] {e.serial(), e.deviceId(), e.model(), e.profile()}) {
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                md.update(ByteBuffer.allocate(4).putInt(b.length).array());
                md.update(b);
            }
            md.update(ByteBuffer.allocate(9).putLong(e.issuedAt()).put((byte) (e.proofOfPossession() ? 1 : 0)).array());
            md.update(e.der());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException(ex);
        }
    }

    private static void check(List<Entry> entries, String where) {
        String prev = ZERO;
        long seq = 0;
        for (Entry e : entries) {
            seq++;
            if (e.seq() != seq || !hash(prev, seq, e).equals(e.hash())) {
                throw new PkiException(ErrorKind.BAD_SIGNATURE, where + ": entry " + seq + " (serial " + e.serial() + ") does not follow the one "
                        + "before it: the journal was changed, truncated in the middle or reordered");
            }
            prev = e.hash();
        }
    }

    private static ObjectNode json(Entry e) {
        ObjectNode o = JSON.createObjectNode();
        o.put("seq", e.seq());
        o.put("serial", e.serial());
        o.put("device", e.deviceId());
        o.put("model", e.model());
        o.put("profile", e.profile());
        o.put("issuedAt", e.issuedAt());
        o.put("proofOfPossession", e.proofOfPossession());
        o.put("der", Base64.getEncoder().encodeToString(e.der()));
        o.put("hash", e.hash());
        return o;
    }

    private static Entry entry(JsonNode o, String where) {
        for (String f : List.of("seq", "serial", "device", "model", "profile", "issuedAt", "proofOfPossession", "der", "hash")) {
            if (!o.hasNonNull(f)) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, where + ": no '" + f + "'");
            }
        }
        try {
            return new Entry(o.path("seq").asLong(), o.path("serial").asText(), o.path("device").asText(), o.path("model").asText(),
                    o.path("profile").asText(), o.path("issuedAt").asLong(), o.path("proofOfPossession").asBoolean(), Base64.getDecoder().decode(o.path("der").asText()), o.path("hash").asText());
        } catch (IllegalArgumentException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, where + ": 'der' is not base64");
        }
    }
}
