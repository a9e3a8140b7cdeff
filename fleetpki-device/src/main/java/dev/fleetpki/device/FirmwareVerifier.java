package dev.fleetpki.device;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.cert.CertPathValidator;
import java.security.interfaces.ECPublicKey;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CRL;
import java.security.cert.X509CRLEntry;
import java.security.cert.X509Certificate;
import java.text.ParseException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.ASN1GeneralizedTime;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.CMSAttributes;
import org.bouncycastle.asn1.cms.Time;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.CMSException;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.util.Selector;

/**
 * What a device checks before it installs a firmware image signed by fleetpki (the cms and raw
 * formats): the signature over the manifest; the signer's chain to the pinned fleet root, with the
 * codeSigning extended key usage, valid at the signing time; the signer not revoked before it
 * signed (by the CRL of its CA); the image's SHA-256 and size; the device model; and anti-rollback
 * (a version newer than the installed one, a security counter not below the installed one, and the
 * lowest version the image may replace). The first check that fails throws a {@link DeviceException}
 * that says which and why; nothing is installed by this class.
 *
 * <p>The signing time is the one fleetpki's clock put in the signature (a CMS signed attribute, the
 * manifest's {@code signedAt}): it tells images signed before a revocation from those signed after,
 * but someone holding a stolen signer key can write any time there (docs/firmware.md).
 */
public final class FirmwareVerifier {
    static final String CODE_SIGNING = "1.3.6.1.5.5.7.3.3";
    static final byte[] RAW_MAGIC = "FPKIFW1\0".getBytes(StandardCharsets.US_ASCII);

    private final X509Certificate root;
    private final List<X509CRL> crls;
    private final boolean checkRevocation;

    private FirmwareVerifier(X509Certificate root, List<X509CRL> crls, boolean checkRevocation) {
        this.root = root;
        this.crls = List.copyOf(crls);
        this.checkRevocation = checkRevocation;
    }

    /** A verifier that checks revocation with these CRLs (the code-signing CA's; the root's for the CA itself). */
    public static FirmwareVerifier withCrls(X509Certificate root, List<X509CRL> crls) {
        return new FirmwareVerifier(root, crls, true);
    }

    /** A verifier that does not check revocation: say so explicitly (a device with no CRL). */
    public static FirmwareVerifier withoutRevocationCheck(X509Certificate root) {
        return new FirmwareVerifier(root, List.of(), false);
    }

    /** What the device has installed now, and what it is. */
    public record Installed(String model, String version, long securityCounter) {}

    /** A verified manifest: what the image is and who signed it when. */
    /** @param digest the image's digest as the manifest names it: {@code sha256:<hex>} or {@code sha384:<hex>} */
    public record Verified(String digest, long size, String version, String model, long securityCounter, String minimumPreviousVersion,
                           String signer, X509Certificate signerCertificate, Instant signedAt, boolean revocationChecked) {}

    /** Verifies a detached CMS signature over a manifest, and the image against it. */
    public Verified verifyCms(byte[] manifest, byte[] signature, InputStream image, Installed installed) throws IOException {
        CMSSignedData cms;
        try {
            cms = new CMSSignedData(new CMSProcessableByteArray(manifest), signature);
        } catch (CMSException | RuntimeException e) {
            throw new DeviceException("the signature is not a CMS SignedData (" + e.getMessage() + "); refused");
        }
        Collection<SignerInformation> signers = cms.getSignerInfos().getSigners();
        if (signers.size() != 1) {
            throw new DeviceException("the signature has " + signers.size() + " signers; fleetpki signs with exactly one; refused");
        }
        SignerInformation si = signers.iterator().next();
        @SuppressWarnings("unchecked")
        Collection<X509CertificateHolder> matches = cms.getCertificates().getMatches((Selector<X509CertificateHolder>) (Selector<?>) si.getSID());
        if (matches.isEmpty()) {
            throw new DeviceException("the signature does not carry its signer's certificate; refused");
        }
        X509Certificate signer = x509(matches.iterator().next());
        Attribute time = si.getSignedAttributes() == null ? null : si.getSignedAttributes().get(CMSAttributes.signingTime);
        if (time == null) {
            throw new DeviceException("the signature has no signing time; fleetpki always signs one; refused");
        }
        Instant signedAt = Time.getInstance(time.getAttrValues().getObjectAt(0)).getDate().toInstant();
        if (signedAt.isBefore(signer.getNotBefore().toInstant()) || signedAt.isAfter(signer.getNotAfter().toInstant())) {
            throw new DeviceException("the signer's certificate is not valid at the signing time " + signedAt + " (it is valid "
                    + signer.getNotBefore().toInstant() + " to " + signer.getNotAfter().toInstant() + "); refused");
        }
        try {
            if (!si.verify(new JcaSimpleSignerInfoVerifierBuilder().build(signer))) {
                throw new DeviceException("the signature over the manifest does not verify (the manifest or the signature was changed); refused");
            }
        } catch (CMSException | OperatorCreationException e) {
            throw new DeviceException("the signature over the manifest does not verify (" + e.getMessage() + "); refused");
        }
        List<X509Certificate> others = new ArrayList<>();
        for (X509CertificateHolder h : cms.getCertificates().getMatches(null)) {
            others.add(x509(h));
        }
        return check(manifest(manifest), signer, others, signedAt, image, installed);
    }

    /** Verifies a raw-format signature file (manifest, ECDSA signature, signer chain), and the image against it. */
    public Verified verifyRaw(byte[] file, InputStream image, Installed installed) throws IOException {
        if (file.length < RAW_MAGIC.length || !Arrays.equals(Arrays.copyOf(file, RAW_MAGIC.length), RAW_MAGIC)) {
            throw new DeviceException("the signature file is not fleetpki's raw format (no FPKIFW1 magic); refused");
        }
        ByteBuffer b = ByteBuffer.wrap(file, RAW_MAGIC.length, file.length - RAW_MAGIC.length);
        byte[] manifest = field(b, "manifest");
        byte[] sig = field(b, "signature");
        List<X509Certificate> certs = new ArrayList<>();
        while (b.hasRemaining()) {
            certs.add(certificate(field(b, "certificate")));
        }
        if (certs.isEmpty()) {
            throw new DeviceException("the signature file carries no signer certificate; refused");
        }
        X509Certificate signer = certs.getFirst();
        String alg = signer.getPublicKey().getAlgorithm();
        if (!alg.equals("EC")) {
            throw new DeviceException("the raw format is signed with ECDSA; the signer's key is " + alg + "; refused");
        }
        boolean p384 = ((ECPublicKey) signer.getPublicKey()).getParams().getCurve().getField().getFieldSize() > 256;
        try {
            Signature v = Signature.getInstance(p384 ? "SHA384withECDSA" : "SHA256withECDSA");
            v.initVerify(signer.getPublicKey());
            v.update(manifest);
            if (!v.verify(sig)) {
                throw new DeviceException("the signature over the manifest does not verify (the manifest or the signature was changed); refused");
            }
        } catch (GeneralSecurityException e) {
            throw new DeviceException("the signature over the manifest does not verify (" + e.getMessage() + "); refused");
        }
        Map<String, Object> m = manifest(manifest);
        return check(m, signer, certs, Instant.parse(text(m, "signedAt")), image, installed);
    }

    private static Map<String, Object> manifest(byte[] bytes) {
        return FirmwareManifestJson.parse(new String(bytes, StandardCharsets.UTF_8));
    }

    /** The checks after the signature: {@code m} is the manifest the signature covers, read once. */
    private Verified check(Map<String, Object> m, X509Certificate signer, List<X509Certificate> carried, Instant signedAt, InputStream image,
                           Installed installed) throws IOException {
        if (!"fleetpki-firmware-manifest/1".equals(m.get("format"))) {
            throw new DeviceException("the manifest's format is " + m.get("format") + ", not fleetpki-firmware-manifest/1; refused");
        }
        if (!Instant.parse(text(m, "signedAt")).equals(signedAt)) {
            throw new DeviceException("the manifest's signedAt differs from the signature's signing time; refused");
        }
        chain(signer, carried, signedAt);
        boolean checked = revocation(signer, carried, signedAt);

        String model = text(m, "model");
        if (!model.equals(installed.model())) {
            throw new DeviceException("the image is for model '" + model + "'; this device is '" + installed.model() + "'; refused");
        }
        String version = text(m, "version");
        if (Version.parse(version).compareTo(Version.parse(installed.version())) <= 0) {
            throw new DeviceException("the image's version " + version + " is not newer than the installed " + installed.version()
                    + " (a downgrade or a reinstall); refused");
        }
        long counter = number(m, "securityCounter");
        if (counter < installed.securityCounter()) {
            throw new DeviceException("the image's security counter " + counter + " is below the installed " + installed.securityCounter()
                    + " (a rollback to a version with known flaws); refused");
        }
        String minimum = m.get("minimumPreviousVersion") instanceof String s ? s : null;
        if (minimum != null && Version.parse(installed.version()).compareTo(Version.parse(minimum)) < 0) {
            throw new DeviceException("the image replaces version " + minimum + " or later; this device runs " + installed.version()
                    + ": install an intermediate version first; refused");
        }
        String algorithm = m.containsKey("sha384") ? "sha384" : "sha256";
        String expected = text(m, algorithm);
        long size = number(m, "size");
        digest(image, algorithm, expected, size);
        return new Verified(algorithm + ":" + expected, size, version, model, counter, minimum, text(m, "signer"), signer, signedAt, checked);
    }

    /** The signer's path to the pinned root, valid at the signing time, with the codeSigning extended key usage. */
    private void chain(X509Certificate signer, List<X509Certificate> carried, Instant signedAt) {
        try {
            List<String> eku = signer.getExtendedKeyUsage();
            if (eku == null || !eku.contains(CODE_SIGNING)) {
                throw new DeviceException("the signer's certificate (" + signer.getSubjectX500Principal().getName() + ") is not for code signing "
                        + "(no codeSigning extended key usage): a device or server certificate signs no firmware; refused");
            }
        } catch (CertificateException e) {
            throw new DeviceException("the signer's certificate has an unreadable extended key usage; refused");
        }
        List<X509Certificate> path = CertificateCheck.order(signer, carried, List.of(root));
        try {
            PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
            params.setRevocationEnabled(false); // checked below against the signing time, which PKIX does not know
            params.setDate(Date.from(signedAt));
            CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(path), params);
        } catch (CertPathValidatorException e) {
            throw new DeviceException("the signer's certificate (" + signer.getSubjectX500Principal().getName() + ") does not chain to this device's "
                    + "fleet root with every certificate valid at the signing time " + signedAt + " (" + e.getMessage() + "); refused");
        } catch (GeneralSecurityException e) {
            throw new DeviceException("cannot check the signer's chain: " + e.getMessage(), e);
        }
    }

    /**
     * Whether the signer's certificate was revoked before it signed: a CRL of its issuer (its
     * signature checked) listing it with a revocation time (or invalidity date, when the key was
     * compromised earlier) at or before the signing time refuses; one listing it later keeps the image.
     */
    private boolean revocation(X509Certificate signer, List<X509Certificate> carried, Instant signedAt) {
        if (!checkRevocation) {
            return false;
        }
        X509Certificate issuer = carried.stream().filter(c -> c.getSubjectX500Principal().equals(signer.getIssuerX500Principal())).findFirst()
                .orElse(signer.getIssuerX500Principal().equals(root.getSubjectX500Principal()) ? root : null);
        boolean found = false;
        for (X509CRL crl : crls) {
            if (issuer == null || !crl.getIssuerX500Principal().equals(issuer.getSubjectX500Principal())) {
                continue;
            }
            try {
                crl.verify(issuer.getPublicKey());
            } catch (GeneralSecurityException e) {
                throw new DeviceException("the CRL of " + issuer.getSubjectX500Principal().getName() + " is not signed by its CA; refused");
            }
            found = true;
            X509CRLEntry entry = crl.getRevokedCertificate(signer.getSerialNumber());
            if (entry != null) {
                Instant revoked = entry.getRevocationDate().toInstant();
                Instant invalid = invalidityDate(entry);
                Instant from = invalid != null && invalid.isBefore(revoked) ? invalid : revoked;
                if (!signedAt.isBefore(from)) {
                    throw new DeviceException("the signer's certificate " + signer.getSerialNumber().toString(16) + " was revoked at " + revoked
                            + (invalid != null ? " (its key compromised since " + invalid + ")" : "") + ", and this image was signed at " + signedAt
                            + ", after that; refused");
                }
            }
        }
        if (!found) {
            throw new DeviceException("no CRL of the signer's CA (" + signer.getIssuerX500Principal().getName() + ") was given, so revocation "
                    + "cannot be checked; pass its CRL (fleetpki crl export), or say explicitly that revocation is not checked");
        }
        return true;
    }

    private static Instant invalidityDate(X509CRLEntry entry) {
        byte[] ext = entry.getExtensionValue(Extension.invalidityDate.getId());
        if (ext == null) {
            return null;
        }
        try {
            return ASN1GeneralizedTime.getInstance(ASN1Primitive.fromByteArray(ASN1OctetString.getInstance(ext).getOctets())).getDate().toInstant();
        } catch (IOException | ParseException | RuntimeException e) {
            throw new DeviceException("a CRL entry has an unreadable invalidity date; refused");
        }
    }

    private static void digest(InputStream image, String algorithm, String expected, long size) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance(algorithm.equals("sha384") ? "SHA-384" : "SHA-256");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        byte[] buf = new byte[256 * 1024];
        long total = 0;
        int n;
        while ((n = image.read(buf)) > 0) {
            md.update(buf, 0, n);
            total += n;
        }
        if (total != size) {
            throw new DeviceException("the image is " + total + " bytes; the manifest says " + size + " (truncated, padded or another image); refused");
        }
        if (!HexFormat.of().formatHex(md.digest()).equals(expected)) {
            throw new DeviceException("the image's " + (algorithm.equals("sha384") ? "SHA-384" : "SHA-256")
                    + " is not the one the manifest names (the image was changed or swapped); refused");
        }
    }

    private static String text(Map<String, Object> m, String key) {
        if (!(m.get(key) instanceof String s)) {
            throw new DeviceException("the manifest has no " + key + "; refused");
        }
        return s;
    }

    private static long number(Map<String, Object> m, String key) {
        if (!(m.get(key) instanceof Long l)) {
            throw new DeviceException("the manifest has no " + key + " number; refused");
        }
        return l;
    }

    private static byte[] field(ByteBuffer b, String what) {
        if (b.remaining() < 4) {
            throw new DeviceException("the signature file ends before its " + what + " (truncated); refused");
        }
        long n = Integer.toUnsignedLong(b.getInt());
        if (n > b.remaining()) {
            throw new DeviceException("the signature file's " + what + " claims " + n + " bytes, " + b.remaining() + " follow (truncated or tampered); refused");
        }
        byte[] v = new byte[(int) n];
        b.get(v);
        return v;
    }

    private static X509Certificate certificate(byte[] der) {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
        } catch (CertificateException e) {
            throw new DeviceException("a certificate in the signature does not parse; refused");
        }
    }

    private static X509Certificate x509(X509CertificateHolder h) {
        try {
            return new JcaX509CertificateConverter().getCertificate(h);
        } catch (CertificateException e) {
            throw new DeviceException("a certificate in the signature does not parse; refused");
        }
    }

    /** major.minor.revision(+build), compared field by field: the order fleetpki signs versions in. */
    record Version(long major, long minor, long revision, long build) implements Comparable<Version> {
        private static final Pattern TEXT = Pattern.compile("(\\d{1,9})\\.(\\d{1,9})(?:\\.(\\d{1,9}))?(?:\\+(\\d{1,10}))?");

        static Version parse(String text) {
            Matcher m = TEXT.matcher(text == null ? "" : text.trim());
            if (!m.matches()) {
                throw new DeviceException("'" + text + "' is not a version like 1.4.2 or 1.4.2+7");
            }
            return new Version(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), m.group(3) == null ? 0 : Long.parseLong(m.group(3)),
                    m.group(4) == null ? 0 : Long.parseLong(m.group(4)));
        }

        @Override
        public int compareTo(Version o) {
            int c = Long.compare(major, o.major);
            c = c != 0 ? c : Long.compare(minor, o.minor);
            c = c != 0 ? c : Long.compare(revision, o.revision);
            return c != 0 ? c : Long.compare(build, o.build);
        }
    }
}
