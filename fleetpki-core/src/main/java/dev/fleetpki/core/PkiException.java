package dev.fleetpki.core;

/** The one typed error of the core: a kind for adapters and a detail a person can act on. */
public class PkiException extends RuntimeException {
    private final ErrorKind kind;

    public PkiException(ErrorKind kind, String detail) {
        super(detail);
        this.kind = kind;
    }

    public PkiException(ErrorKind kind, String detail, Throwable cause) {
        super(detail, cause);
        this.kind = kind;
    }

    public ErrorKind kind() {
        return kind;
    }

    public String detail() {
        return getMessage();
    }
}
