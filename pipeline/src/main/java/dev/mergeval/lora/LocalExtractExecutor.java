package dev.mergeval.lora;

import dev.mergeval.common.Parallel;
import dev.mergeval.common.Progress;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;

/** The single-JVM path: tasks on a fixed pool of threads in this process. */
public final class LocalExtractExecutor implements ExtractExecutor {

    private final int threads;
    private final Configuration conf;
    private final Progress progress;

    public LocalExtractExecutor(int threads, Configuration conf, Progress progress) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.conf = conf;
        this.progress = progress;
    }

    @Override
    public List<DeltaResult> run(ExtractionPlan plan) {
        progress.start("extract-lora", plan.tasks().size());
        try {
            return Parallel.map(IntStream.range(0, plan.tasks().size()).boxed().toList(), threads, i -> {
                DeltaResult r = DeltaDecomposer.run(plan, i, conf);
                progress.advance(1);
                return r;
            });
        } finally {
            progress.finish();
        }
    }

    @Override
    public String describe() {
        return "threads(" + threads + ")";
    }
}
