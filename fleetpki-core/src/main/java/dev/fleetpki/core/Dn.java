package dev.fleetpki.core;

import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x500.X500Name;

/**
 * Distinguished names as people write them (RFC 4514: {@code CN=Acme Root CA,O=Acme}, most
 * specific first), encoded in the usual DER order (O before CN).
 */
public final class Dn {
    private Dn() {}

    public static X500Name parse(String text) {
        try {
            return X500Name.getInstance(new X500Principal(text).getEncoded());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "' is not a distinguished name like CN=Acme Root CA,O=Acme");
        }
    }
}
