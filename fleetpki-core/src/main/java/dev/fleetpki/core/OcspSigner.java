package dev.fleetpki.core;

import dev.fleetpki.kms.SigningKey;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.ocsp.CertID;
import org.bouncycastle.asn1.ocsp.OCSPObjectIdentifiers;
import org.bouncycastle.asn1.oiw.OIWObjectIdentifiers;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.ocsp.CertificateID;
import org.bouncycastle.cert.ocsp.OCSPException;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.cert.ocsp.OCSPRespBuilder;
import org.bouncycastle.operator.ContentSigner;

/**
 * Signs OCSP responses (RFC 6960, RFC 5019 profile) for the certificates of one CA: with a
 * delegated OCSP signing certificate issued by that CA (included in the response so clients can
 * check it), or with the CA's own key. The responder id is by key hash, as RFC 5019 prefers.
 */
public final class OcspSigner {
    /** OCSPResponseStatus values that carry no signed body (RFC 6960 4.2.1). */
    public static final int MALFORMED_REQUEST = 1;
    public static final int INTERNAL_ERROR = 2;
    public static final int TRY_LATER = 3;
    public static final int UNAUTHORIZED = 6;

    private final Issuer issuer;
    private final X509Certificate signerCertificate;
    private final SigningKey key;
    /** ResponderID byKey: [2] EXPLICIT OCTET STRING, the SHA-1 of the signer's public key (RFC 5019 prefers it to byName). */
    private final byte[] responderId;
    /** certs [0] EXPLICIT SEQUENCE OF Certificate: the delegated signer's certificate; empty when the CA signs itself. */
    private final byte[] certs;
    /** The signature's AlgorithmIdentifier in DER, fixed by the key's algorithm: encoded at the first answer, not per answer. */
    private volatile byte[] signatureAlgorithm;

    /**
     * @param issuer the CA whose certificates this signer answers for
     * @param signerCertificate the delegated signer's certificate, or the CA's own when it signs itself
     */
    public OcspSigner(Issuer issuer, X509Certificate signerCertificate, SigningKey key) {
        this.issuer = issuer;
        this.signerCertificate = signerCertificate;
        this.key = key;
        try {
            boolean delegated = !signerCertificate.equals(issuer.certificate());
            this.certs = delegated ? Der.tlv(0xa0, Der.tlv(Der.SEQUENCE, signerCertificate.getEncoded())) : new byte[0];
            this.responderId = Der.tlv(0xa2, Der.tlv(0x04,
                    sha1(SubjectPublicKeyInfo.getInstance(signerCertificate.getPublicKey().getEncoded()).getPublicKeyData().getBytes())));
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode the OCSP signer certificate", e);
        }
    }

    public Issuer issuer() {
        return issuer;
    }

    public X509Certificate signerCertificate() {
        return signerCertificate;
    }

    /** What a response says about one certificate. */
    public sealed interface Status {
        record Good() implements Status {}

        record Revoked(Instant at, RevocationReason reason) implements Status {}

        record Unknown() implements Status {}
    }

    public static final Status GOOD = new Status.Good();
    public static final Status UNKNOWN = new Status.Unknown();

    /** One answer: the certificate id as the client asked (or as pre-signing assumes: SHA-1), its status and validity. */
    public record Answer(CertificateID id, Status status, Instant thisUpdate, Instant nextUpdate) {}

    /**
     * A signed, successful OCSPResponse in DER, written straight from its parts (RFC 6960 4.2.1:
     * OCSPResponse, ResponseBytes, BasicOCSPResponse, ResponseData with the responder's key hash,
     * one SingleResponse per answer), byte for byte what BouncyCastle's builders make of the same
     * answers, at about half the cost: pre-signing writes one for every live certificate.
     *
     * @param nonce the request's nonce extension value to echo, or null
     */
    public byte[] sign(List<Answer> answers, Extension nonce, Instant producedAt) {
        try {
            byte[][] parts = new byte[answers.size()][];
            for (int i = 0; i < parts.length; i++) {
                parts[i] = singleResponse(answers.get(i));
            }
            byte[] responseData = nonce == null
                    ? Der.tlv(Der.SEQUENCE, responderId, Der.generalizedTime(producedAt.toEpochMilli()), Der.tlv(Der.SEQUENCE, parts))
                    : Der.tlv(Der.SEQUENCE, responderId, Der.generalizedTime(producedAt.toEpochMilli()), Der.tlv(Der.SEQUENCE, parts),
                            Der.tlv(0xa1, Der.tlv(Der.SEQUENCE, nonce.getEncoded(ASN1Encoding.DER))));
            ContentSigner signer = key.contentSigner();
            try (OutputStream out = signer.getOutputStream()) {
                out.write(responseData);
            }
            byte[] signature = signer.getSignature();
            byte[] bitString = new byte[signature.length + 1]; // no unused bits
            System.arraycopy(signature, 0, bitString, 1, signature.length);
            byte[] algorithm = signatureAlgorithm;
            if (algorithm == null) {
                algorithm = signer.getAlgorithmIdentifier().getEncoded(ASN1Encoding.DER);
                signatureAlgorithm = algorithm;
            }
            byte[] basic = Der.tlv(Der.SEQUENCE, responseData, algorithm, Der.tlv(0x03, bitString), certs);
            return Der.tlv(Der.SEQUENCE, SUCCESSFUL, Der.tlv(0xa0, Der.tlv(Der.SEQUENCE, BASIC_RESPONSE_TYPE, Der.tlv(0x04, basic))));
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot sign an OCSP response: " + e.getMessage(), e);
        }
    }

    /** OCSPResponseStatus successful (ENUMERATED 0). */
    private static final byte[] SUCCESSFUL = {0x0a, 0x01, 0x00};
    /** id-pkix-ocsp-basic, 1.3.6.1.5.5.7.48.1.1. */
    private static final byte[] BASIC_RESPONSE_TYPE = {0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01};
    /** CertStatus good: [0] IMPLICIT NULL. */
    private static final byte[] GOOD_STATUS = {(byte) 0x80, 0x00};
    /** CertStatus unknown: [2] IMPLICIT NULL. */
    private static final byte[] UNKNOWN_STATUS = {(byte) 0x82, 0x00};

    /** SingleResponse: certID, certStatus, thisUpdate, nextUpdate [0] EXPLICIT when set. */
    private static byte[] singleResponse(Answer a) throws IOException {
        byte[] certId = a.id().toASN1Primitive().getEncoded(ASN1Encoding.DER);
        byte[] status = switch (a.status()) {
            case Status.Good g -> GOOD_STATUS;
            case Status.Unknown u -> UNKNOWN_STATUS;
            case Status.Revoked r -> r.reason() == null || r.reason() == RevocationReason.UNSPECIFIED
                    ? Der.tlv(0xa1, Der.generalizedTime(r.at().toEpochMilli()))
                    : Der.tlv(0xa1, Der.generalizedTime(r.at().toEpochMilli()), new byte[] {(byte) 0xa0, 0x03, 0x0a, 0x01, (byte) r.reason().code()});
        };
        byte[] thisUpdate = Der.generalizedTime(a.thisUpdate().toEpochMilli());
        return a.nextUpdate() == null ? Der.tlv(Der.SEQUENCE, certId, status, thisUpdate)
                : Der.tlv(Der.SEQUENCE, certId, status, thisUpdate, Der.tlv(0xa0, Der.generalizedTime(a.nextUpdate().toEpochMilli())));
    }

    /** An unsigned error response: malformedRequest, internalError, tryLater or unauthorized. */
    public static byte[] error(int status) {
        try {
            return new OCSPRespBuilder().build(status, null).getEncoded();
        } catch (OCSPException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static boolean isNonce(Extension e) {
        return e != null && OCSPObjectIdentifiers.id_pkix_ocsp_nonce.equals(e.getExtnId());
    }

    /**
     * A CA as OCSP requests name it: the hashes of its name and key under SHA-1 (what RFC 5019
     * clients send) and SHA-256.
     */
    public record Issuer(String name, X509Certificate certificate, byte[] sha1NameHash, byte[] sha1KeyHash, byte[] sha256NameHash, byte[] sha256KeyHash) {
        public static Issuer of(String name, X509Certificate ca) {
            byte[] dn = ca.getSubjectX500Principal().getEncoded();
            byte[] key = SubjectPublicKeyInfo.getInstance(ca.getPublicKey().getEncoded()).getPublicKeyData().getBytes();
            return new Issuer(name, ca, sha1(dn), sha1(key), sha256(dn), sha256(key));
        }

        /** Whether a request's CertID names this CA (SHA-1 or SHA-256 hashes). */
        public boolean matches(CertID id) {
            ASN1ObjectIdentifier alg = id.getHashAlgorithm().getAlgorithm();
            byte[] nameHash = id.getIssuerNameHash().getOctets();
            byte[] keyHash = id.getIssuerKeyHash().getOctets();
            if (OIWObjectIdentifiers.idSHA1.equals(alg)) {
                return MessageDigest.isEqual(nameHash, sha1NameHash) && MessageDigest.isEqual(keyHash, sha1KeyHash);
            }
            if (NISTObjectIdentifiers.id_sha256.equals(alg)) {
                return MessageDigest.isEqual(nameHash, sha256NameHash) && MessageDigest.isEqual(keyHash, sha256KeyHash);
            }
            return false;
        }

        /** The SHA-1 CertID of one of this CA's serials: what pre-signed responses answer. */
        public CertificateID sha1Id(BigInteger serial) {
            return new CertificateID(new CertID(new AlgorithmIdentifier(OIWObjectIdentifiers.idSHA1, DERNull.INSTANCE),
                    new DEROctetString(sha1NameHash), new DEROctetString(sha1KeyHash), new ASN1Integer(serial)));
        }
    }

    /** Whether a CertID is the SHA-1 form pre-signed responses carry. */
    public static boolean isSha1(CertID id) {
        return OIWObjectIdentifiers.idSHA1.equals(id.getHashAlgorithm().getAlgorithm());
    }

    private static byte[] sha1(byte[] b) {
        return digest("SHA-1", b);
    }

    private static byte[] sha256(byte[] b) {
        return digest("SHA-256", b);
    }

    private static byte[] digest(String alg, byte[] b) {
        try {
            return MessageDigest.getInstance(alg).digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses a DER OCSPResponse (for tests and the CLI). */
    public static OCSPResp parse(byte[] der) throws IOException {
        return new OCSPResp(der);
    }
}
