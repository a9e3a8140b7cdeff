package dev.fleetpki.core;

/** Finds a CA that can sign, by name; opening its key is the directory's job. */
public interface CaDirectory {
    /**
     * @throws PkiException NOT_FOUND when there is no such CA, or CONFIG when its key cannot be opened
     */
    CertificateAuthority get(String name);

    /** The CA that signs new certificates in place of {@code name}: itself unless a CA rollover switched to a successor. */
    default String current(String name) {
        return name;
    }
}
