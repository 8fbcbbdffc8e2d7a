package dev.mergeval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.SweepSpec;
import dev.mergeval.sweep.SweepTable;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opens report.html in headless Chromium (Debian package {@code chromium}), offline, and checks that
 * the page renders with its charts: the DOM Chromium built holds one SVG per chart with every
 * series named, and the screenshot is a real page with the charts' colours in it.
 */
class ReportChromiumTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final int WIDTH = 1280;
    static final int HEIGHT = 2400;

    @TempDir
    static Path dir;
    static SweepSpec spec;

    @BeforeAll
    static void writeReport() {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM),
                "skipped: " + CHROMIUM + " is absent; install Debian's chromium (apt-get install -y chromium)");
        spec = SweepFixture.spec();
        List<PointResult> results = SweepFixture.results(spec);
        SweepReport.write(dir, SweepTable.of(spec, results), SweepFixture.provenance(spec));
    }

    @Test
    void domHasEveryChartWithItsSeries() throws Exception {
        String dom = chromium("--dump-dom").stdout;
        List<String> svgs = svgs(dom);
        assertEquals(7, svgs.size(), "Pareto, five ratio panels, over-refusal");
        String pareto = figure(dom, "chart-pareto");
        for (String series : List.of("linear", "slerp", "ties", "dare_linear", "aligned model", "fine-tuned model",
                "Pareto frontier", "recommended:", "refusal floor")) {
            assertTrue(pareto.contains(">" + series), "Pareto chart shows " + series);
        }
        for (int k = 0; k < 5; k++) {
            String panel = figure(dom, "chart-ratio-" + k);
            for (String series : List.of("refusal (harmful)", "task score", "over-refusal (benign)")) {
                assertTrue(panel.contains(">" + series + "<"), "panel " + k + " shows " + series);
            }
        }
        String over = figure(dom, "chart-over-refusal");
        for (String series : List.of("linear", "slerp", "ties density=0.3", "ties density=0.7",
                "dare_linear density=0.5")) {
            assertTrue(over.contains(">" + series + "<"), "over-refusal chart shows " + series);
        }
        assertTrue(dom.contains("id=\"recommendation\"") && dom.contains("id=\"goal\""));
        assertEquals(spec.points().size(), count(dom, "data-point=\""));
    }

    @Test
    void screenshotShowsTheChartsInTheirColours() throws Exception {
        Path png = dir.resolve("report.png");
        chromium("--screenshot=" + png, "--window-size=" + WIDTH + "," + HEIGHT);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(WIDTH, img.getWidth());
        assertEquals(HEIGHT, img.getHeight());
        Set<Integer> colours = new HashSet<>();
        int green = 0;
        int blue = 0;
        int orange = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y) & 0xFFFFFF;
                colours.add(rgb);
                green += near(rgb, Charts.SAFETY) ? 1 : 0;
                blue += near(rgb, Charts.TASK) ? 1 : 0;
                orange += near(rgb, Charts.OVER_REFUSAL) ? 1 : 0;
            }
        }
        assertTrue(colours.size() > 200, "a rendered page, not a blank one: " + colours.size() + " colours");
        assertTrue(green > 2000 && blue > 2000 && orange > 1000,
                "chart lines drawn: green " + green + ", blue " + blue + ", orange " + orange + " pixels");
    }

    private static boolean near(int rgb, Color c) {
        return Math.abs(((rgb >> 16) & 0xFF) - c.getRed()) < 24 && Math.abs(((rgb >> 8) & 0xFF) - c.getGreen()) < 24
                && Math.abs((rgb & 0xFF) - c.getBlue()) < 24;
    }

    private record Run(String stdout) {
    }

    private static Run chromium(String... action) throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory(dir, "profile");
        List<String> cmd = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + profile));
        cmd.addAll(List.of(action));
        cmd.add(dir.resolve("report.html").toUri().toString());
        Path out = dir.resolve("chromium.out");
        Path err = dir.resolve("chromium.err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not finish in 120 s: " + cmd);
        }
        String stdout = Files.readString(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "chromium failed: " + Files.readString(err, StandardCharsets.UTF_8));
        return new Run(stdout);
    }

    private static List<String> svgs(String dom) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("<svg[\\s\\S]*?</svg>").matcher(dom);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    private static String figure(String dom, String chartId) {
        int start = dom.indexOf("data-chart=\"" + chartId + "\"");
        assertTrue(start >= 0, "figure " + chartId + " in the DOM");
        int end = dom.indexOf("</figure>", start);
        String fig = dom.substring(start, end);
        assertTrue(fig.contains("<svg") && fig.contains("</svg>"), chartId + " holds an svg element");
        return fig;
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }
}
