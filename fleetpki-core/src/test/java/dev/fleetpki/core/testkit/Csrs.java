package dev.fleetpki.core.testkit;

import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.kms.KeyAlgorithm;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** Certificate requests for tests: a key of some kind, a subject, SANs, and the ways a request can be wrong. */
public final class Csrs {
    private Csrs() {}

    public static KeyPair keyPair(KeyAlgorithm algorithm) {
        return algorithm.generate();
    }

    /** An RSA key of any size, including those the key policy refuses. */
    public static KeyPair rsa(int bits) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(bits);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A CSR with a P-256 key and this CN. */
    public static UntrustedCsr forCn(String cn) {
        return csr(keyPair(KeyAlgorithm.EC_P256), "CN=" + cn);
    }

    /**
     * A signed CSR.
     *
     * @param subject an X.500 name ("CN=x,O=y"), or "" for an empty subject
     * @param sans SANs as "dns:NAME", "ip:ADDRESS" or "uri:URI"
     */
    public static UntrustedCsr csr(KeyPair kp, String subject, String... sans) {
        return UntrustedCsr.parse(der(kp, subject, sans));
    }

    public static byte[] der(KeyPair kp, String subject, String... sans) {
        try {
            var b = new JcaPKCS10CertificationRequestBuilder(new X500Name(subject), kp.getPublic());
            if (sans.length > 0) {
                List<GeneralName> names = new ArrayList<>();
                for (String s : sans) {
                    String v = s.substring(s.indexOf(':') + 1);
                    names.add(switch (s.substring(0, s.indexOf(':'))) {
                        case "dns" -> new GeneralName(GeneralName.dNSName, v);
                        case "ip" -> new GeneralName(GeneralName.iPAddress, v);
                        case "uri" -> new GeneralName(GeneralName.uniformResourceIdentifier, v);
                        default -> throw new IllegalArgumentException("SAN " + s + ": use dns:, ip: or uri:");
                    });
                }
                ExtensionsGenerator ext = new ExtensionsGenerator();
                ext.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(GeneralName[]::new)));
                b.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, ext.generate());
            }
            String alg = switch (kp.getPublic().getAlgorithm()) {
                case "RSA" -> "SHA256withRSA";
                case "Ed25519", "EdDSA" -> "Ed25519";
                case "ML-DSA", "ML-DSA-65" -> "ML-DSA-65";
                default -> "SHA256withECDSA";
            };
            return b.build(new JcaContentSignerBuilder(alg).build(kp.getPrivate())).getEncoded();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The same CSR with one bit of its signature flipped: no proof of possession. */
    public static byte[] tampered(byte[] der) {
        byte[] out = der.clone();
        out[out.length - 2] ^= 0x01;
        return out;
    }
}
