package dev.fleetpki.server;

import java.util.Arrays;

/**
 * Bar charts as inline SVG, drawn on the server: no script, no library, nothing fetched. Each bar
 * carries its label and value as a tooltip ({@code <title>}), and the chart's summary is its
 * accessible name.
 */
final class Charts {
    private Charts() {}

    /**
     * Vertical bars, one per value, with a label under every {@code labelEvery}-th bar and the
     * largest value on the axis.
     */
    static String bars(String summary, long[] values, String[] labels, int labelEvery) {
        int w = 720;
        int h = 180;
        int left = 44;
        int bottom = 22;
        int top = 8;
        long max = Math.max(1, Arrays.stream(values).max().orElse(1));
        double slot = (double) (w - left - 4) / Math.max(1, values.length);
        StringBuilder b = new StringBuilder();
        b.append("<svg class=\"chart\" viewBox=\"0 0 ").append(w).append(' ').append(h).append("\" role=\"img\" aria-label=\"")
                .append(Html.esc(summary)).append("\"><title>").append(Html.esc(summary)).append("</title>");
        int baseY = h - bottom;
        b.append("<line class=\"axis\" x1=\"").append(left).append("\" y1=\"").append(baseY).append("\" x2=\"").append(w - 4)
                .append("\" y2=\"").append(baseY).append("\"/>");
        b.append("<text class=\"tick\" x=\"").append(left - 6).append("\" y=\"").append(top + 10).append("\" text-anchor=\"end\">")
                .append(max).append("</text>");
        b.append("<text class=\"tick\" x=\"").append(left - 6).append("\" y=\"").append(baseY).append("\" text-anchor=\"end\">0</text>");
        for (int i = 0; i < values.length; i++) {
            double bh = (double) values[i] * (baseY - top) / max;
            double x = left + i * slot + slot * 0.1;
            b.append(String.format(java.util.Locale.ROOT, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>%s: %d</title></rect>",
                    x, baseY - bh, slot * 0.8, bh, Html.esc(labels[i]), values[i]));
            if (i % labelEvery == 0) {
                b.append(String.format(java.util.Locale.ROOT, "<text class=\"tick\" x=\"%.1f\" y=\"%d\">%s</text>", x, h - 6, Html.esc(labels[i])));
            }
        }
        return b.append("</svg>").toString();
    }
}
