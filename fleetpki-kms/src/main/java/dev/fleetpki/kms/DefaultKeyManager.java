package dev.fleetpki.kms;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Routes a {@link KeyRef} to the file or PKCS#11 back-end and caches opened keys. */
public final class DefaultKeyManager implements KeyManager {
    private final FileKeys files;
    private final Pkcs11Keys pkcs11;
    private final Map<String, SigningKey> opened = new ConcurrentHashMap<>();

    /** Providers are registered when the first key is made or opened, not here: commands that sign nothing start faster. */
    public DefaultKeyManager(Path home) {
        this.files = new FileKeys(home);
        this.pkcs11 = new Pkcs11Keys(home);
    }

    @Override
    public SigningKey create(KeyRef ref, KeyAlgorithm algorithm, SecretSource secret) {
        Crypto.init();
        SigningKey k = ref.isFile() ? files.create(ref, algorithm, secret) : pkcs11.create(ref, algorithm);
        opened.put(ref.uri(), k);
        return k;
    }

    @Override
    public SigningKey open(KeyRef ref, SecretSource secret) {
        SigningKey k = opened.get(ref.uri());
        if (k != null) {
            return k;
        }
        Crypto.init();
        k = ref.isFile() ? files.open(ref, secret) : pkcs11.open(ref);
        opened.put(ref.uri(), k);
        return k;
    }

    @Override
    public void destroy(KeyRef ref) {
        opened.remove(ref.uri());
        if (ref.isFile()) {
            files.destroy(ref);
        } else {
            Crypto.init();
            pkcs11.destroy(ref);
        }
    }
}
