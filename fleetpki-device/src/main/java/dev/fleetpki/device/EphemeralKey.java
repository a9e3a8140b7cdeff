package dev.fleetpki.device;

import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SigningKey;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Map;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A P-256 key held only in this process's memory: what a simulated device uses (a real device keeps
 * its key in an encrypted file or a secure element, {@link DeviceIdentity}). Never written anywhere.
 */
public final class EphemeralKey implements SigningKey {
    private final KeyRef ref;
    private final KeyPair pair;

    private EphemeralKey(String label, KeyPair pair) {
        this.ref = new KeyRef("memory:" + label, "memory", label, Map.of(), Map.of());
        this.pair = pair;
    }

    public static EphemeralKey p256(String label) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return new EphemeralKey(label, g.generateKeyPair());
        } catch (GeneralSecurityException e) {
            throw new DeviceException("cannot make a P-256 key: " + e.getMessage(), e);
        }
    }

    @Override
    public KeyRef ref() {
        return ref;
    }

    @Override
    public PublicKey publicKey() {
        return pair.getPublic();
    }

    @Override
    public KeyAlgorithm algorithm() {
        return KeyAlgorithm.EC_P256;
    }

    @Override
    public ContentSigner contentSigner() {
        try {
            return new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate());
        } catch (OperatorCreationException e) {
            throw new DeviceException("cannot sign: " + e.getMessage(), e);
        }
    }

    @Override
    public String location() {
        return "in memory (simulated device)";
    }

    @Override
    public PrivateKey handle() {
        return pair.getPrivate();
    }

    @Override
    public Provider provider() {
        return null;
    }
}
