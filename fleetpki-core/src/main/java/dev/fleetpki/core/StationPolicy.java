package dev.fleetpki.core;

import java.io.IOException;
import java.math.BigInteger;
import java.security.cert.X509Certificate;
import java.util.Optional;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.ASN1UTF8String;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.DERUTF8String;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;

/**
 * What an offline factory station's CA may sign, written into its certificate by the root
 * (docs/factory.md, "Offline stations"): devices of one model ({@code fleet}), at most
 * {@code quota} certificates, signed no later than {@code issueUntil} (the production run; the
 * certificate itself lives longer, as long as the devices' certificates). The certificate also carries critical name constraints: the
 * subjects it may sign lie under {@link #subtree}, the device profile's organization and
 * {@code OU=fleet}, which every verifier enforces.
 *
 * <p>Carried as a non-critical extension (a critical one would make every verifier that does not
 * know it reject the devices' chains): {@code SEQUENCE { fleet UTF8String, quota INTEGER,
 * issueUntil GeneralizedTime }} under
 * {@link #OID}, an OID of the UUID arc (ITU-T X.667, needs no registration).
 */
public record StationPolicy(String fleet, long quota, java.time.Instant issueUntil) {
    public static final ASN1ObjectIdentifier OID = new ASN1ObjectIdentifier("2.25.314056028490698746834450495715426552514");
    /** The most certificates one station CA may be given (a station CA is for a batch, not a fleet's lifetime). */
    public static final long MAX_QUOTA = 10_000_000;

    public StationPolicy {
        if (fleet == null || fleet.isBlank() || "*".equals(fleet)) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "an offline station's CA is for one device model; name it with --fleet MODEL");
        }
        if (quota < 1 || quota > MAX_QUOTA) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--quota must be 1 to " + MAX_QUOTA + " certificates");
        }
        issueUntil = issueUntil.truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    }

    public ASN1Encodable encode() {
        ASN1EncodableVector v = new ASN1EncodableVector();
        v.add(new DERUTF8String(fleet));
        v.add(new ASN1Integer(quota));
        v.add(new org.bouncycastle.asn1.DERGeneralizedTime(java.util.Date.from(issueUntil)));
        return new DERSequence(v);
    }

    /** The policy a station CA's certificate carries, or empty: not a station CA. A malformed one is refused, not ignored. */
    public static Optional<StationPolicy> of(X509Certificate ca) {
        byte[] ext = ca.getExtensionValue(OID.getId());
        if (ext == null) {
            return Optional.empty();
        }
        try {
            ASN1Sequence s = ASN1Sequence.getInstance(ASN1Primitive.fromByteArray(ASN1OctetString.getInstance(ext).getOctets()));
            BigInteger q = ASN1Integer.getInstance(s.getObjectAt(1)).getValue();
            return Optional.of(new StationPolicy(ASN1UTF8String.getInstance(s.getObjectAt(0)).getString(), q.longValueExact(),
                    org.bouncycastle.asn1.ASN1GeneralizedTime.getInstance(s.getObjectAt(2)).getDate().toInstant()));
        } catch (IOException | RuntimeException | java.text.ParseException e) {
            throw new PkiException(ErrorKind.POLICY_VIOLATION, "the station policy in CA certificate '" + ca.getSubjectX500Principal().getName()
                    + "' cannot be read (" + e.getMessage() + ")");
        }
    }

    /** The subjects a station CA for {@code fleet} may sign: {@code O=organization} (when the device profile has one), then {@code OU=fleet}. */
    public static X500Name subtree(String organization, String fleet) {
        X500NameBuilder b = new X500NameBuilder(BCStyle.INSTANCE);
        if (organization != null) {
            b.addRDN(BCStyle.O, organization);
        }
        return b.addRDN(BCStyle.OU, fleet).build();
    }
}
