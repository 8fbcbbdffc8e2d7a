package dev.mergeval.bench;

import dev.mergeval.common.Progress;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import dev.mergeval.sweep.SweepPoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;

/**
 * A sweep point evaluated merge-on-load against the same point materialized: time to a loaded
 * model, and bytes written, for each method, in one run.
 */
public final class MergeOnLoadBenchmark {

    /** One point measured both ways. */
    public record Row(String point, double onLoadSeconds, double materializedSeconds, long bytesWritten) {
    }

    private MergeOnLoadBenchmark() {
    }

    public static List<Row> run(String aligned, String finetuned, List<String> methods, double ratio, Path work,
            Configuration conf) throws IOException {
        List<Row> rows = new ArrayList<>();
        // The first method runs twice and its first row is dropped: engine start and class loading
        // would otherwise be charged to whichever path runs first.
        List<String> runs = new ArrayList<>(methods.subList(0, 1));
        runs.addAll(methods);
        for (String method : runs) {
            Map<String, Object> params = method.startsWith("ties") || method.startsWith("dare")
                    ? Map.of("density", 0.5) : Map.of();
            SweepPoint point = SweepPoint.merge(method, aligned, finetuned, ratio, params, 0, "bench");
            Path yaml = work.resolve(method + ".yaml");
            Files.createDirectories(work);
            Files.writeString(yaml, point.toMergekitYaml());

            long start = System.nanoTime();
            try (LanguageModel m = ModelSources.load(ModelSource.parse(ModelSource.MERGE_PREFIX + yaml + "#seed=0", conf), conf,
                    RuntimeOptions.cpu())) {
                m.id();
            }
            double onLoad = (System.nanoTime() - start) / 1e9;

            Path out = work.resolve("materialized-" + method);
            start = System.nanoTime();
            MergeJob.run(new MergeJob.Request(yaml.toString(), point.toMergekitYaml(), out.toString(), 0, true,
                    PlanOptions.defaults()), new LocalMergeExecutor(1, conf, Progress.NONE), conf);
            try (LanguageModel m = ModelSources.load(new ModelSource.Directory(out.toString()), conf, RuntimeOptions.cpu())) {
                m.id();
            }
            double materialized = (System.nanoTime() - start) / 1e9;
            rows.add(new Row(point.label(), onLoad, materialized, sizeOf(out)));
        }
        return rows.subList(1, rows.size());
    }

    private static long sizeOf(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
