package dev.kiln.bench;

import java.util.Locale;
import java.util.Map;

/**
 * The report's chart as SVG text: per model, four bars of ORT time / Kiln time (prealloc; batch 1 and 64 at 1
 * and 2 threads) over a dashed line at 1, where the two are even. Plain SVG, so a browser or GitHub shows it
 * with no tool to run.
 */
final class RatioChart {
    private static final String[] SERIES = {"batch 1, 1 thread", "batch 1, 2 threads", "batch 64, 1 thread",
        "batch 64, 2 threads"};
    private static final String[] COLORS = {"#1f77b4", "#9ecae1", "#e6550d", "#fdae6b"};
    private static final int WIDTH = 760;
    private static final int HEIGHT = 380;
    private static final int LEFT = 56;
    private static final int RIGHT = 16;
    private static final int TOP = 44;
    private static final int BOTTOM = 64;

    private RatioChart() {}

    /** @param ratios per model (in order), the four ratios of {@link #SERIES}; NaN where not measured */
    static String svg(Map<String, double[]> ratios, String date) {
        double max = 2;
        for (double[] v : ratios.values()) {
            for (double x : v) {
                if (!Double.isNaN(x)) {
                    max = Math.max(max, x);
                }
            }
        }
        double top = Math.ceil(max * 1.1 * 2) / 2; // a multiple of 0.5 above every bar, room for its label
        double plotH = HEIGHT - TOP - BOTTOM;
        double plotW = WIDTH - LEFT - RIGHT;
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">%n", WIDTH, HEIGHT, WIDTH, HEIGHT));
        s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, HEIGHT));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">ONNX Runtime "
                + "time / Kiln time (prealloc; above 1 = Kiln faster), %s</text>%n", LEFT, escape(date)));
        double step = top <= 4 ? 0.5 : top <= 10 ? 1 : Math.ceil(top / 10);
        for (double y = 0; y <= top + 1e-9; y += step) {
            double py = TOP + plotH - y / top * plotH;
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>%n",
                    LEFT, py, WIDTH - RIGHT, py));
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n",
                    LEFT - 6, py + 4, trim(y)));
        }
        double groupW = plotW / Math.max(1, ratios.size());
        double barW = groupW * 0.8 / SERIES.length;
        int g = 0;
        for (Map.Entry<String, double[]> e : ratios.entrySet()) {
            double gx = LEFT + g * groupW + groupW * 0.1;
            for (int i = 0; i < SERIES.length; i++) {
                double v = i < e.getValue().length ? e.getValue()[i] : Double.NaN;
                double x = gx + i * barW;
                if (Double.isNaN(v)) {
                    s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                            + "fill=\"#888\">n/a</text>%n", x + barW / 2, TOP + plotH - 4));
                    continue;
                }
                double h = v / top * plotH;
                s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        + "fill=\"%s\"><title>%s, %s: %.2f</title></rect>%n", x + 1, TOP + plotH - h, barW - 2, h,
                        COLORS[i], escape(e.getKey()), SERIES[i], v));
                s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                        + "font-size=\"10\">%.2f</text>%n", x + barW / 2, TOP + plotH - h - 3, v));
            }
            s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                    + "font-size=\"12\">%s</text>%n", LEFT + g * groupW + groupW / 2, TOP + plotH + 18,
                    escape(e.getKey())));
            g++;
        }
        double one = TOP + plotH - 1 / top * plotH;
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#c00\" "
                + "stroke-dasharray=\"6,4\"/>%n", LEFT, one, WIDTH - RIGHT, one));
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>%n",
                LEFT, TOP, LEFT, TOP + plotH));
        for (int i = 0; i < SERIES.length; i++) {
            double lx = LEFT + i * (plotW / SERIES.length);
            double ly = HEIGHT - 20;
            s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>%n",
                    lx, ly - 10, COLORS[i]));
            s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\">%s</text>%n", lx + 16, ly, SERIES[i]));
        }
        s.append("</svg>\n");
        return s.toString();
    }

    private static String trim(double y) {
        return y == Math.rint(y) ? String.valueOf((long) y) : String.format(Locale.ROOT, "%.1f", y);
    }

    private static String escape(String t) {
        return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
