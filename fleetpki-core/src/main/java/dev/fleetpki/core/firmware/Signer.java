package dev.fleetpki.core.firmware;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.time.Instant;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * A named firmware signer: a key that stays in its file or token, its current code-signing
 * certificate from the code-signing CA, and the device models it signs images for.
 *
 * @param models the device models it may sign for; {@code *} alone: every model. Never empty
 * @param keyRef where its key is (file: relative to the CA home, or pkcs11:)
 * @param serial its current certificate's serial
 * @param revokedAt when it was revoked (with all its certificates), or null
 */
public record Signer(String name, Set<String> models, String keyRef, String serial, Status status, Instant createdAt, Actor createdBy,
                     Instant revokedAt) {
    public enum Status { ACTIVE, REVOKED }

    /** A signer name: the certificate's CN and a path segment of the API, so letters, digits, '.', '_' and '-' only. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern MODEL = Pattern.compile("\\*|[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}");

    public Signer {
        checkName(name);
        models = checkModels(models);
    }

    public static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "signer name '" + (name == null ? "" : name.replaceAll("\\p{Cntrl}", "?"))
                    + "' is not valid; use 1-64 letters, digits, '.', '_' and '-', starting with a letter or digit (it becomes the certificate's CN)");
        }
    }

    /** The models as given, checked: at least one, each a model name or {@code *} alone. */
    public static Set<String> checkModels(Set<String> models) {
        if (models == null || models.isEmpty()) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a signer signs firmware for named device models and for nothing else; "
                    + "name them with --models sensor-v2,gateway-v1 (or --models '*' for every model)");
        }
        for (String m : models) {
            if (!MODEL.matcher(m).matches()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + m.replaceAll("\\p{Cntrl}", "?") + "' is not a device model name");
            }
        }
        if (models.contains("*") && models.size() > 1) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'*' already means every model; give it alone or list the models");
        }
        return Set.copyOf(models);
    }

    /** Whether this signer may sign for devices of {@code model}. */
    public boolean covers(String model) {
        return models.contains("*") || models.contains(model);
    }

    public boolean active() {
        return status == Status.ACTIVE;
    }

    /** The models, sorted and comma-separated, as listed and stored. */
    public String modelList() {
        return String.join(",", new TreeSet<>(models));
    }
}
