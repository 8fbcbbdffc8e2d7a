/**
 * Sweep outputs: {@code results.csv} ({@link dev.mergeval.report.ResultsCsv}), {@code summary.json}
 * ({@link dev.mergeval.report.SummaryJson}) and the self-contained {@code report.html}
 * ({@link dev.mergeval.report.ReportHtml}, charts drawn server-side as inline SVG by
 * {@link dev.mergeval.report.Charts}); {@link dev.mergeval.report.SweepReport#write} writes all three
 * from one {@link dev.mergeval.sweep.SweepTable}.
 */
package dev.mergeval.report;
