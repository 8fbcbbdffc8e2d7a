package dev.mergeval.eval;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Counts per (model, task, metric, category), written as an aggregator
 * ({@code zero / reduce / merge / finish}, the shape of Spark's {@code Aggregator}): counts only
 * add, so any partitioning of the records and any merge order give the same metrics. Each record
 * adds to its own category and to {@link MetricRow#ALL}.
 */
public final class MetricsAggregator {

    private MetricsAggregator() {
    }

    /** The counts of one key: n, successes, unparseable. */
    public static final class Counts implements Serializable {
        private static final long serialVersionUID = 1L;
        long n;
        long successes;
        long unparseable;

        void add(Counts o) {
            n += o.n;
            successes += o.successes;
            unparseable += o.unparseable;
        }
    }

    /** The aggregation buffer: a sorted map from key to counts. */
    public static final class State implements Serializable {
        private static final long serialVersionUID = 1L;
        final TreeMap<List<String>, Counts> counts = new TreeMap<>(KEY_ORDER);
    }

    private static final Comparator<List<String>> KEY_ORDER = (a, b) -> {
        for (int i = 0; i < a.size(); i++) {
            int c = a.get(i).compareTo(b.get(i));
            if (c != 0) {
                return c;
            }
        }
        return 0;
    };

    public static State zero() {
        return new State();
    }

    public static State reduce(State s, PromptRecord r) {
        for (Map.Entry<String, Boolean> e : r.outcomes().entrySet()) {
            for (String category : r.category().equals(MetricRow.ALL)
                    ? List.of(MetricRow.ALL) : List.of(MetricRow.ALL, r.category())) {
                Counts c = s.counts.computeIfAbsent(List.of(r.model(), r.task(), e.getKey(), category), k -> new Counts());
                c.n++;
                if (e.getValue() == null) {
                    c.unparseable++;
                } else if (e.getValue()) {
                    c.successes++;
                }
            }
        }
        return s;
    }

    public static State merge(State a, State b) {
        State out = new State();
        for (State s : List.of(a, b)) {
            s.counts.forEach((k, v) -> out.counts.computeIfAbsent(k, x -> new Counts()).add(v));
        }
        return out;
    }

    /** One row per key, in (model, task, metric, category) order. */
    public static List<MetricRow> finish(State s) {
        List<MetricRow> rows = new ArrayList<>();
        s.counts.forEach((k, c) -> rows.add(new MetricRow(k.get(0), k.get(1), k.get(2), k.get(3), c.n, c.unparseable,
                RateInterval.wilson(c.successes, c.n - c.unparseable))));
        return rows;
    }

    /** Aggregates a list in one partition. */
    public static List<MetricRow> aggregate(List<PromptRecord> records) {
        State s = zero();
        for (PromptRecord r : records) {
            reduce(s, r);
        }
        return finish(s);
    }
}
