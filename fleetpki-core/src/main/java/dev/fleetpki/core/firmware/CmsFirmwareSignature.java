package dev.fleetpki.core.firmware;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.DERSet;
import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.cms.CMSAttributes;
import org.bouncycastle.asn1.cms.Time;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cms.CMSException;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.DefaultSignedAttributeTableGenerator;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;

/**
 * A detached CMS signature (RFC 5652 SignedData, no encapsulated content) over a firmware
 * manifest, signed with the signer's KeyManager key (file or PKCS#11) and carrying its chain (the
 * signer's certificate and the code-signing CA above it, not the root), so that a relying party
 * with only the fleet root verifies it with stock tools:
 * {@code openssl cms -verify -binary -inform DER -in sig.p7s -content manifest.json -CAfile root.pem -purpose any}.
 * The signing time is a signed attribute (RFC 5652 11.3) from fleetpki's clock, what a verifier
 * compares with the signer's revocation time.
 */
public final class CmsFirmwareSignature {
    private CmsFirmwareSignature() {}

    /**
     * @param signerCertificate the signer's code-signing certificate (it certifies {@code key})
     * @param chain the CA certificates above it, up to but not including the root
     */
    public static byte[] sign(byte[] manifest, SigningKey key, X509Certificate signerCertificate, List<X509Certificate> chain, Instant signingTime) {
        if (!key.publicKey().equals(signerCertificate.getPublicKey())) {
            throw new PkiException(ErrorKind.KEY_POLICY, "key " + key.ref() + " is not the key of the signer certificate "
                    + signerCertificate.getSubjectX500Principal().getName());
        }
        try {
            ASN1EncodableVector attrs = new ASN1EncodableVector();
            attrs.add(new Attribute(CMSAttributes.signingTime, new DERSet(new Time(Date.from(signingTime)))));
            CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
            gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(new JcaDigestCalculatorProviderBuilder().build())
                    .setSignedAttributeGenerator(new DefaultSignedAttributeTableGenerator(new AttributeTable(attrs)))
                    .build(key.contentSigner(), signerCertificate));
            List<X509Certificate> certs = new ArrayList<>();
            certs.add(signerCertificate);
            certs.addAll(chain);
            gen.addCertificates(new JcaCertStore(certs));
            return gen.generate(new CMSProcessableByteArray(manifest), false).getEncoded();
        } catch (OperatorCreationException | CertificateEncodingException | CMSException | IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot make the CMS signature: " + e.getMessage(), e);
        }
    }
}
