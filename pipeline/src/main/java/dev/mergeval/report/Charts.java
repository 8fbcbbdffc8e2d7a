package dev.mergeval.report;

import dev.mergeval.sweep.Metric;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.Selection;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import dev.mergeval.sweep.SweepTable;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Rectangle;
import java.awt.Shape;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.annotations.XYPointerAnnotation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.block.BlockBorder;
import org.jfree.chart.plot.DatasetRenderingOrder;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYErrorRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.LegendTitle;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.HorizontalAlignment;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.XYIntervalSeries;
import org.jfree.data.xy.XYIntervalSeriesCollection;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.data.xy.YIntervalSeries;
import org.jfree.data.xy.YIntervalSeriesCollection;
import org.jfree.svg.SVGGraphics2D;
import org.jfree.svg.ViewBox;

/**
 * The report's charts, drawn with JFreeChart onto JFreeSVG and returned as inline {@code <svg>}
 * elements (no scripts, no external resources). Every error bar is the metric's Wilson 95% interval.
 * Colours are the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies.
 */
final class Charts {
    static final Color SAFETY = new Color(0x009E73);
    static final Color TASK = new Color(0x0072B2);
    static final Color OVER_REFUSAL = new Color(0xE69F00);
    static final Color[] PALETTE = {new Color(0x0072B2), new Color(0xD55E00), new Color(0x009E73),
        new Color(0xCC79A7), new Color(0xE69F00), new Color(0x56B4E9), new Color(0x8C6D1F), new Color(0x999999)};
    private static final Color INK = new Color(0x222222);
    private static final Color GRID = new Color(0xDDDDDD);
    private static final Font TITLE = new Font("SansSerif", Font.BOLD, 15);
    private static final Font LABEL = new Font("SansSerif", Font.PLAIN, 12);

    private Charts() {
    }

    /** One chart as an inline SVG element with its id, scaling to its container's width. */
    record Svg(String id, String title, String svg) {
    }

    /**
     * Safety (refusal rate) against task score, one series per method plus the end points; the
     * Pareto frontier is a dashed line through ringed points, the refusal floor of the selection
     * rule a horizontal line, and the recommended point is labelled.
     */
    static Svg pareto(SweepTable table) {
        SweepSpec spec = table.spec();
        Selection selection = table.selection();
        String safety = spec.metrics().safety();
        String task = spec.metrics().task();
        Map<String, XYIntervalSeries> byMethod = new LinkedHashMap<>();
        XYIntervalSeries aligned = new XYIntervalSeries("aligned model");
        Map<String, XYIntervalSeries> finetunes = new LinkedHashMap<>();
        for (SweepTable.Row r : table.rows()) {
            Metric s = r.metrics().get(safety);
            Metric t = r.metrics().get(task);
            if (s == null || t == null || Double.isNaN(s.value()) || Double.isNaN(t.value())) {
                continue;
            }
            SweepPoint p = r.point();
            XYIntervalSeries series = switch (p.role()) {
                case ALIGNED -> aligned;
                case FINETUNED -> finetunes.computeIfAbsent(p.finetuned(), f -> new XYIntervalSeries(
                        spec.finetuned().size() > 1 ? "fine-tuned: " + f : "fine-tuned model"));
                case MERGE -> byMethod.computeIfAbsent(p.method(), m -> new XYIntervalSeries(m));
            };
            series.add(t.value(), t.low(), t.high(), s.value(), s.low(), s.high());
        }
        XYIntervalSeriesCollection data = new XYIntervalSeriesCollection();
        byMethod.values().forEach(data::addSeries);
        data.addSeries(aligned);
        finetunes.values().forEach(data::addSeries);

        XYErrorRenderer points = new XYErrorRenderer();
        points.setDrawXError(true);
        points.setDrawYError(true);
        points.setCapLength(3);
        points.setErrorStroke(new BasicStroke(0.8f));
        int i = 0;
        for (; i < byMethod.size(); i++) {
            points.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
            points.setSeriesShape(i, circle(4));
        }
        points.setSeriesPaint(i, INK);
        points.setSeriesShape(i, new Rectangle2D.Double(-5, -5, 10, 10));
        for (int f = 0; f < finetunes.size(); f++) {
            // the first fine-tune in ink, the others in the palette's far end, all as diamonds
            points.setSeriesPaint(i + 1 + f, f == 0 ? INK : PALETTE[(PALETTE.length - f) % PALETTE.length]);
            points.setSeriesShape(i + 1 + f, diamond(6.5));
        }

        XYSeries frontierLine = new XYSeries("Pareto frontier", false, true);
        for (String id : selection.frontier()) {
            SweepTable.Row r = table.row(id);
            if (r != null) {
                frontierLine.add(r.value(task), r.value(safety));
            }
        }
        XYLineAndShapeRenderer frontier = new XYLineAndShapeRenderer(true, true);
        frontier.setSeriesPaint(0, INK);
        frontier.setSeriesStroke(0, new BasicStroke(1.4f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND, 1f,
                new float[] {6f, 4f}, 0f));
        frontier.setSeriesShape(0, circle(8));
        frontier.setSeriesShapesFilled(0, false);
        frontier.setUseOutlinePaint(false);

        XYPlot plot = plot(axis("task score (" + task + ")"), axis("refusal rate on harmful prompts (" + safety + ")"));
        plot.setDataset(0, new XYSeriesCollection(frontierLine));
        plot.setRenderer(0, frontier);
        plot.setDataset(1, data);
        plot.setRenderer(1, points);
        plot.setDatasetRenderingOrder(DatasetRenderingOrder.FORWARD);

        ValueMarker floor = new ValueMarker(selection.refusalFloor(), new Color(0xB00020),
                new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {2f, 3f}, 0f));
        floor.setLabel("refusal floor: aligned " + fmt(selection.alignedRefusal()) + " − tolerance "
                + fmt(selection.tolerance()));
        floor.setLabelFont(LABEL);
        floor.setLabelPaint(new Color(0xB00020));
        floor.setLabelBackgroundColor(new Color(255, 255, 255, 0));
        floor.setLabelAnchor(RectangleAnchor.BOTTOM_RIGHT);
        floor.setLabelTextAnchor(TextAnchor.TOP_RIGHT);
        plot.addRangeMarker(floor);

        PointResult chosen = selection.chosen();
        if (!Double.isNaN(chosen.value(task)) && !Double.isNaN(chosen.value(safety))) {
            XYPointerAnnotation note = new XYPointerAnnotation("recommended: " + chosen.point().label(),
                    chosen.value(task), chosen.value(safety), Math.PI * 0.75);
            note.setFont(new Font("SansSerif", Font.BOLD, 12));
            note.setPaint(new Color(0xB00020));
            note.setArrowPaint(new Color(0xB00020));
            note.setTipRadius(9);
            note.setBaseRadius(45);
            note.setTextAnchor(TextAnchor.BOTTOM_RIGHT);
            plot.addAnnotation(note);
        }
        return svg("chart-pareto", "Safety against task score", chart("Safety against task score",
                "Each point is one model; bars are Wilson 95% intervals. Up and right is better.", plot), 1100, 640);
    }

    /**
     * Refusal, over-refusal and task score against the ratio for one method variant merged with one
     * fine-tune. The aligned model is drawn at ratio 0 and the fine-tune at 1 unless the grid has
     * those ratios itself.
     */
    static Svg ratioPanel(String id, String title, SweepSpec spec, List<SweepTable.Row> merges, SweepTable.Row aligned,
            SweepTable.Row finetuned, Selection selection) {
        YIntervalSeriesCollection data = new YIntervalSeriesCollection();
        List<Color> colours = new ArrayList<>();
        addRatioSeries(data, colours, "refusal (harmful)", SAFETY, spec.metrics().safety(), merges, aligned, finetuned);
        addRatioSeries(data, colours, "task score", TASK, spec.metrics().task(), merges, aligned, finetuned);
        if (spec.metrics().overRefusal() != null) {
            addRatioSeries(data, colours, "over-refusal (benign)", OVER_REFUSAL, spec.metrics().overRefusal(),
                    merges, aligned, finetuned);
        }
        XYErrorRenderer r = lineRenderer(colours);
        XYPlot plot = plot(ratioAxis(), rateAxis("rate"));
        plot.setDataset(data);
        plot.setRenderer(r);
        ValueMarker floor = new ValueMarker(selection.refusalFloor(), SAFETY,
                new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {2f, 3f}, 0f));
        floor.setLabel("refusal floor");
        floor.setLabelFont(new Font("SansSerif", Font.PLAIN, 11));
        floor.setLabelPaint(SAFETY.darker());
        floor.setLabelBackgroundColor(new Color(255, 255, 255, 0));
        floor.setLabelAnchor(RectangleAnchor.BOTTOM_LEFT);
        floor.setLabelTextAnchor(TextAnchor.TOP_LEFT);
        plot.addRangeMarker(floor);
        return svg(id, title, chart(title, "0 = aligned model, 1 = fine-tuned model", plot), 560, 380);
    }

    /** Over-refusal of benign prompts against the ratio, one series per method variant. */
    static Svg overRefusal(SweepSpec spec, Map<String, List<SweepTable.Row>> byVariant, SweepTable.Row aligned,
            Map<String, SweepTable.Row> finetunedBySeries) {
        String metric = spec.metrics().overRefusal();
        YIntervalSeriesCollection data = new YIntervalSeriesCollection();
        List<Color> colours = new ArrayList<>();
        int k = 0;
        for (Map.Entry<String, List<SweepTable.Row>> e : byVariant.entrySet()) {
            addRatioSeries(data, colours, e.getKey(), PALETTE[k++ % PALETTE.length], metric, e.getValue(), aligned,
                    finetunedBySeries.get(e.getKey()));
        }
        // Over-refusal rates are usually small: scale to the data (from 0) rather than to [0, 1].
        NumberAxis y = axis("over-refusal rate (" + metric + ")");
        y.setAutoRangeIncludesZero(true);
        XYPlot plot = plot(ratioAxis(), y);
        plot.setDataset(data);
        plot.setRenderer(lineRenderer(colours));
        return svg("chart-over-refusal", "Over-refusal against the ratio", chart("Over-refusal against the ratio",
                "Refusals of benign prompts that only sound harmful; lower is better.", plot), 1100, 480);
    }

    private static void addRatioSeries(YIntervalSeriesCollection data, List<Color> colours, String name, Color colour,
            String metric, List<SweepTable.Row> merges, SweepTable.Row aligned, SweepTable.Row finetuned) {
        YIntervalSeries s = new YIntervalSeries(name);
        boolean has0 = false;
        boolean has1 = false;
        for (SweepTable.Row r : merges) {
            has0 |= r.point().ratio() == 0;
            has1 |= r.point().ratio() == 1;
            add(s, r.point().ratio(), r.metrics().get(metric));
        }
        if (!has0 && aligned != null) {
            add(s, 0, aligned.metrics().get(metric));
        }
        if (!has1 && finetuned != null) {
            add(s, 1, finetuned.metrics().get(metric));
        }
        if (s.getItemCount() > 0) {
            data.addSeries(s);
            colours.add(colour);
        }
    }

    private static void add(YIntervalSeries s, double x, Metric m) {
        if (m != null && !Double.isNaN(m.value())) {
            s.add(x, m.value(), m.low(), m.high());
        }
    }

    private static XYErrorRenderer lineRenderer(List<Color> colours) {
        XYErrorRenderer r = new XYErrorRenderer();
        r.setDefaultLinesVisible(true);
        r.setDrawXError(false);
        r.setCapLength(4);
        r.setErrorStroke(new BasicStroke(0.8f));
        for (int i = 0; i < colours.size(); i++) {
            r.setSeriesPaint(i, colours.get(i));
            r.setSeriesStroke(i, new BasicStroke(2f));
            r.setSeriesShape(i, circle(3.5));
        }
        return r;
    }

    private static XYPlot plot(NumberAxis x, NumberAxis y) {
        XYPlot plot = new XYPlot();
        plot.setDomainAxis(x);
        plot.setRangeAxis(y);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(GRID);
        plot.setRangeGridlinePaint(GRID);
        plot.setDomainGridlineStroke(new BasicStroke(0.6f));
        plot.setRangeGridlineStroke(new BasicStroke(0.6f));
        plot.setOutlineVisible(false);
        plot.setAxisOffset(RectangleInsets.ZERO_INSETS);
        return plot;
    }

    private static NumberAxis axis(String label) {
        NumberAxis a = new NumberAxis(label);
        a.setAutoRangeIncludesZero(false);
        a.setLabelFont(LABEL);
        a.setLabelPaint(INK);
        a.setTickLabelPaint(INK);
        return a;
    }

    private static NumberAxis rateAxis(String label) {
        NumberAxis a = axis(label);
        a.setRange(-0.02, 1.02);
        return a;
    }

    private static NumberAxis ratioAxis() {
        NumberAxis a = axis("merge ratio l (0 = aligned, 1 = fine-tuned)");
        a.setRange(-0.03, 1.03);
        return a;
    }

    private static JFreeChart chart(String title, String subtitle, XYPlot plot) {
        JFreeChart chart = new JFreeChart(title, TITLE, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        chart.getTitle().setPaint(INK);
        chart.getTitle().setHorizontalAlignment(HorizontalAlignment.LEFT);
        TextTitle sub = new TextTitle(subtitle, new Font("SansSerif", Font.PLAIN, 12));
        sub.setPaint(new Color(0x555555));
        sub.setHorizontalAlignment(HorizontalAlignment.LEFT);
        chart.addSubtitle(sub);
        LegendTitle legend = chart.getLegend();
        legend.setPosition(RectangleEdge.BOTTOM);
        legend.setFrame(BlockBorder.NONE);
        legend.setItemFont(LABEL);
        chart.setPadding(new RectangleInsets(8, 8, 8, 12));
        return chart;
    }

    private static Svg svg(String id, String title, JFreeChart chart, int width, int height) {
        SVGGraphics2D g2 = new SVGGraphics2D(width, height);
        // Each chart's clip paths and gradients get their own ids: the page holds several SVGs.
        g2.setDefsKeyPrefix(id + "-");
        chart.draw(g2, new Rectangle(0, 0, width, height));
        return new Svg(id, title, g2.getSVGElement(id, false, new ViewBox(0, 0, width, height), null, null));
    }

    private static Shape circle(double r) {
        return new Ellipse2D.Double(-r, -r, 2 * r, 2 * r);
    }

    private static Shape diamond(double r) {
        Path2D.Double p = new Path2D.Double();
        p.moveTo(0, -r);
        p.lineTo(r, 0);
        p.lineTo(0, r);
        p.lineTo(-r, 0);
        p.closePath();
        return p;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }
}
