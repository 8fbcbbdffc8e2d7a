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

    /** What a row is about, ordered by model, task, metric, category. */
    record Key(String model, String task, String metric, String category) implements Comparable<Key>, Serializable {
        private static final Comparator<Key> ORDER = Comparator.comparing(Key::model).thenComparing(Key::task)
                .thenComparing(Key::metric).thenComparing(Key::category);

        @Override
        public int compareTo(Key o) {
            return ORDER.compare(this, o);
        }
    }

    /** The aggregation buffer: a sorted map from key to counts (serializable, for Spark). */
    public static final class State implements Serializable {
        private static final long serialVersionUID = 1L;
        final TreeMap<Key, Counts> counts = new TreeMap<>();
    }

    public static State zero() {
        return new State();
    }

    public static State reduce(State s, PromptRecord r) {
        for (Map.Entry<String, Boolean> e : r.outcomes().entrySet()) {
            for (String category : r.category().equals(MetricRow.ALL)
                    ? List.of(MetricRow.ALL) : List.of(MetricRow.ALL, r.category())) {
                Counts c = s.counts.computeIfAbsent(new Key(r.model(), r.task(), e.getKey(), category), k -> new Counts());
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
        s.counts.forEach((k, c) -> rows.add(new MetricRow(k.model(), k.task(), k.metric(), k.category(), c.n, c.unparseable,
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
