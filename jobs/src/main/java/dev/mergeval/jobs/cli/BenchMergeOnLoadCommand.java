package dev.mergeval.jobs.cli;

import dev.mergeval.bench.MergeOnLoadBenchmark;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mergeval bench merge-on-load}: a sweep point loaded merge-on-load vs materialized first. */
@Command(name = "merge-on-load", mixinStandardHelpOptions = true,
        description = "Time to a loaded model and bytes written: merge-on-load against materialize-then-load.")
final class BenchMergeOnLoadCommand implements Callable<Integer> {

    @Option(names = "--aligned", description = "aligned model (default: the demo's models/toy/aligned)")
    String aligned;

    @Option(names = "--finetuned", description = "fine-tuned model (default: the demo's models/toy/finetuned)")
    String finetuned;

    @Option(names = "--methods", split = ",", description = "default: linear,slerp,ties,dare_linear")
    List<String> methods = List.of("linear", "slerp", "ties", "dare_linear");

    @Option(names = "--ratio", description = "merge ratio (default ${DEFAULT-VALUE})")
    double ratio = 0.5;

    @Option(names = "--work", required = true, description = "scratch directory")
    Path work;

    @Override
    public Integer call() throws IOException {
        Path root = aligned == null || finetuned == null ? DemoCommand.findRoot() : null;
        String a = aligned != null ? aligned : root.resolve("models/toy/aligned").toString();
        String f = finetuned != null ? finetuned : root.resolve("models/toy/finetuned").toString();
        List<MergeOnLoadBenchmark.Row> rows = MergeOnLoadBenchmark.run(a, f, methods, ratio, work, new Configuration());
        System.out.printf("%-30s %14s %16s %14s%n", "point", "on-load s", "materialized s", "bytes written");
        for (MergeOnLoadBenchmark.Row r : rows) {
            System.out.printf("%-30s %14.3f %16.3f %,14d%n", r.point(), r.onLoadSeconds(), r.materializedSeconds(),
                    r.bytesWritten());
        }
        System.out.println("merge-on-load writes 0 bytes per point");
        return MergevalCli.EXIT_OK;
    }
}
