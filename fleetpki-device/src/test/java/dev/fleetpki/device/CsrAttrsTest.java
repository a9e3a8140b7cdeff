package dev.fleetpki.device;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.kms.KeyAlgorithm;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.DERSet;
import org.junit.jupiter.api.Test;

/** The key a device makes, read from csrattrs as fleetpki (and RFC 7030 4.5.2's example) writes it. */
class CsrAttrsTest {
    private static DERSequence attrs(Object... items) {
        ASN1EncodableVector v = new ASN1EncodableVector();
        for (Object o : items) {
            v.add((org.bouncycastle.asn1.ASN1Encodable) o);
        }
        return new DERSequence(v);
    }

    private static DERSequence attribute(String type, org.bouncycastle.asn1.ASN1Encodable value) {
        return new DERSequence(new org.bouncycastle.asn1.ASN1Encodable[] {new ASN1ObjectIdentifier(type), new DERSet(value)});
    }

    @Test
    void curvesSizesAndBareAlgorithms() {
        ASN1ObjectIdentifier ecdsaSha384 = new ASN1ObjectIdentifier("1.2.840.10045.4.3.3");
        assertThat(EstClient.keyAlgorithm(attrs(attribute("1.2.840.10045.2.1", new ASN1ObjectIdentifier("1.3.132.0.34")), ecdsaSha384)))
                .hasValue(KeyAlgorithm.EC_P384);
        assertThat(EstClient.keyAlgorithm(attrs(attribute("1.2.840.113549.1.1.1", new ASN1Integer(3072)))))
                .hasValue(KeyAlgorithm.RSA_3072);
        assertThat(EstClient.keyAlgorithm(attrs(new ASN1ObjectIdentifier("1.3.101.112")))).hasValue(KeyAlgorithm.ED25519);
        assertThat(EstClient.keyAlgorithm(attrs(ecdsaSha384))).as("a signature algorithm alone names no key").isEmpty();
        assertThat(EstClient.keyAlgorithm(attrs(attribute("1.2.840.10045.2.1", new ASN1ObjectIdentifier("1.3.132.0.10"))))).as("secp256k1: not made")
                .isEmpty();
    }
}
