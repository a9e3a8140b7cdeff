package dev.fleetpki.server.scep;

import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.DERPrintableString;
import org.bouncycastle.asn1.DERSet;
import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.oiw.OIWObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.CMSAlgorithm;
import org.bouncycastle.cms.CMSEnvelopedData;
import org.bouncycastle.cms.CMSEnvelopedDataGenerator;
import org.bouncycastle.cms.CMSException;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.CMSSignedDataGenerator;
import org.bouncycastle.cms.CMSTypedData;
import org.bouncycastle.cms.DefaultSignedAttributeTableGenerator;
import org.bouncycastle.cms.KeyTransRecipientId;
import org.bouncycastle.cms.RecipientInformation;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.cms.jcajce.JceCMSContentEncryptorBuilder;
import org.bouncycastle.cms.jcajce.JceKeyTransEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JceKeyTransRecipientInfoGenerator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.util.Selector;

/**
 * SCEP's pkiMessage (RFC 8894 section 3): a CMS SignedData, signed by the requester, whose
 * content is a CMS EnvelopedData encrypted to the CA's (or RA's) key and holding the request
 * (a PKCS#10 for PKCSReq and RenewalReq, an IssuerAndSubject for CertPoll); and the CertRep
 * answer, signed by the CA/RA, whose content on SUCCESS is the certificate chain as a certs-only
 * SignedData encrypted to the requester's signing certificate. The SCEP attributes are signed
 * attributes with VeriSign's OIDs, their values printable strings (a number as text) or octet strings.
 */
public final class ScepMessage {
    private static final String PKI = "2.16.840.1.113733.1.9.";
    public static final ASN1ObjectIdentifier MESSAGE_TYPE = new ASN1ObjectIdentifier(PKI + "2");
    public static final ASN1ObjectIdentifier PKI_STATUS = new ASN1ObjectIdentifier(PKI + "3");
    public static final ASN1ObjectIdentifier FAIL_INFO = new ASN1ObjectIdentifier(PKI + "4");
    public static final ASN1ObjectIdentifier SENDER_NONCE = new ASN1ObjectIdentifier(PKI + "5");
    public static final ASN1ObjectIdentifier RECIPIENT_NONCE = new ASN1ObjectIdentifier(PKI + "6");
    public static final ASN1ObjectIdentifier TRANSACTION_ID = new ASN1ObjectIdentifier(PKI + "7");

    /**
     * Content encryption a request may use: AES (what GetCACaps advertises), triple DES, and single
     * DES, which micromdm's scepclient 2.1 sends whatever the server advertises (docs/scep.md says
     * what that exposes). Answers are always AES.
     */
    static final Set<ASN1ObjectIdentifier> CONTENT_ENCRYPTION = Set.of(NISTObjectIdentifiers.id_aes128_CBC, NISTObjectIdentifiers.id_aes192_CBC,
            NISTObjectIdentifiers.id_aes256_CBC, PKCSObjectIdentifiers.des_EDE3_CBC, OIWObjectIdentifiers.desCBC);

    private ScepMessage() {}

    /** The message types fleetpki answers, with their wire values. */
    public enum Type {
        CERT_REP("3"), RENEWAL_REQ("17"), PKCS_REQ("19"), CERT_POLL("20");

        final String wire;

        Type(String wire) {
            this.wire = wire;
        }

        static Type of(String wire) {
            for (Type t : values()) {
                if (t.wire.equals(wire)) {
                    return t;
                }
            }
            return null;
        }
    }

    /** pkiStatus of a CertRep. */
    public enum Status {
        SUCCESS("0"), FAILURE("2"), PENDING("3");

        final String wire;

        Status(String wire) {
            this.wire = wire;
        }
    }

    /** failInfo of a FAILURE (RFC 8894 3.2.1.4). */
    public enum FailInfo {
        BAD_ALG("0"), BAD_MESSAGE_CHECK("1"), BAD_REQUEST("2"), BAD_TIME("3"), BAD_CERT_ID("4");

        final String wire;

        FailInfo(String wire) {
            this.wire = wire;
        }
    }

    /**
     * A request that cannot be answered as asked; {@code request} is set when it was read far enough
     * (signer, transaction id, nonce) to answer with a signed FAILURE, else the caller answers HTTP 400.
     */
    public static final class Failure extends Exception {
        private final FailInfo info;
        private final transient Request request;

        Failure(FailInfo info, Request request, String message) {
            super(message);
            this.info = info;
            this.request = request;
        }

        public FailInfo info() {
            return info;
        }

        public Request request() {
            return request;
        }
    }

    /**
     * A request whose signature verified and whose envelope was opened.
     *
     * @param signer the certificate that signed it (self-signed for a first PKCSReq, the current certificate for a RenewalReq)
     * @param content the decrypted request: PKCS#10 DER, or IssuerAndSubject DER for CertPoll; null until decrypted
     */
    public record Request(Type type, String transactionId, byte[] senderNonce, X509Certificate signer, byte[] content) {}

    /**
     * Reads a pkiMessage: the SignedData's signature must verify with the certificate it carries,
     * the SCEP attributes must be there, and the envelope must open with {@code key} (the
     * certificate {@code recipient} certifies it) and an accepted content encryption.
     *
     * @param provider the provider of {@code key} (SunPKCS11 for a token key), or null
     */
    public static Request read(byte[] der, X509Certificate recipient, PrivateKey key, Provider provider) throws Failure {
        CMSSignedData signed;
        try {
            signed = new CMSSignedData(der);
        } catch (CMSException | RuntimeException e) {
            throw new Failure(FailInfo.BAD_REQUEST, null, "the pkiMessage is not a CMS SignedData: " + e.getMessage());
        }
        Collection<SignerInformation> signers = signed.getSignerInfos().getSigners();
        if (signers.size() != 1) {
            throw new Failure(FailInfo.BAD_REQUEST, null, "a pkiMessage has one signer; this one has " + signers.size());
        }
        SignerInformation si = signers.iterator().next();
        AttributeTable attrs = si.getSignedAttributes();
        String transactionId = printable(attrs, TRANSACTION_ID);
        byte[] nonce = octets(attrs, SENDER_NONCE);
        Type type = Type.of(String.valueOf(printable(attrs, MESSAGE_TYPE)));
        @SuppressWarnings("unchecked")
        Collection<X509CertificateHolder> found = signed.getCertificates().getMatches((Selector<X509CertificateHolder>) (Selector<?>) si.getSID());
        if (transactionId == null || nonce == null || found.isEmpty()) {
            throw new Failure(FailInfo.BAD_REQUEST, null, "the pkiMessage lacks its transactionID, senderNonce or signer certificate");
        }
        X509Certificate signer;
        try {
            signer = new JcaX509CertificateConverter().getCertificate(found.iterator().next());
        } catch (CertificateException e) {
            throw new Failure(FailInfo.BAD_REQUEST, null, "the signer certificate does not parse");
        }
        Request partial = new Request(type, transactionId, nonce, signer, null);
        if (type == null || type == Type.CERT_REP) {
            throw new Failure(FailInfo.BAD_REQUEST, partial, "messageType " + printable(attrs, MESSAGE_TYPE) + " is not a request fleetpki answers "
                    + "(PKCSReq 19, RenewalReq 17, CertPoll 20)");
        }
        try {
            if (!si.verify(new JcaSimpleSignerInfoVerifierBuilder().build(signer.getPublicKey()))) {
                throw new Failure(FailInfo.BAD_MESSAGE_CHECK, partial, "the pkiMessage's signature does not verify");
            }
        } catch (CMSException | OperatorCreationException | RuntimeException e) {
            throw new Failure(FailInfo.BAD_MESSAGE_CHECK, partial, "the pkiMessage's signature does not verify: " + e.getMessage());
        }
        if (!"RSA".equals(signer.getPublicKey().getAlgorithm())) {
            throw new Failure(FailInfo.BAD_ALG, partial, "the signer certificate's key is " + signer.getPublicKey().getAlgorithm() + "; SCEP answers "
                    + "are encrypted to the requester's RSA key (key transport), so a SCEP requester signs with an RSA key");
        }
        if (signed.getSignedContent() == null || !(signed.getSignedContent().getContent() instanceof byte[] envelope)) {
            throw new Failure(FailInfo.BAD_REQUEST, partial, "the pkiMessage carries no envelope");
        }
        byte[] content;
        try {
            CMSEnvelopedData env = new CMSEnvelopedData(envelope);
            ASN1ObjectIdentifier alg = env.getContentEncryptionAlgorithm().getAlgorithm();
            if (!CONTENT_ENCRYPTION.contains(alg)) {
                throw new Failure(FailInfo.BAD_ALG, partial, "the envelope is encrypted with " + alg + "; fleetpki accepts AES-CBC (as GetCACaps "
                        + "says), triple DES and DES-CBC");
            }
            RecipientInformation ri = env.getRecipientInfos().get(new KeyTransRecipientId(new X509CertificateHolder(recipient.getEncoded()).getIssuer(),
                    recipient.getSerialNumber()));
            if (ri == null) {
                throw new Failure(FailInfo.BAD_MESSAGE_CHECK, partial, "the envelope is not encrypted to this server's SCEP certificate "
                        + "(fetch it with GetCACert)");
            }
            JceKeyTransEnvelopedRecipient r = new JceKeyTransEnvelopedRecipient(key);
            if (provider != null) {
                // a token key (SunPKCS11) recovers the content-encryption key by RSA decryption in the token; the content is
                // then decrypted in software, which needs that key's bytes, not a token object the software provider cannot use
                r.setProvider(provider);
                r.setMustProduceEncodableUnwrappedKey(true);
                r.setContentProvider(dev.fleetpki.kms.Crypto.bc());
            }
            content = ri.getContent(r);
        } catch (CMSException | IOException | CertificateEncodingException | RuntimeException e) {
            throw new Failure(FailInfo.BAD_MESSAGE_CHECK, partial, "the envelope does not open: " + e.getMessage());
        }
        return new Request(type, transactionId, nonce, signer, content);
    }

    /** A CertRep with SUCCESS: the certificates (leaf first) as a certs-only SignedData, encrypted to the requester, signed by {@code ra}. */
    public static byte[] success(Request req, List<X509Certificate> certificates, X509Certificate ra, SigningKey raKey) {
        try {
            CMSSignedDataGenerator chain = new CMSSignedDataGenerator();
            chain.addCertificates(new JcaCertStore(certificates));
            CMSSignedData certsOnly = chain.generate(new CMSProcessableByteArray(new byte[0]), false);
            CMSEnvelopedDataGenerator env = new CMSEnvelopedDataGenerator();
            env.addRecipientInfoGenerator(new JceKeyTransRecipientInfoGenerator(req.signer()));
            CMSEnvelopedData enveloped = env.generate(new CMSProcessableByteArray(certsOnly.getEncoded(ASN1Encoding.DER)),
                    new JceCMSContentEncryptorBuilder(CMSAlgorithm.AES128_CBC).build());
            return certRep(req, Status.SUCCESS, null, enveloped.toASN1Structure().getEncoded(ASN1Encoding.DER), ra, raKey);
        } catch (CMSException | IOException | CertificateEncodingException | IllegalArgumentException e) {
            throw new IllegalStateException("cannot build the SCEP answer: " + e.getMessage(), e);
        }
    }

    /**
     * The answer to GetNextCACert (RFC 8894 4.7.1): a certs-only SignedData with the next CA's
     * certificates, as the content of a SignedData signed by the current RA, so a client accepts
     * the next CA only on the word of the one it already trusts.
     */
    public static byte[] nextCaCert(List<X509Certificate> next, X509Certificate ra, SigningKey raKey) {
        try {
            CMSSignedDataGenerator certs = new CMSSignedDataGenerator();
            certs.addCertificates(new JcaCertStore(next));
            byte[] degenerate = certs.generate(new CMSProcessableByteArray(new byte[0]), false).getEncoded(ASN1Encoding.DER);
            CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
            gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(new JcaDigestCalculatorProviderBuilder().build())
                    .build(raKey.contentSigner(), ra));
            gen.addCertificates(new JcaCertStore(List.of(ra)));
            return gen.generate(new CMSProcessableByteArray(degenerate), true).getEncoded(ASN1Encoding.DER);
        } catch (CMSException | IOException | CertificateEncodingException | OperatorCreationException e) {
            throw new IllegalStateException("cannot sign the next CA certificates: " + e.getMessage(), e);
        }
    }

    /** A CertRep with PENDING: an operator decides; the client polls with CertPoll. */
    public static byte[] pending(Request req, X509Certificate ra, SigningKey raKey) {
        return certRep(req, Status.PENDING, null, null, ra, raKey);
    }

    /** A CertRep with FAILURE and its failInfo. */
    public static byte[] failure(Request req, FailInfo info, X509Certificate ra, SigningKey raKey) {
        return certRep(req, Status.FAILURE, info, null, ra, raKey);
    }

    private static byte[] certRep(Request req, Status status, FailInfo info, byte[] envelope, X509Certificate ra, SigningKey raKey) {
        ASN1EncodableVector v = new ASN1EncodableVector();
        v.add(attr(MESSAGE_TYPE, new DERPrintableString(Type.CERT_REP.wire)));
        v.add(attr(PKI_STATUS, new DERPrintableString(status.wire)));
        if (info != null) {
            v.add(attr(FAIL_INFO, new DERPrintableString(info.wire)));
        }
        v.add(attr(TRANSACTION_ID, new DERPrintableString(req.transactionId())));
        byte[] nonce = new byte[16];
        new SecureRandom().nextBytes(nonce);
        v.add(attr(SENDER_NONCE, new DEROctetString(nonce)));
        v.add(attr(RECIPIENT_NONCE, new DEROctetString(req.senderNonce())));
        try {
            CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
            gen.addSignerInfoGenerator(new JcaSignerInfoGeneratorBuilder(new JcaDigestCalculatorProviderBuilder().build())
                    .setSignedAttributeGenerator(new DefaultSignedAttributeTableGenerator(new AttributeTable(v)))
                    .build(raKey.contentSigner(), ra));
            gen.addCertificates(new JcaCertStore(List.of(ra)));
            // RFC 8894 3.2: the signed content is of type data, its octets the DER pkcsPKIEnvelope; a PENDING or FAILURE
            // CertRep has no envelope, and carries empty content rather than none: certmonger (OpenSSL's PKCS7_verify)
            // refuses a SignedData without content as "no content"
            CMSTypedData content = new CMSProcessableByteArray(envelope == null ? new byte[0] : envelope);
            return gen.generate(content, true).getEncoded(ASN1Encoding.DER);
        } catch (CMSException | IOException | CertificateEncodingException | OperatorCreationException e) {
            throw new IllegalStateException("cannot sign the SCEP answer: " + e.getMessage(), e);
        }
    }

    private static Attribute attr(ASN1ObjectIdentifier type, ASN1Encodable value) {
        return new Attribute(type, new DERSet(value));
    }

    private static String printable(AttributeTable attrs, ASN1ObjectIdentifier type) {
        Attribute a = attrs == null ? null : attrs.get(type);
        if (a == null || a.getAttrValues().size() != 1) {
            return null;
        }
        // RFC 8894 says PrintableString; some clients send another string type, which is read the same
        return a.getAttrValues().getObjectAt(0) instanceof ASN1String str ? str.getString() : null;
    }

    private static byte[] octets(AttributeTable attrs, ASN1ObjectIdentifier type) {
        Attribute a = attrs == null ? null : attrs.get(type);
        if (a == null || a.getAttrValues().size() != 1 || !(a.getAttrValues().getObjectAt(0) instanceof ASN1OctetString o)) {
            return null;
        }
        return o.getOctets();
    }
}
