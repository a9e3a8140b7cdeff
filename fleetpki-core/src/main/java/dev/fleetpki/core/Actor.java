package dev.fleetpki.core;

/**
 * Who did something, as the audit log records it: {@code operator:alice}, {@code station:line-3},
 * {@code device:sensor-42}.
 */
public record Actor(String kind, String name) {
    public Actor {
        if (kind == null || kind.isBlank() || name == null || name.isBlank()) {
            throw new IllegalArgumentException("an actor needs a kind and a name");
        }
    }

    public static Actor operator(String name) {
        return new Actor("operator", name);
    }

    public static Actor station(String name) {
        return new Actor("station", name);
    }

    public static Actor system() {
        return new Actor("system", "fleetpki");
    }

    /** The inverse of {@link #toString()}: {@code kind:name}. */
    public static Actor parse(String text) {
        int colon = text.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("an actor is written kind:name, not '" + text + "'");
        }
        return new Actor(text.substring(0, colon), text.substring(colon + 1));
    }

    @Override
    public String toString() {
        return kind + ":" + name;
    }
}
