package dev.fleetpki.core;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.GeneralSubtree;
import org.bouncycastle.asn1.x509.NameConstraintValidatorException;
import org.bouncycastle.asn1.x509.NameConstraints;
import org.bouncycastle.asn1.x509.PKIXNameConstraintValidator;
import org.bouncycastle.cert.X509CertificateHolder;

/**
 * The issuer's name constraints (RFC 5280 4.2.1.10) applied before signing, as relying parties
 * apply them when they verify: a certificate outside them is one every verifier rejects, so it is
 * refused here instead. Checked:
 * <ul>
 * <li>every subjectAltName (DNS, IP address, URI, email) against the subtrees of its type;</li>
 * <li>the subject against directoryName subtrees;</li>
 * <li>for TLS certificates (device, device-peer, server-tls) without a DNS subjectAltName, the
 *     subject's CN as a DNS name when the issuer constrains DNS names: OpenSSL does so for a CN that
 *     looks like a host name (error 47, "permitted subtree violation"), GnuTLS for any CN.</li>
 * </ul>
 * The subtree matching is BouncyCastle's {@link PKIXNameConstraintValidator}.
 */
final class NameConstraintsLint {
    /** Each issuer's constraints, parsed once (issuers are few and long-lived; empty: none). */
    private static final Map<X509Certificate, Optional<NameConstraints>> CONSTRAINTS = new ConcurrentHashMap<>();

    private NameConstraintsLint() {}

    /** What of {@code c} the issuer's name constraints refuse (empty: nothing, or the issuer has none). */
    static List<String> findings(X509CertificateHolder c, Profile profile, X509Certificate issuer) {
        if (issuer == null) {
            return List.of();
        }
        NameConstraints nc = CONSTRAINTS.computeIfAbsent(issuer, NameConstraintsLint::constraints).orElse(null);
        if (nc == null) {
            return List.of();
        }
        PKIXNameConstraintValidator v = new PKIXNameConstraintValidator();
        if (nc.getPermittedSubtrees() != null) {
            v.intersectPermittedSubtree(nc.getPermittedSubtrees());
        }
        if (nc.getExcludedSubtrees() != null) {
            for (GeneralSubtree s : nc.getExcludedSubtrees()) {
                v.addExcludedSubtree(s);
            }
        }
        List<String> out = new ArrayList<>();
        String limits = describe(nc);
        GeneralNames sans = GeneralNames.fromExtensions(c.getExtensions(), Extension.subjectAlternativeName);
        boolean dnsSan = false;
        for (GeneralName n : sans == null ? new GeneralName[0] : sans.getNames()) {
            dnsSan |= n.getTagNo() == GeneralName.dNSName;
            check(v, n, "subjectAltName " + show(n), limits, out);
        }
        X500Name subject = c.getSubject();
        try {
            v.checkPermittedDN(subject);
            v.checkExcludedDN(subject);
        } catch (NameConstraintValidatorException e) {
            out.add("the subject " + subject + " is outside the issuer's name constraints (" + limits + ")");
        }
        if (!dnsSan && tls(profile) && constrainsDns(nc)) {
            for (RDN rdn : subject.getRDNs(BCStyle.CN)) {
                String cn = IETFUtils.valueToString(rdn.getFirst().getValue());
                check(v, new GeneralName(GeneralName.dNSName, cn), "the CN '" + cn + "' (TLS verifiers read a CN without DNS names as a host name)",
                        limits, out);
            }
        }
        return out;
    }

    private static void check(PKIXNameConstraintValidator v, GeneralName n, String what, String limits, List<String> out) {
        try {
            v.checkPermitted(n);
            v.checkExcluded(n);
        } catch (NameConstraintValidatorException | RuntimeException e) {
            out.add(what + " is outside the issuer's name constraints (" + limits + ")");
        }
    }

    private static boolean tls(Profile p) {
        return p.kind() == ProfileKind.DEVICE || p.kind() == ProfileKind.DEVICE_PEER || p.kind() == ProfileKind.SERVER_TLS;
    }

    private static boolean constrainsDns(NameConstraints nc) {
        return Arrays.stream(subtrees(nc)).anyMatch(s -> s.getBase().getTagNo() == GeneralName.dNSName);
    }

    private static GeneralSubtree[] subtrees(NameConstraints nc) {
        GeneralSubtree[] p = nc.getPermittedSubtrees() == null ? new GeneralSubtree[0] : nc.getPermittedSubtrees();
        GeneralSubtree[] x = nc.getExcludedSubtrees() == null ? new GeneralSubtree[0] : nc.getExcludedSubtrees();
        GeneralSubtree[] all = Arrays.copyOf(p, p.length + x.length);
        System.arraycopy(x, 0, all, p.length, x.length);
        return all;
    }

    private static String describe(NameConstraints nc) {
        List<String> parts = new ArrayList<>();
        if (nc.getPermittedSubtrees() != null) {
            parts.add("permitted: " + Arrays.stream(nc.getPermittedSubtrees()).map(s -> show(s.getBase())).collect(Collectors.joining(", ")));
        }
        if (nc.getExcludedSubtrees() != null) {
            parts.add("excluded: " + Arrays.stream(nc.getExcludedSubtrees()).map(s -> show(s.getBase())).collect(Collectors.joining(", ")));
        }
        return String.join("; ", parts);
    }

    /** A name as openssl prints it: DNS:x, IP:x, URI:x, email:x, DirName:x. */
    private static String show(GeneralName n) {
        return switch (n.getTagNo()) {
            case GeneralName.dNSName -> "DNS:" + n.getName();
            case GeneralName.uniformResourceIdentifier -> "URI:" + n.getName();
            case GeneralName.rfc822Name -> "email:" + n.getName();
            case GeneralName.directoryName -> "DirName:" + X500Name.getInstance(n.getName());
            case GeneralName.iPAddress -> "IP:" + ip(ASN1OctetString.getInstance(n.getName()).getOctets());
            default -> n.toString();
        };
    }

    private static String ip(byte[] b) {
        try {
            if (b.length == 4 || b.length == 16) {
                return InetAddress.getByAddress(b).getHostAddress();
            }
            // a subtree: address then mask
            int half = b.length / 2;
            return InetAddress.getByAddress(Arrays.copyOf(b, half)).getHostAddress() + "/"
                    + InetAddress.getByAddress(Arrays.copyOfRange(b, half, b.length)).getHostAddress();
        } catch (UnknownHostException e) {
            return "?";
        }
    }

    private static Optional<NameConstraints> constraints(X509Certificate issuer) {
        byte[] ext = issuer.getExtensionValue(Extension.nameConstraints.getId());
        if (ext == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(NameConstraints.getInstance(ASN1Primitive.fromByteArray(ASN1OctetString.getInstance(ext).getOctets())));
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "the issuer's name constraints do not decode: " + e.getMessage(), e);
        }
    }
}
